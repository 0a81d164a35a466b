//! Compile-error (UI) tests of `#[backoff(...)]`.
//!
//! `tests/ui/pass/*.rs` must compile and run; `tests/ui/fail/*.rs` must fail to compile with
//! exactly the diagnostics in the `.stderr` next to each. After a deliberate change to a
//! diagnostic, refresh the snapshots with `TRYBUILD=overwrite cargo test --all-features --test ui` and review
//! the diff before committing. The snapshots are recorded with every feature on (the README's
//! test command, `cargo test --workspace --all-features`): rustc spells some type names in
//! full when the `redis` feature brings more of them into the crate graph.

#[test]
#[cfg_attr(
    not(feature = "redis"),
    ignore = "UI snapshots are recorded with --all-features"
)]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
