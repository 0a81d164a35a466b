//! An SMS client for the Vonage Messages API, retried with `#[backoff]`.
//!
//! Each attempt signs a fresh RS256 application JWT and POSTs one message; `429`, `5xx` and
//! connection errors are retried with exponential backoff and full jitter, any other `4xx`
//! gives up at once. Giving up places a call to the on-call engineer through the Voice API.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backoff::{Details, backoff};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one message send returns: the message id the API assigned.
pub type SmsResult = Result<String, SmsError>;

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsError {
    /// No HTTP answer: refused, reset, closed, timed out. Retried.
    Connection(String),
    /// `429 Too Many Requests`. Retried.
    RateLimited {
        /// The server's `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// A `5xx`. Retried.
    Server {
        /// The status code.
        status: u16,
        /// The body.
        detail: String,
    },
    /// Any other answer, a `4xx` other than `429` above all. Permanent: gives up at once.
    Rejected {
        /// The status code.
        status: u16,
        /// The body.
        detail: String,
    },
    /// Nothing was sent: the token could not be signed, the URL is malformed. Permanent.
    Local(String),
}

impl SmsError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmsError::Rejected { .. } | SmsError::Local(_))
    }
}

impl fmt::Display for SmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsError::Connection(e) => write!(f, "connection error: {e}"),
            SmsError::RateLimited {
                retry_after: Some(s),
            } => write!(f, "429 Too Many Requests (Retry-After: {s})"),
            SmsError::RateLimited { retry_after: None } => write!(f, "429 Too Many Requests"),
            SmsError::Server { status, detail } | SmsError::Rejected { status, detail } => {
                write!(f, "{status}: {detail}")
            }
            SmsError::Local(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SmsError {}

/// How long to keep trying one message.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// The first wait (before jitter); each next one doubles.
    pub factor: Duration,
    /// The longest wait.
    pub max_value: Duration,
    /// Give up on a message this long after its first attempt.
    pub max_time: Duration,
}

impl Default for RetryPolicy {
    /// 1 s, 2 s, 4 s… capped at 32 s, for at most 5 minutes.
    fn default() -> Self {
        RetryPolicy {
            factor: Duration::from_secs(1),
            max_value: Duration::from_secs(32),
            max_time: Duration::from_secs(300),
        }
    }
}

/// Where and as whom to send.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `https://api.nexmo.com`, or the stand-in's `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// `VONAGE_APPLICATION_ID`.
    pub application_id: String,
    /// The application's private key, PEM.
    pub private_key_pem: String,
    /// `VONAGE_NUMBER`: the sender.
    pub from: String,
    /// Who is called when a message cannot be sent.
    pub oncall: String,
    /// Retrying.
    pub retry: RetryPolicy,
    /// Per request.
    pub timeout: Duration,
}

/// A message that could not be sent.
#[derive(Clone, Debug)]
pub struct GaveUp {
    /// The recipient.
    pub to: String,
    /// Attempts made.
    pub tries: u32,
    /// Since the first attempt.
    pub elapsed: Duration,
    /// The last error.
    pub error: SmsError,
    /// The id of the call placed to the on-call engineer, if placing it worked.
    pub call: Result<String, SmsError>,
}

/// Counts, updated as the client works.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP attempts to send a message.
    pub attempts: AtomicU64,
    /// Messages accepted.
    pub sent: AtomicU64,
    /// Attempts answered 429.
    pub rejected_429: AtomicU64,
    /// Attempts answered 5xx.
    pub server_errors: AtomicU64,
    /// Attempts with no HTTP answer.
    pub connection_errors: AtomicU64,
    /// Waits before a retry.
    pub backoffs: AtomicU64,
    /// Messages given up.
    pub gave_up: AtomicU64,
}

/// A plain copy of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// See [`Stats::attempts`].
    pub attempts: u64,
    /// See [`Stats::sent`].
    pub sent: u64,
    /// See [`Stats::rejected_429`].
    pub rejected_429: u64,
    /// See [`Stats::server_errors`].
    pub server_errors: u64,
    /// See [`Stats::connection_errors`].
    pub connection_errors: u64,
    /// See [`Stats::backoffs`].
    pub backoffs: u64,
    /// See [`Stats::gave_up`].
    pub gave_up: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    application_id: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// The Messages API client.
pub struct SmsClient {
    http: reqwest::Client,
    base_url: String,
    application_id: String,
    key: EncodingKey,
    from: String,
    oncall: String,
    retry: RetryPolicy,
    stats: Stats,
    gave_up: Mutex<Vec<GaveUp>>,
}

fn random_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl SmsClient {
    /// A client; fails on a key that is not an RSA PEM private key.
    pub fn new(settings: Settings) -> Result<Self, BoxError> {
        let key = EncodingKey::from_rsa_pem(settings.private_key_pem.as_bytes())?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()?;
        Ok(SmsClient {
            http,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            application_id: settings.application_id,
            key,
            from: settings.from,
            oncall: settings.oncall,
            retry: settings.retry,
            stats: Stats::default(),
            gave_up: Mutex::new(Vec::new()),
        })
    }

    /// The counts so far.
    pub fn stats(&self) -> Snapshot {
        let s = &self.stats;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Snapshot {
            attempts: get(&s.attempts),
            sent: get(&s.sent),
            rejected_429: get(&s.rejected_429),
            server_errors: get(&s.server_errors),
            connection_errors: get(&s.connection_errors),
            backoffs: get(&s.backoffs),
            gave_up: get(&s.gave_up),
        }
    }

    /// The messages given up so far, with the on-call call placed for each.
    pub fn gave_up(&self) -> Vec<GaveUp> {
        self.gave_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A fresh application JWT: RS256, `application_id`, `iat`, `exp` (15 minutes), `jti`.
    pub fn token(&self) -> Result<String, SmsError> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| SmsError::Local(format!("clock before 1970: {e}")))?
            .as_secs();
        let claims = Claims {
            application_id: &self.application_id,
            iat,
            exp: iat + 15 * 60,
            jti: random_id(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| SmsError::Local(format!("cannot sign the JWT: {e}")))
    }

    /// POSTs `body` to `path` with a fresh JWT; `Ok` carries the JSON of a 2xx answer.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, SmsError> {
        let token = self.token()?;
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_builder() {
                    SmsError::Local(e.to_string())
                } else {
                    SmsError::Connection(error_chain(&e))
                }
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let text = response
            .text()
            .await
            .map_err(|e| SmsError::Connection(error_chain(&e)))?;
        if status.is_success() {
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or(text);
        Err(match status.as_u16() {
            429 => SmsError::RateLimited { retry_after },
            s @ 500..=599 => SmsError::Server { status: s, detail },
            s => SmsError::Rejected { status: s, detail },
        })
    }

    /// Sends one SMS; returns the message id. Retries 429, 5xx and connection errors with
    /// exponential backoff and full jitter for up to `retry.max_time`; any other 4xx gives up
    /// at once. Giving up pages the on-call engineer.
    #[backoff(
        expo,
        factor = self.retry.factor,
        max_value = self.retry.max_value,
        max_time = self.retry.max_time,
        jitter = full,
        on = error,
        giveup = SmsError::is_permanent,
        on_backoff = |d| self.note_backoff(d),
        on_giveup = |d| self.page_oncall(to, d),
        backoff_log_level = debug,
        giveup_log_level = warn,
    )]
    pub async fn send_sms(&self, to: &str, text: &str) -> SmsResult {
        self.stats.attempts.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "from": { "type": "sms", "number": self.from },
            "to": { "type": "sms", "number": to },
            "message": { "content": { "type": "text", "text": text } },
        });
        match self.post("/v0.1/messages", &body).await {
            Ok(answer) => {
                self.stats.sent.fetch_add(1, Ordering::SeqCst);
                Ok(answer["message_uuid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned())
            }
            Err(e) => {
                let counter = match e {
                    SmsError::RateLimited { .. } => Some(&self.stats.rejected_429),
                    SmsError::Server { .. } => Some(&self.stats.server_errors),
                    SmsError::Connection(_) => Some(&self.stats.connection_errors),
                    _ => None,
                };
                if let Some(c) = counter {
                    c.fetch_add(1, Ordering::SeqCst);
                }
                Err(e)
            }
        }
    }

    fn note_backoff(&self, _: &Details<'_, SmsResult>) {
        self.stats.backoffs.fetch_add(1, Ordering::SeqCst);
    }

    /// `on_giveup`: records the failure and calls the on-call engineer.
    async fn page_oncall(&self, to: &str, details: &Details<'_, SmsResult>) {
        self.stats.gave_up.fetch_add(1, Ordering::SeqCst);
        let error = details
            .error()
            .cloned()
            .unwrap_or_else(|| SmsError::Local("gave up without an error".to_owned()));
        let say = format!(
            "An S M S to {to} could not be sent after {} attempts in {} seconds. Last error: {error}.",
            details.tries,
            details.elapsed.as_secs()
        );
        let call = self.place_call(&say).await;
        self.gave_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(GaveUp {
                to: to.to_owned(),
                tries: details.tries,
                elapsed: details.elapsed,
                error,
                call,
            });
    }

    /// Places a text-to-speech call to the on-call number through the Voice API
    /// (`POST /v1/calls`); returns the call's uuid. A few quick retries, no paging about
    /// paging.
    #[backoff(
        expo,
        factor = self.retry.factor,
        max_tries = 3,
        on = error,
        giveup = SmsError::is_permanent,
        backoff_log_level = debug,
    )]
    pub async fn place_call(&self, say: &str) -> Result<String, SmsError> {
        let body = json!({
            "to": [{ "type": "phone", "number": self.oncall }],
            "from": { "type": "phone", "number": self.from },
            "ncco": [{ "action": "talk", "text": say }],
        });
        let answer = self.post("/v1/calls", &body).await?;
        Ok(answer["uuid"].as_str().unwrap_or_default().to_owned())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// One recipient's end: sent (with the message id) or given up (with the last error).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The recipient.
    pub to: String,
    /// The message id, or why it was given up.
    pub result: SmsResult,
}

/// Sends `text` to every recipient, at most `concurrency` at a time, calling `on_done` as each
/// ends. Nothing is lost: the deliveries come back in the recipients' order, one each, even
/// if a task panics.
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
        let (client, permits, text, to) =
            (client.clone(), permits.clone(), text.clone(), to.clone());
        let handle = tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = client.send_sms(&to, &text).await;
            (i, Delivery { to, result })
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
            })
        })
        .collect()
}

/// The batch's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Messages accepted.
    pub sent: usize,
    /// Recipients.
    pub total: usize,
    /// HTTP attempts.
    pub attempts: u64,
    /// Attempts answered 429.
    pub rejected_429: u64,
    /// Messages given up.
    pub gave_up: usize,
    /// Wall time of the batch.
    pub elapsed: Duration,
}

impl Summary {
    /// Totals from the deliveries and the client's counts.
    pub fn new(deliveries: &[Delivery], stats: Snapshot, elapsed: Duration) -> Self {
        let sent = deliveries.iter().filter(|d| d.result.is_ok()).count();
        Summary {
            sent,
            total: deliveries.len(),
            attempts: stats.attempts,
            rejected_429: stats.rejected_429,
            gave_up: deliveries.len() - sent,
            elapsed,
        }
    }
}

impl fmt::Display for Summary {
    /// `summary: sent=<n> of <N> attempts=<a> rejected_429=<r> gave_up=<g> elapsed_s=<t>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "summary: sent={} of {} attempts={} rejected_429={} gave_up={} elapsed_s={:.1}",
            self.sent,
            self.total,
            self.attempts,
            self.rejected_429,
            self.gave_up,
            self.elapsed.as_secs_f64()
        )
    }
}
