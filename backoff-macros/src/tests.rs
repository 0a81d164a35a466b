//! The macro never panics, whatever tokens it is given; its expansions of `tests/expand/*.rs`
//! match the checked-in `*.expanded.rs`.

use proptest::prelude::*;

/// Tokens besides the argument names: values, punctuation, delimiters.
const OTHER_WORDS: &[&str] = &[
    "full", "none", "error", "per", "second", "=", ",", "|", "(", ")", "[", "]", "{", "}", "0",
    "-1", "2.5", "\"x\"", "::", "&", "self", "async", "move", "_", "..", "?", "outcome", "vec",
    "!", "adaptive",
];

fn word(i: usize) -> &'static str {
    let args = crate::attr::ARGS;
    let i = i % (args.len() + OTHER_WORDS.len());
    args.get(i)
        .map(|a| a.name)
        .unwrap_or_else(|| OTHER_WORDS[i - args.len()])
}

const ITEMS: &[&str] = &[
    "async fn f() -> Result<u32, String> { Ok(1) }",
    "fn f(x: String) -> bool { x.is_empty() }",
    "fn f(self) -> Option<u8> { None }",
    "fn f(&mut self, v: &mut Vec<u8>) -> Option<&mut u8> { v.first_mut() }",
    "const fn f() -> u8 { 1 }",
    "extern \"C\" fn f() -> u8 { 1 }",
    "struct S;",
    "fn f();",
    "fn f() { }",
    "async fn f((a, b): (u8, u8), _: u8) -> impl Sized { a + b }",
    "fn",
    "",
    "#[backoff(expo)] fn f() -> bool { true }",
    "#[backoff(((] fn f() -> bool { true }",
];

/// The words, with delimiters balanced (an unmatched closer dropped, open ones closed at
/// the end) so that every case is a token stream rustc could pass.
fn tokens(words: &[usize]) -> String {
    let mut out = Vec::new();
    let mut open = Vec::new();
    for i in words {
        let w = word(*i);
        match w {
            "(" | "[" | "{" => open.push(match w {
                "(" => ")",
                "[" => "]",
                _ => "}",
            }),
            ")" | "]" | "}" => {
                if open.last() != Some(&w) {
                    continue;
                }
                open.pop();
            }
            _ => {}
        }
        out.push(w);
    }
    out.extend(open.into_iter().rev());
    out.join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn never_panics(args in proptest::collection::vec(any::<usize>(), 0..24), item in 0..ITEMS.len()) {
        let args = tokens(&args);
        // Unbalanced delimiters are not tokens at all: rustc never passes those.
        let (Ok(args), Ok(item)) = (args.parse::<proc_macro2::TokenStream>(), ITEMS[item].parse::<proc_macro2::TokenStream>()) else {
            return Ok(());
        };
        let out = crate::expand::expand(args, item.clone()).to_string();
        // Whatever happened, the user's item is still there (expanded or unchanged).
        if let Ok(syn::Item::Fn(f)) = syn::parse2::<syn::Item>(item) {
            prop_assert!(out.contains(&f.sig.ident.to_string()));
        }
    }
}

#[test]
fn an_error_re_emits_the_item_unchanged() {
    let item: proc_macro2::TokenStream = "fn keep_me() -> bool { true }".parse().unwrap();
    let out = crate::expand::expand("max_tries = 0".parse().unwrap(), item.clone()).to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.ends_with(&item.to_string()), "{out}");
}

/// Every argument of the table is in the reference on `backoff` (its `# Arguments` section,
/// which `politely` shows as its own), and the table names no other.
#[test]
fn docs_list_every_argument() {
    let lib = include_str!("lib.rs");
    let section = lib
        .split("\n/// # Arguments\n")
        .nth(1)
        .and_then(|s| s.split("\n/// # ").next())
        .expect("`backoff`'s docs have an `# Arguments` section");
    for arg in crate::attr::ARGS {
        assert!(
            section.contains(&format!("`{}", arg.name))
                || section.contains(&format!(", {}", arg.name))
                || section.contains(&format!("`{} ", arg.name)),
            "the reference on `backoff` does not list `{}`",
            arg.name
        );
    }
    // The table's first column names arguments only: each code span there that starts with a
    // word starts with an argument's name (`[<expr>, ...]` is a value).
    let mut rows = 0;
    for row in section.lines().filter_map(|l| l.strip_prefix("/// | `")) {
        rows += 1;
        let first = row.split(" | ").next().unwrap();
        for span in format!("`{first}").split('`').skip(1).step_by(2) {
            let name: String = span
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                name.is_empty() || crate::attr::ARGS.iter().any(|a| a.name == name),
                "the reference's table names `{name}` (in `{span}`), which is no argument"
            );
        }
    }
    assert!(rows >= 20, "the argument table is missing: {rows} rows");
}

/// `tests/expand/NAME.rs` expanded by [`crate::expand::expand`] and pretty-printed must equal
/// `tests/expand/NAME.expanded.rs`. `BLESS=1 cargo test -p backoff-macros` rewrites them;
/// read the diff before committing.
#[test]
fn expansions_match_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let bless = std::env::var_os("BLESS").is_some();
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|e| e.expect("readable dir").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !p.to_string_lossy().ends_with(".expanded.rs"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "the snapshots are missing: {inputs:?}");
    let mut stale = Vec::new();
    for input in inputs {
        let source = std::fs::read_to_string(&input).expect("readable input");
        let expanded = expand_file(&source);
        let snapshot = input.with_extension("expanded.rs");
        if bless {
            std::fs::write(&snapshot, &expanded).expect("writable snapshot");
        } else if std::fs::read_to_string(&snapshot).ok().as_deref() != Some(expanded.as_str()) {
            stale.push(snapshot.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "expansions changed; rerun with BLESS=1 and review: {stale:?}"
    );
}

/// The file with every `#[backoff]` fn (free or in an impl) replaced by its expansion.
fn expand_file(source: &str) -> String {
    use quote::ToTokens;
    let mut file = syn::parse_file(source).expect("input parses");
    fn take_backoff(attrs: &mut Vec<syn::Attribute>) -> Option<proc_macro2::TokenStream> {
        let i = attrs.iter().position(|a| a.path().is_ident("backoff"))?;
        let attr = attrs.remove(i);
        Some(match attr.meta {
            syn::Meta::List(list) => list.tokens,
            _ => proc_macro2::TokenStream::new(),
        })
    }
    for item in &mut file.items {
        match item {
            syn::Item::Fn(f) => {
                if let Some(args) = take_backoff(&mut f.attrs) {
                    let out = crate::expand::expand(args, f.to_token_stream());
                    *f = syn::parse2(out).expect("expansion parses as a fn");
                }
            }
            syn::Item::Impl(imp) => {
                for it in &mut imp.items {
                    if let syn::ImplItem::Fn(f) = it
                        && let Some(args) = take_backoff(&mut f.attrs)
                    {
                        let out = crate::expand::expand(args, f.to_token_stream());
                        *f = syn::parse2(out).expect("expansion parses as a method");
                    }
                }
            }
            _ => {}
        }
    }
    prettyplease::unparse(&file)
}

/// Whether `#[backoff(args)]` on an async fn is rejected with a message containing `needle`.
fn rejects(args: &str, needle: &str) -> bool {
    let item = "async fn f() -> Result<(), ()> { Ok(()) }".parse().unwrap();
    let out = crate::expand::expand(args.parse().unwrap(), item).to_string();
    out.contains("compile_error") && out.contains(needle)
}

/// A pacer made in `pacer = ...` is made per call and paces nothing: every constructor,
/// written any way, is an error; a pacer kept elsewhere (or made once by a longer-lived
/// value) is not.
#[test]
fn a_pacer_made_per_call_is_an_error() {
    let made = [
        "Pacer::per_second(2.0)",
        "&Pacer::per_second(2.0)",
        "Pacer::new(2.0, 1)",
        "Pacer::with_burst(2.0, 1, 2)",
        "Pacer::adaptive()",
        "Pacer::adaptive_with(politely::AdaptiveRate::new().floor(1.0))",
        "politely::Pacer::per_second(2.0)",
        "::politely::Pacer::new(2.0, 1)",
        "politely::Pacer::with_burst(2.0, 1, 2)",
        "Pacer::redis(\"redis://h/\", \"sms\", 2.0, 2).unwrap()",
        "Pacer::redis(&url, \"sms\", 2.0, 2)?",
        "Pacer::redis_adaptive(\"redis://h/\", \"sms\").expect(\"url\")",
        "RedisPacerBuilder::new(client, \"sms\", 2.0, 1).burst(2).build()",
        "politely::RedisPacerBuilder::adaptive(c, \"sms\", AdaptiveRate::new()).build()",
        "&Arc::new(Pacer::per_second(2.0))",
        "std::sync::Arc::new(Pacer::per_second(2.0))",
        "&*LazyLock::new(|| Pacer::per_second(2.0))",
        "{ let rate = 2.0; Pacer::per_second(rate) }",
        "if fast { Pacer::per_second(9.0) } else { Pacer::per_second(1.0) }",
        "match mode { Mode::Fast => &FAST, _ => &Pacer::adaptive() }",
    ];
    for pacer in made {
        assert!(
            rejects(
                &format!("expo, pacer = {pacer}"),
                "makes a new pacer for every call"
            ),
            "`pacer = {pacer}` was accepted"
        );
    }
    let kept = [
        "self.pacer",
        "&self.pacer",
        "&*PACER",
        "PACER",
        "pacers.get_or_init(|| Pacer::per_second(2.0))",
        "self.pacers.entry(key).or_insert_with(|| Pacer::new(2.0, 1))",
        "Pacer::unlimited()",
        "client.pacer()",
        "&MyPacer::shared()",
    ];
    for pacer in kept {
        assert!(
            !rejects(&format!("expo, pacer = {pacer}"), "makes a new pacer"),
            "`pacer = {pacer}` was rejected"
        );
    }
}

/// The message names the constructor as written and what to write instead.
#[test]
fn a_pacer_made_per_call_says_where_to_keep_it() {
    assert!(rejects(
        "expo, pacer = Pacer::per_second(2.0)",
        "`pacer = Pacer::per_second(..)` makes a new pacer"
    ));
    assert!(rejects(
        "expo, pacer = Pacer::per_second(2.0)",
        "`rate = N per second`"
    ));
    assert!(rejects(
        "expo, pacer = Pacer::adaptive()",
        "`rate = adaptive`"
    ));
    assert!(!rejects(
        "expo, pacer = Pacer::redis(u, \"n\", 1.0, 1).unwrap()",
        "`rate ="
    ));
    assert!(rejects(
        "expo, pacer = Pacer::redis(u, \"n\", 1.0, 1).unwrap()",
        "`pacer = &self.pacer`"
    ));
}

/// Every form of `on = ...` is listed where a wrong one is reported.
#[test]
fn on_errors_list_every_form() {
    for args in ["expo, on = exception", "expo, on"] {
        for (form, _) in crate::attr::ON_FORMS {
            assert!(
                rejects(args, &format!("`on = {form}`")),
                "`{args}` does not list `on = {form}`"
            );
        }
    }
}
