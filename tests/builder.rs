//! The builder through the facade, side by side with the attribute: the same configuration
//! gives the same waits, handler calls and log lines, since both ask the same `State`.

mod common;

use backoff::{Details, Level, backoff};
use common::{Calls, capture};
use tokio::time::Instant;

type Out = Result<(), String>;

fn record(calls: &Calls, kind: &str, d: &Details<'_, Out>) {
    calls.push(format!(
        "{kind} tries={} elapsed={} wait={}",
        d.tries,
        d.elapsed.as_secs_f64(),
        d.wait.map_or("-".into(), |w| w.as_secs_f64().to_string()),
    ));
}

fn attempt(calls: &Calls, start: Instant) -> Out {
    calls.push(format!("attempt t={}", start.elapsed().as_secs()));
    Err("429".to_owned())
}

#[backoff(expo, max_tries = 3, jitter = none,
    on_backoff = |d| record(calls, "backoff", d), on_giveup = |d| record(calls, "giveup", d))]
async fn send_sms(calls: &Calls, start: Instant) -> Out {
    attempt(calls, start)
}

#[tokio::test(start_paused = true)]
async fn the_builder_logs_and_calls_handlers_as_the_attribute_does() {
    let (captured, _guard) = capture();
    let (by_attribute, start) = (Calls::default(), Instant::now());
    let a = send_sms(&by_attribute, start).await;
    let logged = captured.lines().len();

    let (by_builder, start) = (Calls::default(), Instant::now());
    let b = backoff::expo()
        .max_tries(3)
        .jitter(backoff::Jitter::None)
        .target("send_sms")
        .retry(|| std::future::ready(attempt(&by_builder, start)))
        .on_backoff(|d| record(&by_builder, "backoff", d))
        .on_giveup(|d| record(&by_builder, "giveup", d))
        .await;

    assert_eq!(a, b);
    assert_eq!(by_attribute.get(), by_builder.get());
    assert_eq!(
        by_builder.get(),
        [
            "attempt t=0",
            "backoff tries=1 elapsed=0 wait=1",
            "attempt t=1",
            "backoff tries=2 elapsed=1 wait=2",
            "attempt t=3",
            "giveup tries=3 elapsed=3 wait=-",
        ]
    );
    let lines = captured.lines();
    assert_eq!(lines.len(), 2 * logged, "{lines:#?}");
    assert_eq!(lines[..logged], lines[logged..]);
    assert!(
        lines[0].starts_with(r#" INFO backoff: Backing off send_sms(...) for 1.0s (Err("429"))"#),
        "{}",
        lines[0]
    );
}

#[tokio::test(start_paused = true)]
async fn log_levels_are_configurable_and_logging_can_be_turned_off() {
    let (captured, _guard) = capture();
    let levels = backoff::expo()
        .max_tries(2)
        .jitter(backoff::Jitter::None)
        .backoff_log_level(Some(Level::DEBUG))
        .giveup_log_level(Some(Level::WARN))
        .retry(|| async { None::<u8> })
        .await;
    let silent = backoff::expo()
        .max_tries(2)
        .backoff_log_level(None)
        .giveup_log_level(None)
        .retry_blocking(|| None::<u8>)
        .sleep(|_| {})
        .call();
    assert_eq!((levels, silent), (None, None));
    let lines = captured.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("DEBUG backoff: Backing off retry(...) for 1.0s (None)"));
    assert!(lines[1].starts_with(" WARN backoff: Giving up retry(...) after 2 tries (None)"));
}

#[test]
fn the_log_line_comes_before_the_users_handler() {
    let (captured, _guard) = capture();
    let _ = backoff::constant(0)
        .max_tries(2)
        .retry_blocking(|| Err::<(), _>("no"))
        .on_backoff(|_| tracing::info!("user handler"))
        .call();
    let lines = captured.lines();
    assert!(lines[0].contains("Backing off"), "{lines:#?}");
    assert!(lines[1].contains("user handler"), "{lines:#?}");
    assert!(lines[2].contains("Giving up"), "{lines:#?}");
}
