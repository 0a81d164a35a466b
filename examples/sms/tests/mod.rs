//! The example's tests: `cargo test --example sms`. They drive the client and the batch as
//! `main` does, against the `backoff-standin` stand-in on 127.0.0.1, and every batch checks
//! the server's own counts (`GET /stats`) against the summary.
//!
//! `pacing` and `nginx` measure arrivals against the rate limit to the millisecond, and the
//! `faults` runs keep both CPUs busy, so each runs alone: they take [`alone`], every other
//! networked test [`shared`]. `nginx` runs nginx's `limit_req` in front of the stand-in
//! (`backoff_standin::nginx`); without nginx its tests are skipped, except under CI.

mod adaptive;
mod client;
mod faults;
mod nginx;
mod pacing;
mod workers;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use backoff_standin::{self as standin, StandIn};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::batch::{self, Delivery, Summary};
use crate::client::{Pacing, RetryPolicy, Settings, SmsClient};

const APPLICATION_ID: &str = "11111111-2222-4333-8444-555555555555";
const ONCALL: &str = "447700900999";

static RUNNING: RwLock<()> = RwLock::const_new(());

/// For a test that may run beside others.
async fn shared() -> RwLockReadGuard<'static, ()> {
    RUNNING.read().await
}

/// For a test that must run alone.
async fn alone() -> RwLockWriteGuard<'static, ()> {
    RUNNING.write().await
}

/// One key pair for the whole test binary: (private PEM, public PEM). 1024 bits: each attempt
/// signs a token, and at 2048 bits the signing (a few ms of CPU each) of 20 copies of the
/// fault tests at once starves the stand-ins on two CPUs until every request times out.
fn key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = standin::generate_private_key_pem_with_bits(1024).unwrap();
        let public = standin::public_key_pem(&private).unwrap();
        (private, public)
    })
}

fn standin_config(rate: f64, burst: u32, retry_after: bool) -> standin::Config {
    standin::Config {
        application_id: APPLICATION_ID.to_owned(),
        public_key_pem: key().1.clone(),
        enforce_limit: true,
        rate,
        burst,
        retry_after,
        rate_headers: standin::RateHeaders::Off,
        rate_schedule: standin::RateSchedule::none(),
        faults: standin::Faults::none(),
    }
}

fn settings(base_url: String, private_key_pem: String) -> Settings {
    Settings {
        base_url,
        application_id: APPLICATION_ID.to_owned(),
        private_key_pem,
        from: "447700900000".to_owned(),
        oncall: ONCALL.to_owned(),
        retry: RetryPolicy {
            factor: Duration::from_millis(10),
            max_value: Duration::from_millis(200),
            max_time: Duration::from_secs(10),
        },
        pacing: Pacing::Off,
        honour_retry_after: false,
        timeout: Duration::from_secs(5),
    }
}

async fn setup(rate: f64, burst: u32) -> (StandIn, Arc<SmsClient>) {
    setup_with(rate, burst, true, |_| {}).await
}

/// A stand-in (sending `Retry-After` on 429 or not) and a client with adjusted settings.
async fn setup_with(
    rate: f64,
    burst: u32,
    server_sends_retry_after: bool,
    adjust: impl FnOnce(&mut Settings),
) -> (StandIn, Arc<SmsClient>) {
    let server = StandIn::start(standin_config(rate, burst, server_sends_retry_after))
        .await
        .unwrap();
    let mut s = settings(server.base_url(), key().0.clone());
    adjust(&mut s);
    let client = SmsClient::new(s).unwrap();
    (server, Arc::new(client))
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("4477009{i:05}")).collect()
}

/// The stand-in's counts as its `GET /stats` serves them.
async fn stats_over_http(server: &StandIn) -> standin::Stats {
    reqwest::get(format!("{}/stats", server.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends the batch as `main` does and, with a server, checks it against the server's own
/// counts ([`check_against`]).
async fn send(
    server: Option<&StandIn>,
    client: &Arc<SmsClient>,
    to: &[String],
) -> (Vec<Delivery>, Summary) {
    let (deliveries, summary) = run_batch(client, to, to.len()).await;
    if let Some(server) = server {
        check_against(server, &summary).await;
    }
    (deliveries, summary)
}

/// Sends the batch as `main` does, `in_flight` messages at a time, and checks what holds for
/// any batch: one delivery per recipient, in order.
async fn run_batch(
    client: &Arc<SmsClient>,
    to: &[String],
    in_flight: usize,
) -> (Vec<Delivery>, Summary) {
    let start = Instant::now();
    let mut done = 0;
    let deliveries = batch::send_batch(client, to, "hello from the tests", in_flight, |_| {
        done += 1;
    })
    .await;
    assert_eq!(done, to.len(), "on_done once per recipient");
    let summary = Summary::new(&deliveries, client, start.elapsed());
    // Nothing is lost: one delivery per recipient, in order.
    assert_eq!(
        deliveries.iter().map(|d| d.to.as_str()).collect::<Vec<_>>(),
        to.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(summary.sent + summary.gave_up, to.len());
    assert_eq!(summary.is_success(), summary.gave_up == 0);
    (deliveries, summary)
}

/// The summary against the server's own counts (`GET /stats`): the messages it confirmed
/// are on the server, once each; beyond them, at most the given-up ones an attempt may have
/// sent; no recipient got a text twice, no key was sent on twice.
async fn check_against(server: &StandIn, summary: &Summary) {
    let st = stats_over_http(server).await;
    assert_eq!(st, server.stats(), "GET /stats serves the counts");
    let report = format!("{summary}\n{st:?}");
    assert_eq!(st.duplicates, 0, "{report}");
    assert!(st.max_deliveries_per_key <= 1, "{report}");
    let (sent, unconfirmed) = (summary.sent as u64, summary.unconfirmed as u64);
    assert!(
        sent <= st.delivered && st.delivered <= sent + unconfirmed,
        "{report}"
    );
    assert!(summary.replays <= st.replayed, "{report}");
    let held: usize = server.accepted().values().map(Vec::len).sum();
    assert_eq!(held as u64, st.delivered, "{report}");
}
