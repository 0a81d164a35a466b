//! The paced SMS client against the stand-in API at 10 requests/s, burst
//! 1, on the real clock: 30 messages fired at once must get through with at most 3 answered
//! 429, in at most 1.05 times the physical limit (29 intervals of 100 ms: 2.9 s) plus what each
//! 429 costs its retry (the server's capped wait and one slot). Without a 429 that is 1.05
//! times the limit. The allowance is there because a 429 cannot be ruled out on the real
//! clock: the pacer keeps its slots on a fixed grid, so a request that leaves 3 ms late is
//! followed by one that arrives 3 % early for the server's burst-1 bucket (seen: gaps of 106.0
//! then 99.9 ms); without the allowance one such 429 failed the test (1.068) though three are
//! allowed, 1 run in 5 of the whole test binary with four test threads.
//!
//! Why this is not flaky. The pacer spaces the attempts' *departures*; the server's bucket
//! (burst 1) measures their *arrivals*. Pacing at exactly the limit, a request that is held up
//! on its way a little more than the one before (signing, a thread the OS has not woken yet, a
//! TCP handshake) arrives less than 100 ms after it and finds the bucket a fraction of a token
//! short: a 429, and its retry costs one more interval, 3.4 % of this batch. So:
//! - the client paces 3 % under the limit (one attempt every 103 ms; the example's default
//!   is 2 %, 20 ms at 1/s): 3 ms of each interval absorb the difference between two requests'
//!   delays;
//! - those delays are kept short and steady: each request's JWT is signed ahead (after the
//!   previous response, not between the pacer's go and the send: signing takes ~4 ms of CPU);
//!   client and stand-in share one thread (a
//!   current-thread runtime), so no request waits for the OS to wake another thread; and the
//!   stand-in stamps each arrival when its handler starts, before it reads the body and
//!   verifies the JWT. There is no warm-up request (a limiter in front of an API counts it:
//!   nginx refused the first message for it), so the first request also opens the connection;
//!   against the stand-in alone that made no measurable difference to the first gap (101.8 to
//!   108.2 ms in six runs, against 103.1 planned).
//!
//! What it costs: the 3 % headroom and the last request's round trip, about 1.034 times the
//! physical limit, against the 1.05 allowed. (The pacer reserves its slots on a fixed grid, so
//! tokio waking its timer a millisecond late does not push later slots back.) With 2 %
//! headroom, 1 of 24 runs with two copies at once got a 429 (1.058); at 20/s, where 2 % is
//! 1 ms, 2 of 20 runs did even alone. Hence 10/s and 3 %.
//!
//! It takes [`alone`]: no other test of the binary runs beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backoff_standin::StandIn;

use super::{APPLICATION_ID, alone, key, standin_config, stats_over_http};
use crate::batch::{self, Summary};
use crate::client::{Pacing, RetryPolicy, Settings, SmsClient};

#[tokio::test(flavor = "current_thread")]
async fn paced_batch_keeps_to_the_rate_limit() {
    let _alone = alone().await;
    const RATE: f64 = 10.0;
    const N: usize = 30;
    // 3 ms of each 100 ms interval; see the module docs.
    const HEADROOM: f64 = 0.03;
    let private = key().0.clone();
    let server = StandIn::start(standin_config(RATE, 1, true)).await.unwrap();
    let client = Arc::new(
        SmsClient::new(Settings {
            base_url: server.base_url(),
            application_id: APPLICATION_ID.to_owned(),
            private_key_pem: private,
            from: "447700900000".to_owned(),
            oncall: "447700900999".to_owned(),
            retry: RetryPolicy {
                factor: Duration::from_millis(10),
                // Also caps the stand-in's `Retry-After: 1`.
                max_value: Duration::from_millis(200),
                max_time: Duration::from_secs(20),
            },
            pacing: Pacing::To {
                rate: RATE,
                headroom: HEADROOM,
            },
            honour_retry_after: true,
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    );
    let to: Vec<String> = (0..N).map(|i| format!("4477009{i:05}")).collect();

    let start = Instant::now();
    let deliveries = batch::send_batch(&client, &to, "paced", N, |_| {}).await;
    let summary = Summary::new(&deliveries, &client, start.elapsed());

    let physical = (N - 1) as f64 / RATE;
    let ratio = summary.elapsed.as_secs_f64() / physical;
    let arrivals = server.arrivals();
    let gaps_ms: Vec<String> = arrivals
        .windows(2)
        .map(|w| {
            let gap = w[1].at.saturating_sub(w[0].at).as_secs_f64() * 1e3;
            format!("{gap:.1}{}", if w[1].admitted { "" } else { "(429)" })
        })
        .collect();
    let report = format!(
        "{summary}\nratio to the physical limit ({physical:.1} s): {ratio:.3}\n\
         gaps between arrivals, ms: {}",
        gaps_ms.join(" ")
    );
    eprintln!("{report}");

    assert_eq!(summary.sent, N, "{report}");
    let st = stats_over_http(&server).await;
    assert_eq!((st.delivered, st.duplicates), (N as u64, 0), "{report}");
    assert_eq!(st.throttled, summary.rejected_429, "{report}");
    assert!(summary.rejected_429 <= 3, "{report}");
    // 1.05 times the limit, plus what each allowed 429 costs its retry: the server's wait
    // (`Retry-After`, capped at `max_value`, 200 ms) and one more slot.
    let per_429 = 0.2 + 1.0 / RATE;
    let bound = 1.05 * physical + summary.rejected_429 as f64 * per_429;
    assert!(
        summary.elapsed.as_secs_f64() <= bound,
        "{report}\nbound: {bound:.3} s"
    );
    // The stand-in held the line: burst 1 at 10/s lets no batch of 30 through sooner.
    assert!(ratio >= 1.0, "{report}");
    let admitted: Vec<_> = arrivals.iter().filter(|a| a.admitted).collect();
    assert!(
        admitted
            .windows(2)
            .all(|w| w[1].at - w[0].at >= Duration::from_secs_f64(0.999 / RATE)),
        "{report}"
    );
}
