//! What each feature adds is discoverable: the crate docs (the `//!` guide of `src/lib.rs`)
//! list every feature of the manifest, each re-export gated on a feature is marked with it
//! for the API docs (`doc(cfg)`, shown by docs.rs; the runtime's own items are checked in
//! `backoff-core/tests/doc_cfg.rs`), and docs.rs builds with every feature and `--cfg docsrs`.

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(file: &str) -> String {
    let path = Path::new(ROOT).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

/// The crate docs: the `//!` lines of `src/lib.rs`, markers stripped.
fn crate_docs() -> String {
    read("src/lib.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_crate_docs_list_every_feature() {
    let features = features(&read("Cargo.toml"));
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
    let docs = crate_docs();
    let section = docs
        .split("\n# Cargo features\n")
        .nth(1)
        .expect("a `# Cargo features` section in the crate docs")
        .split("\n# ")
        .next()
        .unwrap();
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .collect();
    assert_eq!(listed, features);
}

#[test]
fn gated_re_exports_are_marked_and_docs_rs_shows_them() {
    let lib = read("src/lib.rs");
    assert!(lib.contains("\n#![cfg_attr(docsrs, feature(doc_cfg))]\n"));
    let mut gated = 0;
    for file in [
        "src/lib.rs",
        "src/pace.rs",
        "src/hints.rs",
        "src/budget.rs",
        "src/middleware.rs",
    ] {
        let source = read(file);
        let lines: Vec<&str> = source.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(feature) = line
                .trim()
                .strip_prefix("#[cfg(feature = \"")
                .and_then(|l| l.strip_suffix("\")]"))
            else {
                continue;
            };
            gated += 1;
            let mark = format!("#[cfg_attr(docsrs, doc(cfg(feature = \"{feature}\")))]");
            assert_eq!(
                lines.get(i + 1).map(|l| l.trim()),
                Some(mark.as_str()),
                "{file}: {line}"
            );
        }
    }
    assert!(gated > 0);
    let manifest = read("Cargo.toml");
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
