//! Tests that need a server the machine may not have (Redis): they run when it is there; outside
//! CI they pass with one line on stderr that says how to run them; under `CI=true` they fail,
//! since CI must run them.

use std::io::Write;
use std::sync::Once;

/// Says why `test`'s tests do not run and how to run them (`how`): once per test binary on
/// stderr (past the harness's capture, so a plain run shows it), or, under `CI=true`, in a
/// panic.
pub fn skip(test: &str, why: &str, how: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}: under CI the {test} tests must run; {how}");
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "{test}: tests skipped ({why}); {how}");
    });
}

/// `REDIS_URL`, or `None` after [`skip`] when it is unset or empty.
pub fn redis_url(test: &str, how: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip(test, "REDIS_URL is not set", how);
            None
        }
    }
}

/// A budget name no other test (or earlier run) uses: `test-{name}-{pid}-{nanos}`.
pub fn fresh(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("test-{name}-{}-{nanos}", std::process::id())
}
