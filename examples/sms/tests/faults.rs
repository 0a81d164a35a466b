//! Nothing lost, nothing sent twice: the client against a stand-in that loses answers, resets
//! connections, answers late or not at all, on the real clock with short timeouts and waits.
//! Each message's idempotency key makes a retry after an ambiguous failure a replay, not a
//! second SMS; the server's own counts show it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backoff_standin::{Fault, Faults, StandIn};

use super::{alone, check_against, key, numbers, run_batch, send, settings, standin_config};
use crate::client::{Sms, SmsClient, SmsError};

/// A client with short waits and the given request timeout.
fn client(base_url: String, timeout: Duration, max_time: Duration) -> Arc<SmsClient> {
    let mut s = settings(base_url, key().0.clone());
    s.timeout = timeout;
    s.retry.factor = Duration::from_millis(10);
    s.retry.max_value = Duration::from_millis(100);
    s.retry.max_time = max_time;
    Arc::new(SmsClient::new(s).unwrap())
}

/// Each recipient got exactly one message, the one whose id the client was given.
fn exactly_once(server: &StandIn, deliveries: &[crate::batch::Delivery]) {
    let accepted = server.accepted();
    assert_eq!(accepted.len(), deliveries.len(), "{accepted:?}");
    for d in deliveries {
        let id = &d.result.as_ref().expect("sent").message_uuid;
        assert_eq!(accepted[&d.to], std::slice::from_ref(id), "{}", d.to);
    }
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for d in server.deliveries() {
        *per_key
            .entry(d.key.expect("every message carries its key"))
            .or_default() += 1;
    }
    assert!(per_key.values().all(|&n| n == 1), "{per_key:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_through_lost_answers_resets_timeouts_and_500s() {
    // One real-clock fault run at a time: each keeps two CPUs busy for a while.
    let _alone = alone().await;
    const N: usize = 200;
    // Twenty messages in flight: each attempt signs an RS256 token (a few ms of CPU), and 200
    // at once would starve the stand-in, on the same runtime, until every request timed out.
    const IN_FLIGHT: usize = 20;
    let timeout = Duration::from_millis(500);
    let mut config = standin_config(100_000.0, 1_000, true);
    config.faults = Faults::new(
        vec![
            Fault::AcceptThenDrop(0.30),
            Fault::Slow(0.10, Duration::from_millis(1_000)),
            Fault::Status500(0.10),
            Fault::Reset(0.05),
        ],
        8,
    )
    .unwrap();
    let server = StandIn::start(config).await.unwrap();
    // The budget is generous so that a loaded machine (timeouts that are not faults) cannot
    // make a message give up; unloaded, the batch takes a few seconds.
    let client = client(server.base_url(), timeout, Duration::from_secs(60));

    let start = Instant::now();
    let (deliveries, summary) = run_batch(&client, &numbers(N), IN_FLIGHT).await;
    check_against(&server, &summary).await;
    let elapsed = start.elapsed();

    let st = server.stats();
    let stats = client.stats();
    let report = format!("{summary}\n{st:?}\n{stats:?}");
    eprintln!("{report}");
    assert!(
        summary.to_string().starts_with("summary: sent=200 of 200 "),
        "{report}"
    );
    assert!(summary.is_success(), "exit status 0: {report}");
    assert_eq!((summary.gave_up, summary.unconfirmed), (0, 0), "{report}");
    // On the server: every message once, none twice, at most one delivery per key.
    assert_eq!(st.delivered, N as u64, "{report}");
    assert_eq!(st.duplicates, 0, "{report}");
    assert_eq!(st.max_deliveries_per_key, 1, "{report}");
    exactly_once(&server, &deliveries);
    // The faults happened, and each kind was retried.
    assert!(st.accept_then_drop > 0 && st.slow > 0, "{report}");
    assert!(st.status_500 > 0 && st.reset > 0, "{report}");
    assert!(
        stats.retries_connection > 0 && stats.retries_timeout > 0,
        "{report}"
    );
    assert!(stats.retries_5xx > 0, "{report}");
    // A lost answer's retry was a replay: the server said so, the client counted it.
    assert!(
        summary.replays > 0 && st.replayed >= summary.replays,
        "{report}"
    );
    // Some attempts may time out before the server reads them (a loaded machine).
    assert!(st.requests <= stats.attempts, "{report}");
    eprintln!("elapsed: {:.2} s", elapsed.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_for_the_first_half_then_up() {
    // One real-clock fault run at a time: each keeps two CPUs busy for a while.
    let _alone = alone().await;
    const N: usize = 50;
    // A port that was just free: nothing listens there until the stand-in starts on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = client(
        format!("http://{addr}"),
        Duration::from_secs(2),
        Duration::from_secs(10),
    );
    let down_for = Duration::from_secs(1);
    let start = Instant::now();
    // Down for a second (connections refused), then up, letting 50 requests/s through:
    // another second for the 50 messages.
    let up = async {
        tokio::time::sleep(down_for).await;
        StandIn::start_on(addr, standin_config(50.0, 1, false))
            .await
            .unwrap()
    };
    let to = numbers(N);
    let (server, (deliveries, summary)) = tokio::join!(up, run_batch(&client, &to, N));
    let elapsed = start.elapsed();
    check_against(&server, &summary).await;

    let st = server.stats();
    let stats = client.stats();
    let report = format!("{summary}\n{st:?}\n{stats:?}");
    eprintln!("{report}");
    assert!(summary.is_success(), "{report}");
    assert_eq!(summary.sent, N, "{report}");
    assert_eq!(st.delivered, N as u64, "{report}");
    assert_eq!(
        (st.duplicates, st.max_deliveries_per_key),
        (0, 1),
        "{report}"
    );
    exactly_once(&server, &deliveries);
    // Attempts were refused while it was down, and none of those reached it.
    assert!(stats.retries_connection > 0, "{report}");
    assert!(
        st.requests <= stats.attempts - stats.connection_errors,
        "{report}"
    );
    assert!(elapsed >= down_for + Duration::from_millis(900), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_past_the_timeout_send_each_message_once() {
    // One real-clock fault run at a time: each keeps two CPUs busy for a while.
    let _alone = alone().await;
    // The second case: every reply later than the client's timeout. Before keys, each
    // attempt was another SMS; now the retries are replays, and the summary says the given-up
    // messages may have been sent, because they were, once.
    let mut config = standin_config(100_000.0, 1_000, true);
    config.faults = Faults::new(vec![Fault::Slow(1.0, Duration::from_millis(400))], 1).unwrap();
    let server = StandIn::start(config).await.unwrap();
    let client = client(
        server.base_url(),
        Duration::from_millis(150),
        Duration::from_secs(2),
    );
    let (deliveries, summary) = send(Some(&server), &client, &numbers(3)).await;

    let st = server.stats();
    let stats = client.stats();
    let report = format!("{summary}\n{st:?}\n{stats:?}");
    assert!(
        deliveries
            .iter()
            .all(|d| matches!(d.result, Err(SmsError::Timeout(_))) && d.maybe_sent),
        "{deliveries:?}"
    );
    assert_eq!(
        (summary.sent, summary.gave_up, summary.unconfirmed),
        (0, 3, 3),
        "{report}"
    );
    assert!(!summary.is_success());
    // Retried, each retry a replay (on a loaded machine an attempt may time out before the
    // server reads it, so the server may count fewer requests than the client sent).
    assert!(stats.attempts > 3 && stats.retries_timeout > 0, "{report}");
    assert_eq!(st.delivered, 3, "{report}");
    assert_eq!(st.max_deliveries_per_key, 1, "{report}");
    assert!(st.replayed > 0, "{report}");
    // A request whose client gave up while the server read it counts, but is neither.
    assert!(st.requests >= st.delivered + st.replayed, "{report}");
    // On-call was told the messages may have been sent.
    assert_eq!(client.gave_up().len(), 3);
    for call in server.calls() {
        let said = call["ncco"][0]["text"].as_str().unwrap();
        assert!(said.contains("may have been sent"), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_replays_another_body_is_refused() {
    // One real-clock fault run at a time: each keeps two CPUs busy for a while.
    let _alone = alone().await;
    let server = StandIn::start(standin_config(1_000.0, 100, true))
        .await
        .unwrap();
    let client = client(
        server.base_url(),
        Duration::from_secs(2),
        Duration::from_secs(2),
    );
    let first = Sms::new("447700900001", "hello");
    let id = client.send_sms(&first).await.unwrap().message_uuid;
    // The same message again (a retry the client did not know was one): the same id, sent once.
    assert_eq!(client.send_sms(&first).await.unwrap().message_uuid, id);
    assert_eq!(client.stats().replays, 1);
    // Another message under the same key: refused at once, never sent.
    let mut other = Sms::new("447700900002", "hello");
    other.idempotency_key = first.idempotency_key.clone();
    let refused = client.send_sms(&other).await;
    assert!(
        matches!(refused, Err(SmsError::Rejected { status: 422, .. })),
        "{refused:?}"
    );
    let st = server.stats();
    assert_eq!(
        (st.delivered, st.replayed, st.conflicts),
        (1, 1, 1),
        "{st:?}"
    );
    assert_eq!(server.accepted()["447700900001"], [id]);
    assert_eq!(client.gave_up().len(), 1, "the refusal paged on-call");
}
