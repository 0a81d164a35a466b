//! The stand-in's rate-limit fields and rate schedule, on the wire, on tokio's paused clock
//! (the bucket's clock): the exact fields for each `--rate-headers` mode after a known
//! sequence of requests, the client's parser reading them back, and the limit changing at
//! the scheduled instant.

mod common;

use std::time::{Duration, SystemTime};

use backoff_core::{Feedback, Quota};
use backoff_standin::{Config, Faults, RateHeaders, RateSchedule, StandIn, Stats};
use common::{APP, key, token};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::advance;

fn base() -> Config {
    Config {
        application_id: APP.to_owned(),
        public_key_pem: key().1.clone(),
        enforce_limit: true,
        rate: 1.0,
        burst: 1,
        retry_after: true,
        rate_headers: RateHeaders::Off,
        rate_schedule: RateSchedule::none(),
        faults: Faults::none(),
    }
}

async fn server(rate: f64, burst: u32, headers: RateHeaders, schedule: &str) -> StandIn {
    StandIn::start(Config {
        rate,
        burst,
        rate_headers: headers,
        rate_schedule: if schedule.is_empty() {
            RateSchedule::none()
        } else {
            schedule.parse().unwrap()
        },
        ..base()
    })
    .await
    .unwrap()
}

/// An answer: its status and its fields, names lowercased.
#[derive(Debug)]
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The rate-limit fields and `Retry-After`, in the order given.
    fn limit_fields(&self) -> Vec<(&str, &str)> {
        self.fields
            .iter()
            .filter(|(n, _)| n.contains("ratelimit") || n == "retry-after")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn feedback(&self) -> Feedback {
        Feedback::from_status(self.status, &self.fields, SystemTime::now())
    }
}

async fn raw(server: &StandIn, request: String) -> Answer {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let fields = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Answer {
        status,
        fields,
        body: body.to_owned(),
    }
}

/// One message request, its own idempotency key each time.
async fn send(server: &StandIn) -> Answer {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let body = json!({
        "from": { "type": "sms", "number": "447700900000" },
        "to": { "type": "sms", "number": "447700900001" },
        "message": { "content": { "type": "text", "text": "hi" } },
        "client_ref": format!("key-{n}"),
    })
    .to_string();
    raw(
        server,
        format!(
            "POST /v0.1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            token(),
            body.len()
        ),
    )
    .await
}

async fn stats_over_http(server: &StandIn) -> Stats {
    let answer = raw(
        server,
        "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned(),
    )
    .await;
    serde_json::from_str(&answer.body).unwrap()
}

const S: fn(u64) -> Option<Duration> = |s| Some(Duration::from_secs(s));

/// 1/s, burst 1: the first request takes the token (none left, the next in 1 s); the
/// immediate second is refused with `Retry-After: 1` and the same fields.
#[tokio::test(start_paused = true)]
async fn ietf_fields_at_one_per_second() {
    let server = server(1.0, 1, RateHeaders::Ietf, "").await;
    let first = send(&server).await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(
        first.limit_fields(),
        [
            ("ratelimit-policy", r#""default";q=1;w=1"#),
            ("ratelimit", r#""default";r=0;t=1"#),
        ]
    );
    let second = send(&server).await;
    assert_eq!(second.status, 429, "{second:?}");
    assert_eq!(
        second.limit_fields(),
        [
            ("retry-after", "1"),
            ("ratelimit-policy", r#""default";q=1;w=1"#),
            ("ratelimit", r#""default";r=0;t=1"#),
        ]
    );

    // The client's parser reads back exactly what was said.
    let f = first.feedback();
    assert!(!f.throttled);
    let one_per_second = Quota {
        count: 1,
        window: S(1),
    };
    assert_eq!(f.hints.limit, Some(one_per_second));
    assert_eq!((f.hints.remaining, f.hints.reset), (Some(0), S(1)));
    assert_eq!(f.hints.retry_after, None);
    let f = second.feedback();
    assert!(f.throttled);
    assert_eq!(f.hints.limit, Some(one_per_second));
    assert_eq!(f.hints.limit.unwrap().rate(), Some(1.0));
    assert_eq!(
        (f.hints.remaining, f.hints.reset, f.hints.retry_after),
        (Some(0), S(1), S(1))
    );

    advance(Duration::from_secs(1)).await;
    assert_eq!(send(&server).await.status, 202);
}

/// 0.5/s, burst 2: the quota is 1 per 2 s; `r` counts the tokens left, `t` the time to the
/// next one, rounded up.
#[tokio::test(start_paused = true)]
async fn ietf_fields_at_half_per_second_burst_two() {
    let server = server(0.5, 2, RateHeaders::Ietf, "").await;
    let expect = |status: u16, r: u64, t: u64, a: &Answer| {
        assert_eq!(a.status, status, "{a:?}");
        assert_eq!(a.get("ratelimit-policy"), Some(r#""default";q=1;w=2"#));
        assert_eq!(
            a.get("ratelimit"),
            Some(&*format!(r#""default";r={r};t={t}"#))
        );
        let f = a.feedback();
        let quota = f.hints.limit.unwrap();
        assert_eq!(
            (quota.count, quota.window, quota.rate()),
            (1, S(2), Some(0.5))
        );
        assert_eq!((f.hints.remaining, f.hints.reset), (Some(r), S(t)));
    };
    expect(202, 1, 2, &send(&server).await);
    expect(202, 0, 2, &send(&server).await);
    let refused = send(&server).await;
    expect(429, 0, 2, &refused);
    assert_eq!(refused.get("retry-after"), Some("2"));
    advance(Duration::from_millis(1500)).await;
    // Three quarters of a token: half a second to go, said as 1.
    let refused = send(&server).await;
    expect(429, 0, 1, &refused);
    assert_eq!(refused.get("retry-after"), Some("1"));
    advance(Duration::from_millis(500)).await;
    expect(202, 0, 2, &send(&server).await);
}

#[tokio::test(start_paused = true)]
async fn x_fields_at_one_per_second() {
    let server = server(1.0, 1, RateHeaders::X, "").await;
    let first = send(&server).await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(
        first.limit_fields(),
        [
            ("x-ratelimit-limit", "1"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ]
    );
    let second = send(&server).await;
    assert_eq!(second.status, 429, "{second:?}");
    assert_eq!(
        second.limit_fields(),
        [
            ("retry-after", "1"),
            ("x-ratelimit-limit", "1"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ]
    );
    let f = second.feedback();
    assert!(f.throttled);
    // `X-RateLimit-Limit` says no window.
    assert_eq!(
        f.hints.limit,
        Some(Quota {
            count: 1,
            window: None
        })
    );
    assert_eq!(
        (f.hints.remaining, f.hints.reset, f.hints.retry_after),
        (Some(0), S(1), S(1))
    );
}

/// Off (the default) says nothing but `Retry-After`; without `Retry-After` the fields stay.
#[tokio::test(start_paused = true)]
async fn off_says_nothing_and_fields_outlive_retry_after() {
    let server = server(1.0, 1, RateHeaders::Off, "").await;
    assert_eq!(send(&server).await.limit_fields(), []);
    let refused = send(&server).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.limit_fields(), [("retry-after", "1")]);
    assert_eq!(refused.feedback().hints.limit, None);

    let quiet = StandIn::start(Config {
        retry_after: false,
        rate_headers: RateHeaders::X,
        ..base()
    })
    .await
    .unwrap();
    send(&quiet).await;
    let refused = send(&quiet).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.get("retry-after"), None);
    assert_eq!(refused.get("x-ratelimit-reset"), Some("1"));
}

/// With no limit enforced (behind nginx), 1/s burst 1 and every rate-limit field asked for
/// are ignored: five requests at once all pass, with no field; nothing is throttled, and no
/// bucket records arrivals or limits.
#[tokio::test(start_paused = true)]
async fn no_limit_lets_everything_through() {
    let server = StandIn::start(Config {
        enforce_limit: false,
        rate_headers: RateHeaders::Ietf,
        ..base()
    })
    .await
    .unwrap();
    for _ in 0..5 {
        let answer = send(&server).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        assert_eq!(answer.limit_fields(), []);
    }
    let st = stats_over_http(&server).await;
    assert_eq!((st.requests, st.delivered, st.throttled), (5, 5, 0));
    assert_eq!((st.arrivals, st.limits), (vec![], vec![]));
}

/// `20:1` at 2/s: 2/s up to 20 s after the first request, 1/s from then on, the instant
/// exact and the bucket's tokens kept; `/stats` says when each request came, how it was
/// judged, and the limit then.
#[tokio::test(start_paused = true)]
async fn schedule_changes_the_limit_at_its_instant() {
    let server = server(2.0, 1, RateHeaders::Ietf, "20:1").await;
    // The schedule counts from the first request, not from the start.
    advance(Duration::from_secs(7)).await;
    for i in 0..40 {
        let a = send(&server).await;
        assert_eq!(a.status, 202, "request {i} at {} s: {a:?}", i as f64 * 0.5);
        assert_eq!(a.get("ratelimit-policy"), Some(r#""default";q=2;w=1"#));
        advance(Duration::from_millis(500)).await;
    }
    // 20 s: the token that came in at 2/s is there; from now on 1/s.
    let a = send(&server).await;
    assert_eq!(a.status, 202, "{a:?}");
    assert_eq!(a.get("ratelimit-policy"), Some(r#""default";q=1;w=1"#));
    assert_eq!(a.get("ratelimit"), Some(r#""default";r=0;t=1"#));
    let f = a.feedback();
    assert_eq!(f.hints.limit.unwrap().rate(), Some(1.0));
    // 20.5 s and a millisecond: 2/s would have a token, 1/s has half of one.
    advance(Duration::from_millis(501)).await;
    let a = send(&server).await;
    assert_eq!(a.status, 429, "{a:?}");
    assert_eq!(a.get("retry-after"), Some("1"));
    assert_eq!(a.get("ratelimit"), Some(r#""default";r=0;t=1"#));
    advance(Duration::from_millis(499)).await;
    assert_eq!(send(&server).await.status, 202);

    let st = stats_over_http(&server).await;
    assert_eq!(st, server.stats());
    let limits: Vec<(f64, f64)> = st.limits.iter().map(|l| (l.from_s, l.rate)).collect();
    assert_eq!(limits, [(0.0, 2.0), (20.0, 1.0)]);
    let seen: Vec<(f64, u16, f64)> = st
        .arrivals
        .iter()
        .map(|a| (a.t_s, a.status, a.rate))
        .collect();
    assert_eq!(seen.len(), 43);
    let expect = |i: usize, t_s: f64, status: u16, rate: f64| {
        let (t, s, r) = seen[i];
        assert!(
            (t - t_s).abs() < 1e-9 && (s, r) == (status, rate),
            "{i}: {:?}",
            seen[i]
        );
    };
    for i in 0..40 {
        expect(i, i as f64 * 0.5, 202, 2.0);
    }
    expect(40, 20.0, 202, 1.0);
    expect(41, 20.501, 429, 1.0);
    expect(42, 21.0, 202, 1.0);
    assert_eq!((st.throttled, st.delivered), (1, 42));
}

/// Junk schedules and modes are usage errors of the `standin` binary (exit status 2, the
/// usage printed), not panics; the library refuses them the same way.
#[test]
fn junk_is_a_usage_error() {
    for args in [
        ["--rate-schedule", "20"],
        ["--rate-schedule", "20:x"],
        ["--rate-schedule", "20:0"],
        ["--rate-schedule", "20:1,10:2"],
        ["--rate-schedule", ""],
        ["--rate-headers", "ietf-09"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_standin"))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{args:?} was taken: the stand-in is serving");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("usage: standin"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!("10:1,5:2".parse::<RateSchedule>().is_err());
    assert!("ietf ".parse::<RateHeaders>().is_ok());
}
