//! The client as the example builds it, against a limiter nobody here wrote: nginx's
//! `limit_req` (`backoff_standin::nginx`: its own nginx on a free loopback port, one limit for
//! every client, `limit_req_status 429`) in front of a stand-in that enforces no limit. nginx
//! sends no `Retry-After`, counts every request of its location and judges each to the
//! millisecond; with no burst, at 10r/s, a request less than 100 ms after the last one it let
//! through is refused.
//!
//! 20 messages fired at once, on the real clock (1.9 s at best), each batch checked three
//! ways: the client's summary, the stand-in's own counts (every message delivered exactly
//! once) and nginx's access log (a line per request, with when it came and its status).
//! - Told the rate ([`Pacing::To`] 10/s): no request is refused, with no burst and with
//!   `burst=5 nodelay` (which the pacer, burst 1, does not use).
//! - Backoff only ([`Pacing::Off`]): refusals, none with `Retry-After`, and still every
//!   message delivered exactly once.
//!
//! Each takes [`alone`]: pacing is judged to the millisecond, and the backoff-only batch keeps
//! a CPU busy. Without nginx they pass with one "skipped" line, except under CI (`CI=true`).

use std::sync::Arc;
use std::time::Duration;

use backoff_standin::StandIn;
use backoff_standin::nginx::{self, LimitReq, Logged, Nginx};

use super::{alone, key, numbers, send, settings, standin_config};
use crate::batch::Summary;
use crate::client::{Pacing, SmsClient};

/// Messages in a batch, fired at once.
const N: usize = 20;

/// A stand-in that enforces no limit, and nginx with `limit` in front of it; `None` (after
/// one line saying how to run these tests) when there is no nginx.
async fn behind_nginx(limit: LimitReq) -> Option<(StandIn, Nginx)> {
    let server = StandIn::start(backoff_standin::Config {
        enforce_limit: false,
        ..standin_config(1.0, 1, true)
    })
    .await
    .unwrap();
    let nginx = nginx::start_for_test(server.addr(), limit)?;
    Some((server, nginx))
}

/// What one batch did, seen from the client, the stand-in and nginx.
struct Run {
    summary: Summary,
    report: String,
}

/// Sends `N` messages fired at once through nginx and checks what holds for any batch: every
/// message delivered exactly once; every attempt in nginx's log, each 429 the client counted
/// refused there, every other one passed on to the stand-in.
async fn batch(server: &StandIn, nginx: &Nginx, client: &Arc<SmsClient>) -> Run {
    let (deliveries, summary) = send(Some(server), client, &numbers(N)).await;
    let standin = server.stats();
    let log = nginx
        .wait_for_requests(summary.attempts as usize, Duration::from_secs(5))
        .unwrap();
    let statuses = nginx::statuses(&log);
    let count = |status| statuses.get(&status).copied().unwrap_or(0) as u64;
    let mut came: Vec<&Logged> = log.iter().collect();
    came.sort_by(|a, b| a.at.total_cmp(&b.at));
    let gaps_ms: Vec<String> = came
        .windows(2)
        .map(|w| {
            let gap = (w[1].at - w[0].at) * 1e3;
            format!("{gap:.0}{}", if w[1].status == 429 { "(429)" } else { "" })
        })
        .collect();
    let report = format!(
        "{summary}\nstand-in: {standin:?}\nnginx {}: {statuses:?}; ms between requests: {}",
        nginx.limit(),
        gaps_ms.join(" ")
    );
    assert!(deliveries.iter().all(|d| d.result.is_ok()), "{report}");
    assert_eq!(summary.sent, N, "{report}");
    assert_eq!(
        (
            standin.delivered,
            standin.duplicates,
            standin.max_deliveries_per_key
        ),
        (N as u64, 0, 1),
        "{report}"
    );
    assert_eq!(log.len() as u64, summary.attempts, "{report}");
    assert!(
        log.iter()
            .all(|l| l.method == "POST" && l.uri == "/v0.1/messages"),
        "{report}"
    );
    assert_eq!(count(429), summary.rejected_429, "{report}");
    assert_eq!(count(202), N as u64, "{report}");
    assert_eq!(standin.requests, summary.attempts - count(429), "{report}");
    Run { summary, report }
}

/// The client told the rate, 10/s, paced `headroom` under it, `Retry-After` honoured (nginx
/// sends none).
fn told(base_url: String, headroom: f64) -> Arc<SmsClient> {
    let mut s = settings(base_url, key().0.clone());
    s.pacing = Pacing::To {
        rate: 10.0,
        headroom,
    };
    s.honour_retry_after = true;
    Arc::new(SmsClient::new(s).unwrap())
}

/// Told the rate, the batch goes through nginx's limit with no request refused, paced.
async fn told_the_rate(limit: LimitReq, headroom: f64) {
    let _alone = alone().await;
    let Some((server, nginx)) = behind_nginx(limit).await else {
        return;
    };
    let client = told(nginx.base_url(), headroom);
    let run = batch(&server, &nginx, &client).await;
    let report = &run.report;
    eprintln!("{report}");
    assert_eq!(run.summary.rejected_429, 0, "{report}");
    // Paced, not let through by luck: `N - 1` intervals at least. (No upper bound: a machine
    // that stalls for most of a second, as a busy one does, stretches the batch.)
    let paced = (N - 1) as f64 / (10.0 * (1.0 - headroom));
    assert!(run.summary.elapsed.as_secs_f64() >= paced, "{report}");
}

/// No burst: each request must come 100 ms after the last one let through, to nginx's
/// millisecond, at the example's own margin (`Pacing::told`: 5 ms at 10/s). There is no
/// warm-up request, so the first request opens the connection and arrives late by what that
/// takes (2 to 9 ms in this debug build on a busy 2-CPU machine, up to 54 ms with 20 copies of
/// the test at once): the pacer holds the second until the first one's answer and starts it
/// an interval after it; and a request nginx stamps late answers as late, which moves the
/// next one as far.
#[tokio::test(flavor = "current_thread")]
async fn told_the_rate_no_request_is_refused() {
    told_the_rate(LimitReq::per_second(10), told_headroom()).await;
}

/// The example's own margin under 10/s.
fn told_headroom() -> f64 {
    let Pacing::To { headroom, .. } = Pacing::told(10.0) else {
        unreachable!("told is paced to a rate")
    };
    headroom
}

/// `burst=5 nodelay`: a request early by a few milliseconds takes a little of the burst, not a
/// 429, so the example's own margin (`Pacing::told`) goes through untouched; the pacer (burst
/// 1) does not use the burst: the batch takes as long as with none.
#[tokio::test(flavor = "current_thread")]
async fn told_the_rate_no_request_is_refused_with_a_burst() {
    told_the_rate(LimitReq::per_second(10).burst_nodelay(5), told_headroom()).await;
}

/// Backoff only: fired at once, all but the first of the first `N` requests are refused, and
/// nginx's 429s carry no `Retry-After`, so every retry waits the generator's jittered wait (the
/// client honours `Retry-After` here only to count one if it came). Every message still gets
/// through, exactly once.
#[tokio::test(flavor = "current_thread")]
async fn backoff_only_is_refused_without_retry_after_and_delivers_each_once() {
    let _alone = alone().await;
    let Some((server, nginx)) = behind_nginx(LimitReq::per_second(10)).await else {
        return;
    };
    let mut s = settings(nginx.base_url(), key().0.clone());
    s.pacing = Pacing::Off;
    s.honour_retry_after = true;
    s.retry.max_time = Duration::from_secs(30);
    let client = Arc::new(SmsClient::new(s).unwrap());
    let run = batch(&server, &nginx, &client).await;
    let report = &run.report;
    eprintln!("{report}");
    assert!(run.summary.rejected_429 >= (N - 1) as u64, "{report}");
    let stats = client.stats();
    assert_eq!(stats.server_waits, 0, "no Retry-After: {report}");
    assert_eq!(stats.retries_429, run.summary.rejected_429, "{report}");
}
