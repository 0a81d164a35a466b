//! What each feature adds is discoverable: the crate docs list every feature of the manifest,
//! every public item or impl gated on a feature is marked with it for the API docs
//! (`#[cfg_attr(docsrs, doc(cfg(feature = "...")))]`, shown by docs.rs), and docs.rs builds
//! with every feature and `--cfg docsrs`. The sources are read as text: rendering the marks
//! takes a nightly rustdoc, which CI does not use.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Modules gated on a feature whose items the docs do not show (reached only through the
/// hidden `__private` module).
const HIDDEN_MODULES: &[&str] = &["http_shown"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The feature names of `Cargo.toml`'s `[features]` table, `default` left out.
fn features(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[features]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty() && !k.starts_with('#') && k != "default")
        .collect()
}

/// The feature of a `#[cfg(feature = "x")]` line.
fn gate(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("#[cfg(feature = \"")?
        .strip_suffix("\")]")
}

fn mark(feature: &str) -> String {
    format!("#[cfg_attr(docsrs, doc(cfg(feature = \"{feature}\")))]")
}

/// Whether the attribute block around line `at` (the attributes and doc comments above and
/// below it, up to the item) carries `feature`'s mark.
fn marked(lines: &[&str], at: usize, feature: &str) -> bool {
    let attr = |l: &str| {
        let l = l.trim_start();
        l.starts_with("#[") || l.starts_with("//") || l.starts_with("#![")
    };
    let first = (0..at)
        .rev()
        .take_while(|&i| attr(lines[i]))
        .last()
        .unwrap_or(at);
    let last = (at..lines.len())
        .take_while(|&i| attr(lines[i]))
        .last()
        .unwrap_or(at);
    lines[first..=last]
        .iter()
        .any(|l| l.trim() == mark(feature))
}

/// The item line after the attribute block that starts at `at`.
fn item_after<'a>(lines: &[&'a str], at: usize) -> Option<&'a str> {
    lines[at..]
        .iter()
        .map(|l| l.trim())
        .find(|l| !(l.starts_with("#[") || l.starts_with("//")))
}

/// Whether an item line is one the docs show: a `pub` item (not `pub(crate)`) or an impl.
fn documented(item: &str) -> bool {
    (item.starts_with("pub ") || item.starts_with("impl")) && !item.starts_with("pub(")
}

#[test]
fn every_item_gated_on_a_feature_is_marked_with_it() {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    files.sort();
    // Modules gated as a whole, in any file: `#[cfg(feature = "x")] mod name;`.
    let sources: Vec<String> = files.iter().map(|p| read(p)).collect();
    let gated_modules: Vec<(String, String)> = sources
        .iter()
        .flat_map(|text| {
            let lines: Vec<&str> = text.lines().collect();
            lines
                .windows(2)
                .filter_map(|w| {
                    let feature = gate(w[0])?;
                    let decl = w[1].trim();
                    let name = decl
                        .strip_prefix("mod ")
                        .or_else(|| decl.strip_prefix("pub(crate) mod "))
                        .or_else(|| decl.strip_prefix("pub mod "))?
                        .strip_suffix(';')?;
                    Some((name.to_owned(), feature.to_owned()))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        gated_modules.iter().any(|(m, _)| m == "redis"),
        "{gated_modules:?}"
    );
    let src = Path::new(ROOT).join("src");
    let mut missing = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        // The expansion's helpers (the folder `__private/`) are hidden from the docs.
        if path
            .strip_prefix(&src)
            .is_ok_and(|p| p.starts_with("__private"))
        {
            continue;
        }
        let text = read(path);
        let lines: Vec<&str> = text.lines().collect();
        let twin = |item: &str, feature: &str| {
            // A `pub type` defined again without the feature exists either way.
            let head = item.split('=').next().unwrap_or(item).trim();
            let not = format!("#[cfg(not(feature = \"{feature}\"))]");
            item.starts_with("pub type ")
                && lines
                    .windows(2)
                    .any(|w| w[0].trim() == not && w[1].trim().starts_with(head))
        };
        // An item gated by its own `#[cfg(feature = ...)]`.
        for (i, line) in lines.iter().enumerate() {
            let Some(feature) = gate(line) else { continue };
            let Some(item) = item_after(&lines, i + 1) else {
                continue;
            };
            if documented(item) && !twin(item, feature) && !marked(&lines, i, feature) {
                missing.push(format!("{}:{}: {item}", path.display(), i + 1));
            }
        }
        // The shown items of a module gated as a whole: its `pub` items and the impls of
        // types that are not its own private ones.
        // In a module gated as a whole: the file is the module, or lies in its folder.
        let within = path.strip_prefix(&src).unwrap_or(path);
        let Some((_, feature)) = gated_modules.iter().find(|(m, _)| {
            m == name
                || within
                    .parent()
                    .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == m.as_str()))
        }) else {
            continue;
        };
        let feature = feature.as_str();
        if HIDDEN_MODULES.contains(&name) {
            continue;
        }
        let private: Vec<&str> = lines
            .iter()
            .filter_map(|l| {
                let rest = l
                    .strip_prefix("struct ")
                    .or_else(|| l.strip_prefix("enum "))
                    .or_else(|| l.strip_prefix("pub(crate) struct "))
                    .or_else(|| l.strip_prefix("pub(crate) enum "))
                    .or_else(|| l.strip_prefix("pub(super) struct "))
                    .or_else(|| l.strip_prefix("pub(super) enum "))?;
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
            })
            .collect();
        for (i, line) in lines.iter().enumerate() {
            if !documented(line) {
                continue;
            }
            // A re-export shows the item it names, marked where it is defined.
            if line.starts_with("pub use ") {
                continue;
            }
            let self_ty = line
                .trim_end_matches(" {")
                .rsplit([' ', ':'])
                .next()
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("");
            if line.starts_with("impl") && private.contains(&self_ty) {
                continue;
            }
            if !marked(&lines, i, feature) {
                missing.push(format!("{}:{}: {line}", path.display(), i + 1));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "gated on a feature but not marked `#[cfg_attr(docsrs, doc(cfg(feature = ...)))]`:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_crate_docs_list_every_feature_and_docs_rs_shows_them() {
    let manifest = read(&Path::new(ROOT).join("Cargo.toml"));
    let lib = read(&Path::new(ROOT).join("src/lib.rs"));
    let features = features(&manifest);
    assert_eq!(
        features,
        [
            "tokio",
            "http",
            "reqwest",
            "redis",
            "redis-tls",
            "reqwest-middleware",
            "tower"
        ]
    );
    let listed: Vec<&str> = lib
        .lines()
        .skip_while(|l| l.trim() != "//! # Features")
        .filter_map(|l| l.strip_prefix("//! - `")?.split('`').next())
        .collect();
    assert_eq!(listed, features, "the crate docs' `# Features` list");
    assert!(lib.contains("\n#![cfg_attr(docsrs, feature(doc_cfg))]\n"));
    let docs_rs = manifest
        .split("[package.metadata.docs.rs]")
        .nth(1)
        .expect("a [package.metadata.docs.rs] table");
    assert!(docs_rs.contains("\nall-features = true\n"), "{docs_rs}");
    assert!(
        docs_rs.contains("\nrustdoc-args = [\"--cfg\", \"docsrs\"]\n"),
        "{docs_rs}"
    );
}
