//! An SMS client for the Vonage Messages API, retried with `#[backoff]`.
//!
//! Each attempt signs a fresh RS256 application JWT and POSTs one message; `429`, `5xx` and
//! connection errors are retried with exponential backoff and full jitter, any other `4xx`
//! gives up at once. Giving up places a call to the on-call engineer through the Voice API.
//!
//! Backoff is the last resort. By default ([`Pacing::To`]) every attempt, retries included,
//! first waits for the client's own [`Pacer`], set a little under the API's rate limit, so
//! 429s are rare; a 429's `Retry-After` (when the server sends one) replaces the generator's
//! wait. [`Pacing::Off`] is the article's backoff-only recipe for comparison: every message
//! fired at once, each 429 found and then waited out with exponential backoff and full jitter.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backoff::{Details, Pacer, backoff};
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
        /// The server's `Retry-After` (delay-seconds or an HTTP-date), when it sent one.
        retry_after: Option<Duration>,
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

    /// The wait the server asked for: a 429's `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SmsError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for SmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsError::Connection(e) => write!(f, "connection error: {e}"),
            SmsError::RateLimited {
                retry_after: Some(wait),
            } => write!(
                f,
                "429 Too Many Requests (Retry-After: {} s)",
                wait.as_secs_f64()
            ),
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

/// How the client keeps to the API's rate limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// Backoff only (the article's recipe): every attempt starts as soon as it can, and the
    /// rate limit is found by 429s and waited out.
    Off,
    /// Every attempt, retries included, first waits for the client's pacer, which lets
    /// `rate × (1 − headroom)` attempts a second through, one at a time (burst 1).
    ///
    /// Why the headroom: the server's bucket measures arrivals, the pacer measures departures.
    /// With burst 1 at exactly the server's rate, any request that reaches the server a little
    /// sooner after the one before than it left after it (signing, scheduling, the network)
    /// finds the bucket a fraction of a token short, and gets a 429. Pacing 2 % under the rate
    /// leaves 2 % of each interval (20 ms at 1/s, 2 ms at 10/s) to absorb that, for 2 % of
    /// throughput.
    To {
        /// The API's limit, requests per second.
        rate: f64,
        /// The fraction of `rate` left unused, `0.02` for 2 %.
        headroom: f64,
    },
}

impl Pacing {
    /// The headroom the example leaves by default: 2 %.
    pub const DEFAULT_HEADROOM: f64 = 0.02;

    /// The rate the pacer lets through, per second; `None` when not pacing.
    pub fn paced_rate(&self) -> Option<f64> {
        match *self {
            Pacing::Off => None,
            Pacing::To { rate, headroom } => Some(rate * (1.0 - headroom)),
        }
    }

    /// The pacer for this mode. `Off` gets one that paces nothing, so the attribute's
    /// `pacer = self.pacer` works in both modes.
    fn pacer(&self) -> Pacer {
        self.paced_rate()
            .map_or_else(Pacer::unlimited, Pacer::per_second)
    }
}

impl fmt::Display for Pacing {
    /// `off`, or the paced rate: `0.980/s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.paced_rate() {
            None => write!(f, "off"),
            Some(r) => write!(f, "{r:.3}/s"),
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
    /// Pacing to the rate limit.
    pub pacing: Pacing,
    /// Whether a 429's `Retry-After` replaces the generator's wait (not jittered, capped by
    /// `retry.max_value` and what remains of `retry.max_time`). Without one, the generator's
    /// jittered wait applies either way.
    pub honour_retry_after: bool,
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
    /// Of those, waits the server asked for with `Retry-After`.
    pub server_waits: AtomicU64,
    /// The waits before retries, added up, in nanoseconds.
    pub waited_ns: AtomicU64,
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
    /// See [`Stats::server_waits`].
    pub server_waits: u64,
    /// See [`Stats::waited_ns`].
    pub waited: Duration,
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
    pacing: Pacing,
    /// This client's own pacer (`pacer = self.pacer`): two clients in one process, each
    /// with its own API and limit, do not share one.
    pacer: Pacer,
    honour_retry_after: bool,
    /// A JWT signed ahead, with when: see [`SmsClient::next_token`].
    spare_token: Mutex<Option<(std::time::Instant, String)>>,
    stats: Stats,
    gave_up: Mutex<Vec<GaveUp>>,
}

/// How old a token signed ahead may be when it is used (it is valid for 15 minutes).
const SPARE_TOKEN_MAX_AGE: Duration = Duration::from_secs(60);

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
        let client = SmsClient {
            http,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            application_id: settings.application_id,
            key,
            from: settings.from,
            oncall: settings.oncall,
            retry: settings.retry,
            pacing: settings.pacing,
            pacer: settings.pacing.pacer(),
            honour_retry_after: settings.honour_retry_after,
            spare_token: Mutex::new(None),
            stats: Stats::default(),
            gave_up: Mutex::new(Vec::new()),
        };
        client.sign_ahead();
        Ok(client)
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
            server_waits: get(&s.server_waits),
            waited: Duration::from_nanos(get(&s.waited_ns)),
            gave_up: get(&s.gave_up),
        }
    }

    /// How this client paces its attempts.
    pub fn pacing(&self) -> Pacing {
        self.pacing
    }

    /// Whether it honours `Retry-After`.
    pub fn honours_retry_after(&self) -> bool {
        self.honour_retry_after
    }

    /// The pacer's interval between attempts; `None` when not pacing.
    pub fn pace_interval(&self) -> Option<Duration> {
        self.pacer.interval()
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

    /// Opens a connection to the API ahead of the first message (a `HEAD` of the base URL,
    /// whatever it answers), so that the first paced request does not also pay for the TCP
    /// (and, on the real API, TLS) handshake: a first request late by those milliseconds makes
    /// the second, on time, arrive that much less than one interval after it.
    pub async fn warm_up(&self) {
        let _ = self.http.head(format!("{}/", self.base_url)).send().await;
    }

    /// The JWT for the next request: the one signed ahead if there is one (and it is under a
    /// minute old), else a newly signed one. Either way each request has its own token.
    ///
    /// Why sign ahead: signing takes ~4 ms of CPU, and a thread preempted while signing (on a
    /// busy machine) can double that. Between the pacer's go and the request's arrival that
    /// delay is what the server's bucket sees: a request late by 4 ms makes the next, on-time
    /// one arrive 4 ms early, which at 10 requests/s is more than 2 % of headroom absorbs.
    /// Signed after the previous response instead, the token is ready when the pacer says go.
    fn next_token(&self) -> Result<String, SmsError> {
        let spare = self
            .spare_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match spare {
            Some((signed, token)) if signed.elapsed() < SPARE_TOKEN_MAX_AGE => Ok(token),
            _ => self.token(),
        }
    }

    /// Signs the next request's token now, unless one is already waiting.
    fn sign_ahead(&self) {
        let has_one = |s: &Mutex<Option<_>>| s.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if has_one(&self.spare_token) {
            return;
        }
        if let Ok(token) = self.token() {
            let mut spare = self.spare_token.lock().unwrap_or_else(|e| e.into_inner());
            spare.get_or_insert((std::time::Instant::now(), token));
        }
    }

    /// POSTs `body` to `path` with its own JWT; `Ok` carries the JSON of a 2xx answer.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, SmsError> {
        let token = self.next_token()?;
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
            .and_then(|v| backoff::parse_retry_after(v, SystemTime::now()));
        let text = response
            .text()
            .await
            .map_err(|e| SmsError::Connection(error_chain(&e)));
        self.sign_ahead();
        let text = text?;
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

    /// Sends one SMS; returns the message id. Each attempt, retries included, first waits
    /// for this client's pacer (one that paces nothing with [`Pacing::Off`]). Retries 429,
    /// 5xx and connection errors for up to `retry.max_time`, waiting what a 429's
    /// `Retry-After` asks (when honoured), else with exponential backoff and full jitter; any
    /// other 4xx gives up at once. Giving up pages the on-call engineer.
    #[backoff(
        expo,
        factor = self.retry.factor,
        max_value = self.retry.max_value,
        max_time = self.retry.max_time,
        jitter = full,
        pacer = self.pacer,
        retry_after = |e: &SmsError| e.retry_after().filter(|_| self.honour_retry_after),
        on = error,
        giveup = SmsError::is_permanent,
        on_backoff = |d| self.note_backoff(d),
        on_giveup = async |d| self.page_oncall(to, d).await,
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

    fn note_backoff(&self, details: &Details<'_, SmsResult>) {
        self.stats.backoffs.fetch_add(1, Ordering::SeqCst);
        let wait = details.wait.unwrap_or_default();
        let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.stats.waited_ns.fetch_add(wait_ns, Ordering::SeqCst);
        let asked = details.error().and_then(SmsError::retry_after);
        if self.honour_retry_after && asked.is_some() {
            self.stats.server_waits.fetch_add(1, Ordering::SeqCst);
        }
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
#[derive(Clone, Copy, Debug, PartialEq)]
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
            elapsed,
            pacing: client.pacing(),
            honour_retry_after: client.honours_retry_after(),
        }
    }
}

impl fmt::Display for Summary {
    /// `summary: sent=<n> of <N> attempts=<a> rejected_429=<r> gave_up=<g> elapsed_s=<t>
    /// pacing=<off|R/s> retry_after=<honoured|ignored>`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "summary: sent={} of {} attempts={} rejected_429={} gave_up={} elapsed_s={:.3} \
pacing={} retry_after={}",
            self.sent,
            self.total,
            self.attempts,
            self.rejected_429,
            self.gave_up,
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
