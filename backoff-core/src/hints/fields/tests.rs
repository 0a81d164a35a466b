use super::*;
use crate::hints::Feedback;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn read(fields: &[(&str, &str)]) -> Hints {
    Hints::from_fields(fields, at(1_700_000_000))
}

fn q(count: u64, window: Option<u64>) -> Option<Quota> {
    Some(quota(count, window.map(Duration::from_secs)))
}

const S: fn(u64) -> Option<Duration> = |s| Some(Duration::from_secs(s));

#[test]
fn current_draft() {
    let h = read(&[
        ("RateLimit-Policy", r#""default";q=100;w=60"#),
        ("RateLimit", r#""default";r=50;t=30"#),
    ]);
    assert_eq!(h.limit, q(100, Some(60)));
    assert_eq!((h.remaining, h.reset), (Some(50), S(30)));
    assert_eq!(h.limit.unwrap().rate(), Some(100.0 / 60.0));
}

/// Several policies: the smallest sustained rate and the tightest service limit win.
#[test]
fn most_restrictive_policy() {
    let h = read(&[
        (
            "RateLimit-Policy",
            r#""burst";q=100;w=60, "daily";q=1000;w=86400"#,
        ),
        ("RateLimit", r#""burst";r=90;t=40, "daily";r=10;t=3600"#),
    ]);
    assert_eq!(h.limit, q(1000, Some(86400)));
    assert_eq!((h.remaining, h.reset), (Some(10), S(3600)));
}

/// A field split over two lines is one list.
#[test]
fn split_fields_join() {
    let h = read(&[
        ("ratelimit-policy", r#""permin";q=50;w=60"#),
        ("ratelimit-policy", r#""persec";q=2;w=1"#),
    ]);
    assert_eq!(h.limit, q(50, Some(60)));
}

#[test]
fn partition_keys_units_and_strings_with_separators() {
    let h = read(&[
        (
            "RateLimit-Policy",
            r#""bytes";q=65535;qu="content-bytes";w=10, "a,b;c";q=10;w=5;pk=:cHsdsRa894==:"#,
        ),
        (
            "RateLimit",
            r#""bytes";r=0;t=9, "a,b;c";r=3;t=2;pk=:cHsdsRa894==:"#,
        ),
    ]);
    // The content-bytes policy and its service limit are skipped.
    assert_eq!(h.limit, q(10, Some(5)));
    assert_eq!((h.remaining, h.reset), (Some(3), S(2)));
}

/// No window: the quota is known, its rate is not.
#[test]
fn policy_without_window() {
    let h = read(&[("RateLimit-Policy", r#""trial";q=999"#)]);
    assert_eq!(h.limit, q(999, None));
    assert_eq!(h.limit.unwrap().rate(), None);
}

#[test]
fn draft_07_and_older() {
    let h = read(&[
        ("RateLimit", "limit=100, remaining=50, reset=30"),
        ("RateLimit-Policy", "100;w=60"),
    ]);
    assert_eq!(h.limit, q(100, Some(60)));
    assert_eq!((h.remaining, h.reset), (Some(50), S(30)));

    let h = read(&[("RateLimit", "limit=10, remaining=0, reset=7")]);
    assert_eq!(h.limit, q(10, None));
    assert_eq!((h.remaining, h.reset), (Some(0), S(7)));

    let h = read(&[
        ("RateLimit-Limit", "10, 10;w=1, 50;w=60"),
        ("RateLimit-Remaining", "3"),
        ("RateLimit-Reset", "1700000005"), // drafts 00-06: always delay-seconds
    ]);
    assert_eq!(h.limit, q(10, Some(1)));
    assert_eq!((h.remaining, h.reset), (Some(3), S(1_700_000_005)));
    let h = read(&[("RateLimit-Limit", "10;w=1")]);
    assert_eq!(h.limit, q(10, Some(1)));
}

/// Delay-seconds, timestamps in seconds and milliseconds, HTTP-dates, fractions.
#[test]
fn x_ratelimit_reset_forms() {
    let reset = |v: &str| read(&[("X-RateLimit-Reset", v)]).reset;
    assert_eq!(reset("30"), S(30));
    assert_eq!(reset(" 0 "), S(0));
    assert_eq!(reset("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(reset("999999999"), S(999_999_999)); // just under 10^9: a delay
    assert_eq!(reset("1700000060"), S(60));
    assert_eq!(reset("1600000000"), S(0)); // in the past
    assert_eq!(reset("1700000060000"), S(60));
    assert_eq!(reset("1700000000.25"), Some(Duration::from_millis(250)));
    assert_eq!(reset("Tue, 14 Nov 2023 22:13:20 GMT"), S(0));
    assert_eq!(reset("Tue, 14 Nov 2023 22:14:20 GMT"), S(60));
    assert_eq!(reset("-5"), None);
    assert_eq!(reset("soon"), None);
    assert_eq!(reset("NaN"), None);
    assert_eq!(reset("inf"), None);
    assert_eq!(reset("1e300"), None);
}

#[test]
fn x_ratelimit_fields() {
    let h = read(&[
        ("X-RateLimit-Limit", "60"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "12"),
        ("Retry-After", "12"),
    ]);
    assert_eq!(h.limit, q(60, None));
    assert_eq!(
        (h.remaining, h.reset, h.retry_after),
        (Some(0), S(12), S(12))
    );
    let h = read(&[("X-Rate-Limit-Remaining", "7")]);
    assert_eq!(h.remaining, Some(7));
}

/// The draft's fields win over the older ones, value by value.
#[test]
fn precedence() {
    let h = read(&[
        ("X-RateLimit-Limit", "1"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", "1"),
        ("RateLimit-Remaining", "2"),
        ("RateLimit", r#""p";r=3"#),
        ("RateLimit-Policy", r#""p";q=4;w=4"#),
    ]);
    assert_eq!(h.limit, q(4, Some(4)));
    assert_eq!((h.remaining, h.reset), (Some(3), S(1)));
}

/// Malformed members are skipped; the rest still counts.
#[test]
fn junk() {
    let h = read(&[
        (
            "RateLimit-Policy",
            r#""neg";q=-1;w=60, "nan";q=abc, "ok";q=6;w=3, "unterminated;q=5;w=5"#,
        ),
        ("RateLimit", r#""x";t=5, "y";r=?1, ;;, "z";r=4;t=-2"#),
        ("X-RateLimit-Limit", "lots"),
        ("Retry-After", "later"),
    ]);
    assert_eq!(h.limit, q(6, Some(3)));
    assert_eq!((h.remaining, h.reset), (Some(4), None));
    assert_eq!(h.retry_after, None);
    assert_eq!(read(&[("RateLimit", "")]), Hints::default());
    assert_eq!(
        read(&[("RateLimit-Policy", r#""zero";q=5;w=0"#)]).limit,
        q(5, None)
    );
    assert_eq!(
        read(&[("X-RateLimit-Remaining", "99999999999999999999999")]).remaining,
        None
    );
}

#[test]
fn statuses() {
    let now = at(0);
    let none: [(&str, &str); 0] = [];
    let ra = [("Retry-After", "5")];
    let spent = [("X-RateLimit-Remaining", "0")];
    assert!(Feedback::from_status(429, &none, now).throttled);
    assert!(!Feedback::from_status(503, &none, now).throttled);
    assert!(Feedback::from_status(503, &ra, now).throttled);
    assert!(!Feedback::from_status(403, &none, now).throttled);
    assert!(Feedback::from_status(403, &spent, now).throttled);
    assert!(!Feedback::from_status(200, &spent, now).throttled);
    assert!(!Feedback::from_status(500, &ra, now).throttled);
}

#[cfg(feature = "http")]
#[test]
fn from_http_headers() {
    let mut headers = http::HeaderMap::new();
    headers.insert("ratelimit-policy", r#""d";q=1;w=1"#.parse().unwrap());
    headers.insert("ratelimit", r#""d";r=0;t=1"#.parse().unwrap());
    headers.insert("retry-after", "1".parse().unwrap());
    headers.insert(
        "x-ratelimit-limit",
        http::HeaderValue::from_bytes(b"\xff").unwrap(),
    );
    let f = Feedback::from_http(http::StatusCode::TOO_MANY_REQUESTS, &headers);
    assert!(f.throttled);
    assert_eq!(f.hints.limit, q(1, Some(1)));
    assert_eq!((f.hints.remaining, f.hints.reset), (Some(0), S(1)));
    assert_eq!(f.hints.retry_after, S(1));
    let response = http::Response::builder()
        .status(200)
        .header("x-ratelimit-remaining", "3")
        .body(())
        .unwrap();
    assert_eq!(
        crate::hints::RateFeedback::feedback(&response)
            .hints
            .remaining,
        Some(3)
    );
    assert!(!crate::hints::RateFeedback::feedback(&response).throttled);
}
