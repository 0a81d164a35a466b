//! A batch: every recipient's message sent through one client, nothing lost, and the totals.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{Pacing, Sms, SmsClient, SmsError, SmsResult};

/// One recipient's end: sent (with the message id) or given up (with the last error).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The recipient.
    pub to: String,
    /// The message id, or why it was given up.
    pub result: SmsResult,
    /// Whether an attempt failed in a way that may have sent it: if it was given up, the
    /// server may hold it all the same.
    pub maybe_sent: bool,
}

/// Sends `text` to every recipient, at most `concurrency` at a time, calling `on_done` as each
/// ends. Each message is made once, with its idempotency key, before its first attempt.
/// Nothing is lost: the deliveries come back in the recipients' order, one each, even if a
/// task panics.
pub async fn send_batch(
    client: &Arc<SmsClient>,
    recipients: &[String],
    text: &str,
    concurrency: usize,
    mut on_done: impl FnMut(&Delivery),
) -> Vec<Delivery> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let text: Arc<str> = Arc::from(text);
    let mut tasks = JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for (i, to) in recipients.iter().enumerate() {
        let (client, permits) = (client.clone(), permits.clone());
        let sms = Sms::new(to.as_str(), &*text);
        let handle = tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = client.send_sms(&sms).await;
            let delivery = Delivery {
                maybe_sent: sms.maybe_sent(),
                to: sms.to,
                result,
            };
            (i, delivery)
        });
        ids.insert(handle.id(), i);
    }
    let mut out: Vec<Option<Delivery>> = vec![None; recipients.len()];
    while let Some(done) = tasks.join_next_with_id().await {
        let (i, delivery) = match done {
            Ok((_, (i, delivery))) => (i, delivery),
            Err(e) => {
                let i = ids[&e.id()];
                let delivery = Delivery {
                    to: recipients[i].clone(),
                    result: Err(SmsError::Local(format!("the send task failed: {e}"))),
                    maybe_sent: true,
                };
                (i, delivery)
            }
        };
        on_done(&delivery);
        out[i] = Some(delivery);
    }
    out.into_iter()
        .zip(recipients)
        .map(|(d, to)| {
            d.unwrap_or_else(|| Delivery {
                to: to.clone(),
                result: Err(SmsError::Local("never sent".to_owned())),
                maybe_sent: true,
            })
        })
        .collect()
}

/// The batch's totals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Messages the server confirmed it holds (a 202, first or replayed), once each.
    pub sent: usize,
    /// Recipients.
    pub total: usize,
    /// HTTP attempts.
    pub attempts: u64,
    /// Attempts answered 429.
    pub rejected_429: u64,
    /// Messages given up.
    pub gave_up: usize,
    /// Of those, messages an attempt may have sent (its answer was lost): the server may
    /// hold them.
    pub unconfirmed: usize,
    /// Answers the server marked as replays of a key it had already sent.
    pub replays: u64,
    /// Wall time of the batch.
    pub elapsed: Duration,
    /// How the client paced.
    pub pacing: Pacing,
    /// Whether it honoured `Retry-After`.
    pub honour_retry_after: bool,
}

impl Summary {
    /// Totals from the deliveries and the client's counts and mode.
    pub fn new(deliveries: &[Delivery], client: &SmsClient, elapsed: Duration) -> Self {
        let sent = deliveries.iter().filter(|d| d.result.is_ok()).count();
        let stats = client.stats();
        Summary {
            sent,
            total: deliveries.len(),
            attempts: stats.attempts,
            rejected_429: stats.rejected_429,
            gave_up: deliveries.len() - sent,
            unconfirmed: deliveries
                .iter()
                .filter(|d| d.result.is_err() && d.maybe_sent)
                .count(),
            replays: stats.replays,
            elapsed,
            pacing: client.pacing(),
            honour_retry_after: client.honours_retry_after(),
        }
    }
}

impl Summary {
    /// Every message sent and none given up: the example's exit status 0.
    pub fn is_success(&self) -> bool {
        self.gave_up == 0 && self.sent == self.total
    }
}

impl fmt::Display for Summary {
    /// `summary: sent=<n> of <N> attempts=<a> rejected_429=<r> gave_up=<g> unconfirmed=<u>
    /// replays=<p> elapsed_s=<t> pacing=<off|R/s> retry_after=<honoured|ignored>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "summary: sent={} of {} attempts={} rejected_429={} gave_up={} unconfirmed={} \
replays={} elapsed_s={:.3} pacing={} retry_after={}",
            self.sent,
            self.total,
            self.attempts,
            self.rejected_429,
            self.gave_up,
            self.unconfirmed,
            self.replays,
            self.elapsed.as_secs_f64(),
            self.pacing,
            if self.honour_retry_after {
                "honoured"
            } else {
                "ignored"
            }
        )
    }
}
