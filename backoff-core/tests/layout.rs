//! The layout of `backoff-core/src`: no file over [`MAX_LINES`] lines, and no circle in the
//! graph of which file uses which.
//!
//! # What the graph counts
//!
//! A node is a `.rs` file under `src/`. An edge goes from file `F` to the file that defines
//! the module a path in `F` names, for every path that starts with `crate::`, `super::`,
//! `self::` or the name of a child module of the module at that place in `F` (`use gcra::Gcra`
//! in `pace/mod.rs`), in a `use` (each leaf of a `use a::{b, c::d}` tree) or anywhere else in
//! the code (`crate::pace::lock(..)`, `super::Link`). The path is followed as long as it names
//! modules: `crate::pace::redis::fixed::Link` names `pace/redis/fixed.rs`, `crate::pace::Pacer`
//! and `super::Pacer` (seen from a child of `pace`) name `pace/mod.rs`, whether `Pacer` is
//! defined there or only re-exported there. A module is `a/b.rs` or `a/b/mod.rs`, or an inline
//! `mod b { .. }` (which belongs to the file it is written in). `super::` inside an inline
//! module is resolved from that module. A reference to the file itself is no edge.
//!
//! Not counted:
//!
//! - `mod b;` declarations: declaring a child is not using it;
//! - items under a `#[cfg(..)]` that needs `test` (inline `mod tests { .. }`, and whole files
//!   declared `#[cfg(test)] mod tests;`): tests may use anything, and nothing uses them;
//! - comments, doc comments (intra-doc links are not dependencies) and string literals;
//! - `pub(in crate::a)` visibility paths;
//! - method calls (`pacer.reserve(..)`): only paths are seen, so an `impl` of a type in
//!   another file (`impl Pacer` in `pace/reservation.rs`) is an edge from that file to the
//!   type's, not back;
//! - paths into other crates (`std::`, `redis::`, `tokio::`...) and through macros' `$crate`.
//!
//! Every `cfg(feature = ..)` is counted: the graph is that of `--all-features`.
//!
//! A circle fails the test with the files on it, each with the reference that makes the edge.
//! `LAYOUT_EDGES=1 cargo test -p backoff-core --test layout` prints every edge.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

/// No source file is longer than this.
const MAX_LINES: usize = 600;

/// A token of Rust source, comments and literals removed.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Tokens with the line each starts on.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&c, i) {
            line += c[i..end].iter().filter(|&&x| x == '\n').count();
            i = end;
        } else if ch == '"' || (ch == 'b' && c.get(i + 1) == Some(&'"')) {
            i += if ch == 'b' { 2 } else { 1 };
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if c.get(i) == Some(&'\n') {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if ch == '\'' {
            // A char literal ('a', '\n', '\u{..}') or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let mut word: String = c[start..i].iter().collect();
            if word == "r" && c.get(i) == Some(&'#') {
                // A raw identifier: `r#type`.
                i += 1;
                let s = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                word = c[s..i].iter().collect();
            }
            out.push((Tok::Ident(word), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Where a raw string (`r"..."`, `r#"..."#`, `br".."`) starting at `i` ends.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    loop {
        if j >= c.len() {
            return Some(j);
        }
        if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
}

/// A source file and its module path (`["pace", "redis", "fixed"]`).
struct File {
    rel: String,
    module: Vec<String>,
    toks: Vec<(Tok, usize)>,
    lines: usize,
}

fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    if last != "mod.rs" && last != "lib.rs" {
        parts.push(last.trim_end_matches(".rs").to_owned());
    }
    parts
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What the walk over one file finds.
#[derive(Default)]
struct Found {
    /// Inline modules (full path), non-test.
    inline: Vec<Vec<String>>,
    /// File modules declared under `#[cfg(test)]` (full path).
    test_files: Vec<Vec<String>>,
    /// Paths used: (module the path is written in, segments, line).
    paths: Vec<(Vec<String>, Vec<String>, usize)>,
}

/// Whether the tokens at `i` are a `#[cfg(..)]` that needs `test` (`#[cfg(test)]`,
/// `#[cfg(all(test, ..))]`); the index after it if so.
fn cfg_test(t: &[(Tok, usize)], i: usize) -> Option<usize> {
    let head = [Tok::Punct('#'), Tok::Punct('['), Tok::Ident("cfg".into())];
    if t.len() < i + head.len() || !head.iter().zip(&t[i..]).all(|(w, (g, _))| w == g) {
        return None;
    }
    let end = skip_group(t, i + 1);
    let inner = &t[i + 3..end];
    let has = |w: &str| inner.iter().any(|(k, _)| *k == Tok::Ident(w.into()));
    (has("test") && !has("not") && !has("any")).then_some(end)
}

/// The index just past the item starting at `i` (its attributes first).
fn skip_item(t: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < t.len() {
        match &t[i].0 {
            Tok::Punct('{' | '(' | '[') => depth += 1,
            Tok::Punct(')' | ']') => depth -= 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            Tok::Punct(';') if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index just past the bracketed group opening at `i`.
fn skip_group(t: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < t.len() {
        match &t[i].0 {
            Tok::Punct('{' | '(' | '[') => depth += 1,
            Tok::Punct('}' | ')' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

fn ident(t: &[(Tok, usize)], i: usize) -> Option<&str> {
    match t.get(i) {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

/// Parses a `use` tree at `i` under `prefix`, pushing each leaf's path; the index after it.
fn use_tree(
    t: &[(Tok, usize)],
    mut i: usize,
    prefix: &[String],
    leaves: &mut Vec<(Vec<String>, usize)>,
) -> usize {
    let mut path = prefix.to_vec();
    if t.get(i).is_some_and(|(k, _)| *k == Tok::Path) {
        i += 1; // `use ::std::..`: a leading `::`
    }
    loop {
        match t.get(i) {
            Some((Tok::Ident(s), line)) => {
                if s != "self" || path.is_empty() {
                    path.push(s.clone());
                }
                i += 1;
                if t.get(i).is_some_and(|(k, _)| *k == Tok::Path) {
                    i += 1;
                    continue;
                }
                if ident(t, i) == Some("as") {
                    i += 2;
                }
                leaves.push((path, *line));
                return i;
            }
            Some((Tok::Punct('*'), line)) => {
                leaves.push((path, *line));
                return i + 1;
            }
            Some((Tok::Punct('{'), _)) => {
                i += 1;
                while !matches!(t.get(i), Some((Tok::Punct('}'), _)) | None) {
                    i = use_tree(t, i, &path, leaves);
                    if matches!(t.get(i), Some((Tok::Punct(','), _))) {
                        i += 1;
                    }
                }
                return i + 1;
            }
            _ => return i,
        }
    }
}

/// Walks one file: inline modules, test-only items, and the paths used where.
fn scan(file: &File, modules: &BTreeSet<Vec<String>>) -> Found {
    let t = &file.toks;
    let mut found = Found::default();
    // The inline modules open at this point, with the brace depth each closes at.
    let mut stack: Vec<(Vec<String>, i32)> = vec![(file.module.clone(), 0)];
    let mut depth = 0i32;
    let mut i = 0;
    while i < t.len() {
        let here = stack.last().expect("the file's module").0.clone();
        if let Some(after) = cfg_test(t, i) {
            // `#[cfg(test)] mod name;`: the file `name` is test-only.
            let mut j = after;
            while matches!(t.get(j), Some((Tok::Punct('#'), _))) {
                j = skip_group(t, j + 1); // another attribute: `#[..]`
            }
            if ident(t, j) == Some("pub") {
                j += 1;
                if matches!(t.get(j), Some((Tok::Punct('('), _))) {
                    j = skip_group(t, j);
                }
            }
            if ident(t, j) == Some("mod")
                && let Some(name) = ident(t, j + 1)
                && matches!(t.get(j + 2), Some((Tok::Punct(';'), _)))
            {
                let mut m = here.clone();
                m.push(name.to_owned());
                found.test_files.push(m);
            }
            i = skip_item(t, after);
            continue;
        }
        match &t[i].0 {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                depth -= 1;
                if stack.len() > 1 && stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                }
                i += 1;
            }
            Tok::Ident(k) if k == "mod" => {
                if let Some(name) = ident(t, i + 1)
                    && matches!(t.get(i + 2), Some((Tok::Punct('{'), _)))
                {
                    let mut m = here.clone();
                    m.push(name.to_owned());
                    found.inline.push(m.clone());
                    stack.push((m, depth));
                    depth += 1;
                    i += 3;
                } else {
                    i += 2;
                }
            }
            Tok::Ident(k) if k == "use" => {
                let mut leaves = Vec::new();
                i = use_tree(t, i + 1, &[], &mut leaves);
                for (path, line) in leaves {
                    if is_local(&path[0], &here, modules) {
                        found.paths.push((here.clone(), path, line));
                    }
                }
            }
            Tok::Ident(first) => {
                let after_path = i > 0 && t[i - 1].0 == Tok::Path;
                let dollar = i > 0 && t[i - 1].0 == Tok::Punct('$');
                // `pub(in crate::pace)` restricts visibility; it uses nothing.
                let visibility = i > 1 && ident(t, i - 1) == Some("in");
                if !after_path
                    && !dollar
                    && !visibility
                    && t.get(i + 1).is_some_and(|(k, _)| *k == Tok::Path)
                    && is_local(first, &here, modules)
                {
                    let line = t[i].1;
                    let mut path = vec![first.clone()];
                    let mut j = i + 1;
                    while t.get(j).is_some_and(|(k, _)| *k == Tok::Path) {
                        match ident(t, j + 1) {
                            Some(s) => path.push(s.to_owned()),
                            None => break,
                        }
                        j += 2;
                    }
                    found.paths.push((here.clone(), path, line));
                    i = j;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// Whether a path starting with `first`, written in module `here`, names this crate.
fn is_local(first: &str, here: &[String], modules: &BTreeSet<Vec<String>>) -> bool {
    matches!(first, "crate" | "super" | "self") || {
        let mut child = here.to_vec();
        child.push(first.to_owned());
        modules.contains(&child)
    }
}

/// The module a path written in `here` names: the longest run of module segments.
fn resolve(
    here: &[String],
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut m = here.to_vec();
    let mut segs = path.iter().peekable();
    match segs.peek().map(|s| s.as_str()) {
        Some("crate") => {
            m.clear();
            segs.next();
        }
        Some("self") => {
            segs.next();
        }
        Some("super") => {
            while segs.peek().is_some_and(|s| *s == "super") {
                m.pop()?;
                segs.next();
            }
        }
        _ => {}
    }
    for s in segs {
        let mut next = m.clone();
        next.push(s.clone());
        if modules.contains(&next) {
            m = next;
        } else {
            break;
        }
    }
    Some(m)
}

#[test]
fn no_long_files_and_no_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    walk(&src, &mut paths);
    paths.sort();
    let files: Vec<File> = paths
        .iter()
        .map(|p| {
            let text = fs::read_to_string(p).expect("read a source file");
            let rel = p.strip_prefix(&src).expect("under src");
            File {
                rel: rel.to_string_lossy().replace('\\', "/"),
                module: module_of(rel),
                toks: tokenize(&text),
                lines: text.lines().count(),
            }
        })
        .collect();

    let long: Vec<String> = files
        .iter()
        .filter(|f| f.lines > MAX_LINES)
        .map(|f| format!("{} ({} lines)", f.rel, f.lines))
        .collect();

    // Every module, and the file that holds it: files first, then inline modules.
    let mut file_of: BTreeMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let mut modules: BTreeSet<Vec<String>> = file_of.keys().cloned().collect();
    let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        let found = scan(f, &modules);
        for m in found.inline {
            file_of.entry(m).or_insert(i);
        }
        test_only.extend(found.test_files);
    }
    modules.extend(file_of.keys().cloned());
    let test_file = |m: &[String]| test_only.iter().any(|t| m.starts_with(t));

    // Edges, each with the first reference that makes it.
    let mut edges: BTreeMap<usize, BTreeMap<usize, String>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        if test_file(&f.module) {
            continue;
        }
        for (here, path, line) in scan(f, &modules).paths {
            let Some(target) = resolve(&here, &path, &modules) else {
                continue;
            };
            let j = file_of[&target];
            if j != i && !test_file(&files[j].module) {
                edges
                    .entry(i)
                    .or_default()
                    .entry(j)
                    .or_insert_with(|| format!("{}:{line}: {}", f.rel, path.join("::")));
            }
        }
    }

    if std::env::var_os("LAYOUT_EDGES").is_some() {
        for (a, m) in &edges {
            for (b, why) in m {
                eprintln!("{} -> {}   ({why})", files[*a].rel, files[*b].rel);
            }
        }
    }
    let cycles = circles(files.len(), &edges);
    let mut report = String::new();
    if !long.is_empty() {
        report += &format!(
            "files over {MAX_LINES} lines (split them along their concerns):\n  {}\n",
            long.join("\n  ")
        );
    }
    for (comp, cycle) in &cycles {
        let mut names: Vec<&str> = comp.iter().map(|&v| files[v].rel.as_str()).collect();
        names.sort_unstable();
        report += &format!(
            "{} files use each other in circles: {}\none circle:\n",
            names.len(),
            names.join(", ")
        );
        for w in cycle.windows(2) {
            report += &format!(
                "  {} -> {}   ({})\n",
                files[w[0]].rel, files[w[1]].rel, edges[&w[0]][&w[1]]
            );
        }
    }
    assert!(report.is_empty(), "\n{report}");
}

/// Each strongly connected component of more than one file, with one circle in it (its first
/// file repeated last).
type Circles = Vec<(Vec<usize>, Vec<usize>)>;

fn circles(n: usize, edges: &BTreeMap<usize, BTreeMap<usize, String>>) -> Circles {
    let next = |v: usize| -> Vec<usize> {
        edges
            .get(&v)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    };
    // Tarjan's algorithm, iterative.
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k == 0 && index[v] == usize::MAX {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            let succ = next(v);
            if let Some(&w) = succ.get(*k) {
                *k += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(u, _)) = work.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().expect("on the stack");
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        comps.push(comp);
                    }
                }
            }
        }
    }
    // A shortest circle through the first file of each component, by breadth-first search.
    comps
        .into_iter()
        .map(|comp| {
            let inside: BTreeSet<usize> = comp.iter().copied().collect();
            let start = *comp.iter().min().expect("not empty");
            let mut from: HashMap<usize, usize> = HashMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            'search: while let Some(v) = queue.pop_front() {
                for w in next(v) {
                    if !inside.contains(&w) {
                        continue;
                    }
                    if w == start {
                        from.insert(start, v);
                        break 'search;
                    }
                    if let std::collections::hash_map::Entry::Vacant(e) = from.entry(w) {
                        e.insert(v);
                        queue.push_back(w);
                    }
                }
            }
            let mut cycle = vec![start];
            let mut v = from[&start];
            while v != start {
                cycle.push(v);
                v = from[&v];
            }
            cycle.push(start);
            cycle.reverse();
            (comp, cycle)
        })
        .collect()
}

/// One name per type: no two public or crate-visible (`pub`, `pub(crate)`, `pub(super)`)
/// structs, enums, traits, unions or type aliases of the crate share a name, so a name met in
/// one file means one thing everywhere (associated types and private helpers are left out). Declarations of one name in one file are one type under
/// different `cfg`s (`type Instant` with and without tokio) and count once; test files and
/// inline test modules (whose declarations start after a `mod tests` line) are left out.
#[test]
fn one_name_per_type() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    walk(&src, &mut paths);
    paths.sort();
    let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for path in &paths {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.ends_with("/tests.rs") {
            continue;
        }
        let text = fs::read_to_string(path).expect("read a source file");
        let mut names = std::collections::BTreeSet::new();
        for line in text.lines() {
            let line = line.trim_start();
            if line.starts_with("mod tests") {
                break;
            }
            let Some(rest) = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub(super) "))
                .or_else(|| line.strip_prefix("pub "))
            else {
                continue;
            };
            for kind in ["struct ", "enum ", "trait ", "union ", "type "] {
                if let Some(decl) = rest.strip_prefix(kind) {
                    let name: String = decl
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
            }
        }
        for name in names {
            seen.entry(name).or_default().push(rel.clone());
        }
    }
    let shared: Vec<String> = seen
        .iter()
        .filter(|(_, files)| files.len() > 1)
        .map(|(name, files)| format!("{name}: {}", files.join(", ")))
        .collect();
    assert!(
        shared.is_empty(),
        "types that share a name:\n{}",
        shared.join("\n")
    );
}
