//! The paced SMS client against the stand-in API at 10 requests/s, burst 1, on the real
//! clock: 30 messages fired at once get through in at most 1.15 times the physical limit (29
//! intervals of 100 ms: 2.9 s), with no response 429 except, at most, for the second request.
//!
//! Why a 429 is still possible there, and only there. The pacer spaces the attempts'
//! *departures*, each measured against the departures before it (so a request that leaves
//! late does not make the next one early); the server's bucket (burst 1) measures their
//! *arrivals*. The client paces the example's margin under the limit ([`Pacing::told`]: 5 ms
//! at 10/s, one departure every 105 ms), so the arrivals keep to the limit as long as two
//! consecutive requests' times in flight differ by less than 5 ms. They do, except for the
//! first: it opens the connection the others reuse, which takes longer the busier the machine
//! (with 20 copies of this test at once beside other builds, the second request arrived 56 to
//! 99.5 ms after the first in 7 runs of 20). No margin covers that; a warm-up request would,
//! but a limiter in front of an API counts it (nginx refused the first message for one).
//!
//! What keeps the rest steady: each request's JWT is signed ahead (after the previous
//! response, not between the pacer's go and the send: signing takes ~4 ms of CPU); client and
//! stand-in share one thread (a current-thread runtime), so a stall of that thread delays a
//! request's arrival and the next one's departure alike; and the stand-in stamps each arrival
//! when its handler starts, before it reads the body and verifies the JWT.
//!
//! The time bound: the 5 % margin and the last request's round trip make about 1.06 times the
//! limit; a busier machine adds its stalls, which on departures pass to every later request
//! (1.08 to 1.19 with 20 copies at once, one 1.26 after a 581 ms stall). 1.15 keeps the test
//! about the pacer, not the machine: a pacer 10 % slow fails it.
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
            pacing: Pacing::told(RATE),
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
    // No 429, except for the second request (the first opened the connection; module docs).
    let refused: Vec<usize> = arrivals
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.admitted)
        .map(|(i, _)| i)
        .collect();
    assert!(refused.is_empty() || refused == [1], "{report}");
    // 1.15 times the limit, plus what the allowed 429 costs its retry: the server's wait
    // (`Retry-After`, capped at `max_value`, 200 ms) and one more slot.
    let per_429 = 0.2 + 1.0 / RATE;
    let bound = 1.15 * physical + summary.rejected_429 as f64 * per_429;
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
