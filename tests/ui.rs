//! Compile-error (UI) tests of `#[backoff(...)]`.
//!
//! `tests/ui/pass/*.rs` must compile and run; `tests/ui/fail/*.rs` must fail to compile with
//! exactly the diagnostics in the `.stderr` next to each. After a deliberate change to a
//! diagnostic, refresh the snapshots with `TRYBUILD=overwrite cargo test --test ui` and review
//! the diff before committing.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
