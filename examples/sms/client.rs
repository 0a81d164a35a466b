//! An SMS client for the Vonage Messages API, retried with `#[backoff]`: the code the
//! article is about.
//!
//! Each attempt signs a fresh RS256 application JWT and POSTs one message; `429`, `5xx`,
//! connection errors and timeouts are retried with exponential backoff and full jitter, any
//! other `4xx` gives up at once. Giving up places a call to the on-call engineer through the
//! Voice API.
//!
//! Sending an SMS is not idempotent: an attempt whose answer is lost (the connection reset
//! after the server took the message, a reply slower than the timeout) may have sent it, and
//! retrying it blindly sends it again. So each message carries an idempotency key made once,
//! when the message is made ([`Sms::new`]), not per attempt: every attempt sends the same key
//! as the `Idempotency-Key` header and as the body's `client_ref`, and a server that honours it
//! answers a repeat with the original `message_uuid` instead of sending again.
//!
//! Backoff is the last resort. By default ([`Pacing::To`]) every attempt, retries included,
//! first waits for the client's own [`Pacer`], set a little under the API's rate limit, so
//! 429s are rare; a 429's `Retry-After` (when the server sends one) is waited out before the
//! generator's jittered wait. [`Pacing::Off`] is the article's backoff-only recipe for comparison: every message
//! fired at once, each 429 found and then waited out with exponential backoff and full jitter.
//! [`Pacing::Adaptive`] paces without being told the limit: the pacer learns it from every
//! answer (`observe` on the attribute: each attempt's outcome is a [`RateFeedback`], its
//! status, `Retry-After` and rate-limit fields).

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use politely::pace::under_limit;
use politely::{Details, Feedback, Hints, Pacer, RateFeedback, backoff};
use serde::Serialize;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one message send returns: the message id the API assigned (with what its answer said
/// about the rate limit).
pub type SmsResult = Result<Sent, SmsError>;

/// A message the API took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The message id the API assigned.
    pub message_uuid: String,
    /// What the answer said about the rate limit (its rate-limit fields), for an adaptive
    /// pacer to learn from.
    pub feedback: Feedback,
}

/// An accepted message tells the pacer what its answer's rate-limit fields said.
impl RateFeedback for Sent {
    fn feedback(&self) -> Feedback {
        self.feedback.clone()
    }
}

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsError {
    /// No connection (refused, unreachable): nothing was sent. Retried.
    Refused(String),
    /// The connection failed after the request went out (reset, closed): the server may have
    /// taken the message. Retried with the same idempotency key.
    Connection(String),
    /// No answer within the timeout: the server may have taken the message. Retried with the
    /// same idempotency key.
    Timeout(String),
    /// `429 Too Many Requests`. Retried.
    RateLimited {
        /// The server's `Retry-After` (delay-seconds or an HTTP-date), when it sent one.
        retry_after: Option<Duration>,
        /// The answer's rate-limit fields (`Retry-After` among them), for an adaptive pacer.
        hints: Hints,
    },
    /// A `5xx`. Retried.
    Server {
        /// The status code.
        status: u16,
        /// The body.
        detail: String,
        /// The server's `Retry-After` (a `503` may send one), when it sent one.
        retry_after: Option<Duration>,
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

    /// Whether the server may have taken the message though no answer said so.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, SmsError::Connection(_) | SmsError::Timeout(_))
    }

    /// The wait the server asked for: a 429's or a 503's `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SmsError::RateLimited { retry_after, .. } | SmsError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

impl fmt::Display for SmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsError::Refused(e) => write!(f, "cannot connect: {e}"),
            SmsError::Connection(e) => write!(f, "connection error: {e}"),
            SmsError::Timeout(e) => write!(f, "timed out: {e}"),
            SmsError::RateLimited {
                retry_after: Some(wait),
                ..
            } => write!(
                f,
                "429 Too Many Requests (Retry-After: {} s)",
                wait.as_secs_f64()
            ),
            SmsError::RateLimited {
                retry_after: None, ..
            } => write!(f, "429 Too Many Requests"),
            SmsError::Server { status, detail, .. } | SmsError::Rejected { status, detail } => {
                write!(f, "{status}: {detail}")
            }
            SmsError::Local(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SmsError {}

/// What a failed attempt tells an adaptive pacer, as [`Feedback::from_status`] reads an
/// answer: a 429 is throttled (with its fields), and so is a 503 that asks to come back later
/// (`Retry-After`); anything else passed the server's rate limiter, or never reached it (no
/// answer: as `reqwest::Error` tells it, not throttled).
impl RateFeedback for SmsError {
    fn feedback(&self) -> Feedback {
        match self {
            SmsError::RateLimited { hints, .. } => Feedback {
                throttled: true,
                hints: hints.clone(),
            },
            SmsError::Server {
                status: 503,
                retry_after: Some(wait),
                ..
            } => Feedback::throttled().with_retry_after(Some(*wait)),
            _ => Feedback::accepted(),
        }
    }
}

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
    /// finds the bucket a fraction of a token short, and gets a 429. [`Pacing::told`] leaves
    /// `politely::pace::under_limit`'s margin: 2 % of each interval, at least 5 ms (20 ms at
    /// 1/s, 5 ms at 10/s). No margin covers the first request after a pause, which opens the
    /// connection the next ones reuse and arrives that much later than it left: the pacer
    /// holds the next request until that one's answer and starts it an interval after it.
    /// Nor one the server stamps late (a busy machine's scheduler): its answer comes as late,
    /// and the pacer moves the next departure by what that answer took beyond the usual.
    To {
        /// The API's limit, requests per second.
        rate: f64,
        /// The fraction of `rate` left unused, `0.02` for 2 %.
        headroom: f64,
    },
    /// Every attempt, retries included, first waits for an adaptive pacer
    /// ([`Pacer::adaptive`]), which is not told the limit: it learns it from each answer (429s,
    /// `Retry-After`, rate-limit fields), starting at one request per second.
    Adaptive,
}

impl Pacing {
    /// Told the API's limit, `rate` requests per second: paced under it by
    /// `politely::pace::under_limit`'s margin (the example's default).
    pub fn told(rate: f64) -> Pacing {
        let paced = under_limit(rate);
        Pacing::To {
            rate,
            // A rate that is not positive and finite paces nothing either way.
            headroom: if paced > 0.0 && paced.is_finite() {
                1.0 - paced / rate
            } else {
                0.0
            },
        }
    }

    /// The rate a fixed pacer lets through, per second; `None` when not pacing or when the
    /// rate is learned.
    pub fn paced_rate(&self) -> Option<f64> {
        match *self {
            Pacing::Off | Pacing::Adaptive => None,
            Pacing::To { rate, headroom } => Some(rate * (1.0 - headroom)),
        }
    }

    /// The pacer for this mode. `Off` gets one that paces nothing, so the attribute's
    /// `pacer = self.pacer` works in every mode (and its `observe` is a no-op but with
    /// [`Pacing::Adaptive`]).
    fn pacer(&self) -> Pacer {
        match self {
            Pacing::Adaptive => Pacer::adaptive(),
            _ => self
                .paced_rate()
                .map_or_else(Pacer::unlimited, Pacer::per_second),
        }
    }
}

impl fmt::Display for Pacing {
    /// `off`, `adaptive`, or the paced rate: `0.980/s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.paced_rate()) {
            (Pacing::Adaptive, _) => write!(f, "adaptive"),
            (_, None) => write!(f, "off"),
            (_, Some(r)) => write!(f, "{r:.3}/s"),
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
    /// Whether a 429's `Retry-After` (capped by `retry.max_value`) is waited out before the
    /// generator's jittered wait (the sum capped by what remains of `retry.max_time`).
    /// Without one, the generator's jittered wait applies either way.
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

/// One SMS to send, and the idempotency key that makes it the same message on every attempt.
#[derive(Debug)]
pub struct Sms {
    /// The recipient.
    pub to: String,
    /// The text.
    pub text: String,
    /// Made once, with the message; sent with every attempt.
    pub idempotency_key: String,
    /// Set when an attempt failed in a way that may have sent it (see
    /// [`SmsError::is_ambiguous`]): if the message is then given up, the server may hold it.
    maybe_sent: AtomicBool,
}

impl Sms {
    /// A message to `to`, with a fresh random idempotency key (a UUID v4).
    pub fn new(to: impl Into<String>, text: impl Into<String>) -> Self {
        Sms {
            to: to.into(),
            text: text.into(),
            idempotency_key: uuid_v4(),
            maybe_sent: AtomicBool::new(false),
        }
    }

    /// Whether an attempt failed in a way that may have sent it.
    pub fn maybe_sent(&self) -> bool {
        self.maybe_sent.load(Ordering::SeqCst)
    }
}

/// A random (version 4) UUID.
fn uuid_v4() -> String {
    // Version 4 in the 13th hex digit, variant `10` in the top bits of the 17th.
    let n = rand::random::<u128>();
    let n = (n & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Counts, updated as the client works.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP attempts to send a message.
    pub attempts: AtomicU64,
    /// Messages accepted (one per message, however many attempts it took).
    pub sent: AtomicU64,
    /// Attempts answered 429.
    pub rejected_429: AtomicU64,
    /// Attempts answered 5xx.
    pub server_errors: AtomicU64,
    /// Attempts with no HTTP answer: refused, reset or closed.
    pub connection_errors: AtomicU64,
    /// Attempts with no answer within the timeout.
    pub timeouts: AtomicU64,
    /// Answers the server marked `Idempotent-Replayed`: a repeated key it had already sent.
    pub replays: AtomicU64,
    /// Waits before a retry.
    pub backoffs: AtomicU64,
    /// Of those, after a 429.
    pub retries_429: AtomicU64,
    /// Of those, after a 5xx.
    pub retries_5xx: AtomicU64,
    /// Of those, after a connection error (refused, reset, closed).
    pub retries_connection: AtomicU64,
    /// Of those, after a timeout.
    pub retries_timeout: AtomicU64,
    /// Of the waits, those the server asked for with `Retry-After`.
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
    /// See [`Stats::timeouts`].
    pub timeouts: u64,
    /// See [`Stats::replays`].
    pub replays: u64,
    /// See [`Stats::backoffs`].
    pub backoffs: u64,
    /// See [`Stats::retries_429`].
    pub retries_429: u64,
    /// See [`Stats::retries_5xx`].
    pub retries_5xx: u64,
    /// See [`Stats::retries_connection`].
    pub retries_connection: u64,
    /// See [`Stats::retries_timeout`].
    pub retries_timeout: u64,
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
            timeouts: get(&s.timeouts),
            replays: get(&s.replays),
            backoffs: get(&s.backoffs),
            retries_429: get(&s.retries_429),
            retries_5xx: get(&s.retries_5xx),
            retries_connection: get(&s.retries_connection),
            retries_timeout: get(&s.retries_timeout),
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

    /// This client with `pacer` in place of the one its [`Pacing`] made: the same rate shared
    /// through Redis (`--redis`), so several processes keep to one limit together.
    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    /// The pacer's interval between attempts; `None` when not pacing.
    pub fn pace_interval(&self) -> Option<Duration> {
        self.pacer.interval()
    }

    /// The rate the adaptive pacer ([`Pacing::Adaptive`]) has learned, requests per second;
    /// `None` for a fixed pacer.
    pub fn learned_rate(&self) -> Option<f64> {
        self.pacer.learned_rate(None)
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

    /// The JWT for the next request: the one signed ahead if there is one (and it is under a
    /// minute old), else a newly signed one. Either way each request has its own token.
    ///
    /// Why sign ahead: signing takes ~4 ms of CPU, and a thread preempted while signing (on a
    /// busy machine) can double that. Between the pacer's go and the request's arrival that
    /// delay is what the server's bucket sees: a request late by 4 ms makes the next, on-time
    /// one arrive 4 ms early, which at 10 requests/s is most of the 5 ms margin.
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

    /// POSTs `body` to `path` with its own JWT (and `idempotency_key`, if any, as the
    /// `Idempotency-Key` header); `Ok` carries the JSON of a 2xx answer, whether the server
    /// marked it a replay of an earlier request with the same key, and what the answer's
    /// fields said about the rate limit.
    async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<(Value, bool, Feedback), SmsError> {
        let token = self.next_token()?;
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        if let Some(key) = idempotency_key {
            // The IETF draft's field is a structured-field string: quoted.
            request = request.header("Idempotency-Key", format!("\"{key}\""));
        }
        let response = request.send().await.map_err(|e| classify(&e))?;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(reqwest::header::RETRY_AFTER.as_str())
            .and_then(|v| politely::parse_retry_after(&v, SystemTime::now()));
        // The status, `Retry-After` and the rate-limit fields, for an adaptive pacer.
        let fields: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let rate = Feedback::from_status(status.as_u16(), &fields, SystemTime::now());
        let replayed = header("idempotent-replayed").is_some_and(|v| v == "true");
        let text = response.text().await.map_err(|e| classify(&e));
        self.sign_ahead();
        let text = text?;
        if status.is_success() {
            let json = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Ok((json, replayed, rate));
        }
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or(text);
        Err(match status.as_u16() {
            429 => SmsError::RateLimited {
                retry_after,
                hints: rate.hints,
            },
            s @ 500..=599 => SmsError::Server {
                status: s,
                detail,
                retry_after,
            },
            s => SmsError::Rejected { status: s, detail },
        })
    }

    /// Sends one SMS; returns the message id. Each attempt, retries included, first waits
    /// for this client's pacer (one that paces nothing with [`Pacing::Off`]) and sends the
    /// message's own idempotency key, so a retry after a lost answer is not a second SMS.
    /// Each attempt's outcome is then told to the pacer (`observe`: the output is a
    /// [`RateFeedback`]), which an adaptive pacer learns the limit from; a fixed pacer only
    /// reads when it came (it holds the request after a pause's first until that answer).
    /// Retries 429, 5xx, connection errors and timeouts for up to `retry.max_time`, waiting
    /// what a `Retry-After` asks (when honoured), else with exponential backoff and full
    /// jitter; any other 4xx gives up at once. Giving up pages the on-call engineer.
    #[backoff(
        expo,
        factor = self.retry.factor,
        max_value = self.retry.max_value,
        max_time = self.retry.max_time,
        jitter = full,
        pacer = self.pacer,
        observe,
        retry_after = |e: &SmsError| e.retry_after().filter(|_| self.honour_retry_after),
        on = error,
        giveup = SmsError::is_permanent,
        on_backoff = |d| self.note_backoff(d),
        on_giveup = async |d| self.page_oncall(sms, d).await,
        backoff_log_level = debug,
        giveup_log_level = warn,
    )]
    pub async fn send_sms(&self, sms: &Sms) -> SmsResult {
        self.stats.attempts.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "from": { "type": "sms", "number": self.from },
            "to": { "type": "sms", "number": sms.to },
            "message": { "content": { "type": "text", "text": sms.text } },
            "client_ref": sms.idempotency_key,
        });
        match self
            .post("/v0.1/messages", &body, Some(&sms.idempotency_key))
            .await
        {
            Ok((answer, replayed, rate)) => {
                self.stats.sent.fetch_add(1, Ordering::SeqCst);
                if replayed {
                    self.stats.replays.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Sent {
                    message_uuid: answer["message_uuid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    feedback: rate,
                })
            }
            Err(e) => {
                if e.is_ambiguous() {
                    sms.maybe_sent.store(true, Ordering::SeqCst);
                }
                let counter = match e {
                    SmsError::RateLimited { .. } => Some(&self.stats.rejected_429),
                    SmsError::Server { .. } => Some(&self.stats.server_errors),
                    SmsError::Refused(_) | SmsError::Connection(_) => {
                        Some(&self.stats.connection_errors)
                    }
                    SmsError::Timeout(_) => Some(&self.stats.timeouts),
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
        let s = &self.stats;
        s.backoffs.fetch_add(1, Ordering::SeqCst);
        let wait = details.wait.unwrap_or_default();
        let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        s.waited_ns.fetch_add(wait_ns, Ordering::SeqCst);
        let error = details.error();
        let cause = match error {
            Some(SmsError::RateLimited { .. }) => Some(&s.retries_429),
            Some(SmsError::Server { .. }) => Some(&s.retries_5xx),
            Some(SmsError::Refused(_) | SmsError::Connection(_)) => Some(&s.retries_connection),
            Some(SmsError::Timeout(_)) => Some(&s.retries_timeout),
            _ => None,
        };
        if let Some(c) = cause {
            c.fetch_add(1, Ordering::SeqCst);
        }
        if self.honour_retry_after && error.and_then(SmsError::retry_after).is_some() {
            s.server_waits.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// `on_giveup`: records the failure and calls the on-call engineer.
    async fn page_oncall(&self, sms: &Sms, details: &Details<'_, SmsResult>) {
        self.stats.gave_up.fetch_add(1, Ordering::SeqCst);
        let error = details
            .error()
            .cloned()
            .unwrap_or_else(|| SmsError::Local("gave up without an error".to_owned()));
        let maybe = if sms.maybe_sent() {
            " It may have been sent: an attempt's answer was lost."
        } else {
            ""
        };
        let say = format!(
            "An S M S to {} could not be sent after {} attempts in {} seconds. Last error: {error}.{maybe}",
            sms.to,
            details.tries,
            details.elapsed.as_secs()
        );
        let call = self.place_call(&say).await;
        self.gave_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(GaveUp {
                to: sms.to.clone(),
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
        let (answer, _, _) = self.post("/v1/calls", &body, None).await?;
        Ok(answer["uuid"].as_str().unwrap_or_default().to_owned())
    }
}

/// A transport error as an [`SmsError`]: refused (nothing sent), timed out, or lost after the
/// request went out.
fn classify(e: &reqwest::Error) -> SmsError {
    if e.is_builder() {
        SmsError::Local(e.to_string())
    } else if e.is_connect() {
        SmsError::Refused(error_chain(e))
    } else if e.is_timeout() {
        SmsError::Timeout(error_chain(e))
    } else {
        SmsError::Connection(error_chain(e))
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
