//! A stand-in for the Vonage Messages and Voice APIs, on 127.0.0.1: what the SMS example
//! (`examples/sms/`), its tests and `scripts/` run against, with no account and no network.
//!
//! It checks what the real API checks first (the RS256 application JWT, the request body), then
//! enforces a token bucket and answers `429 Too Many Requests` beyond it, with a `Retry-After`
//! in seconds (the wait until the bucket has a token, rounded up, at least 1) unless told not
//! to. The bucket is measured at each request's arrival (when the handler is called, before
//! the body is read and the JWT verified), as a rate-limiting gateway at the edge would, so
//! the server's own verification time does not shift the requests it counts. Its clock is
//! tokio's, so a test on a paused clock moves it with `tokio::time::advance`.
//!
//! Or it enforces no limit ([`Config::enforce_limit`] off, `standin --no-limit`) and a limiter
//! nobody here wrote does: [`nginx`] runs nginx's `limit_req` in front of it, which answers
//! `429` with no `Retry-After` and counts every request of its location.
//!
//! Rate-limit fields ([`RateHeaders`], `--rate-headers off|ietf|x`, off by default): every
//! answer that passed the bucket, `202` and `429` alike, says the limit in force and the
//! bucket's state, in the IETF draft's `RateLimit-Policy` / `RateLimit` or in
//! `X-RateLimit-Limit` / `-Remaining` / `-Reset`. The limit can change while it runs
//! ([`RateSchedule`], `--rate-schedule T:RATE,...`): from `T` seconds after the first message
//! request on, `RATE` requests/s, the burst unchanged and the bucket's tokens kept.
//!
//! Idempotency: a message request carrying a key (the `Idempotency-Key` header, else the
//! body's `client_ref`) is sent on once. A repeat of the key with the same body is answered
//! with the original `202` and `message_uuid`, marked `Idempotent-Replayed: true`, without
//! sending again; the same key with another body is answered `422`. Keys are kept 24 hours,
//! [`KEY_CAPACITY`] at most ([`IdempotencyStore`]).
//!
//! Faults ([`Faults`]), drawn at random from a seed for each message request: the connection
//! reset after the message was sent on (the client cannot tell it was), the reply delayed, the
//! connection reset before anything is done, `500`, `503` with `Retry-After`. A reset is a real
//! TCP reset: the connection's socket is closed with `SO_LINGER` 0, so the client reads
//! `ECONNRESET`, not a clean close. Older, counted faults remain for tests: the next N
//! connections dropped as they are accepted, the next N message requests answered `500`.
//!
//! What it saw is in [`StandIn::stats`], also served as JSON at `GET /stats`.

mod faults;
mod idempotency;
mod limit;
pub mod nginx;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub use faults::{Fault, Faults};
pub use idempotency::{IdempotencyStore, KEY_CAPACITY, KEY_TTL, Lookup};
pub use limit::{RateChange, RateHeaders, RateSchedule, quota};

use limit::{Bucket, Decision, ceil_secs};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The header that marks a replayed answer (the name Stripe uses).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The `Retry-After` of a `503` fault, in seconds.
pub const RETRY_AFTER_503_SECS: u64 = 1;

/// A fresh 2048-bit RSA key pair for the stand-in, as a PKCS#8 PEM private key (what the
/// Vonage dashboard hands out).
pub fn generate_private_key_pem() -> Result<String, BoxError> {
    generate_private_key_pem_with_bits(2048)
}

/// A fresh RSA key pair of `bits` (1024 at least), as a PKCS#8 PEM private key. Tests use
/// 1024 bits: signing then costs a fraction of a millisecond instead of a few, which matters
/// when many copies of a real-clock test share two CPUs.
pub fn generate_private_key_pem_with_bits(bits: usize) -> Result<String, BoxError> {
    let key = PrivateKey::new(&mut rand::rng(), bits)?;
    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
}

/// The public half of a PEM private key (PKCS#8 or PKCS#1), as a PEM public key.
pub fn public_key_pem(private_pem: &str) -> Result<String, BoxError> {
    let key = PrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| PrivateKey::from_pkcs1_pem(private_pem))?;
    Ok(key.to_public_key().to_public_key_pem(LineEnding::LF)?)
}

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The application whose tokens it accepts.
    pub application_id: String,
    /// The application's public key (PEM), to verify the JWT signature.
    pub public_key_pem: String,
    /// Whether it enforces its rate limit (the token bucket: `rate`, `burst`, the schedule and
    /// the rate-limit fields). Off behind a limiter of its own, such as nginx's `limit_req`
    /// ([`nginx`], `standin --no-limit`): every request is let through, none is answered 429,
    /// and none is recorded in [`Stats::arrivals`].
    pub enforce_limit: bool,
    /// Token bucket refill, in requests per second (until the schedule changes it).
    pub rate: f64,
    /// Token bucket size.
    pub burst: u32,
    /// Whether a 429 carries `Retry-After` (seconds).
    pub retry_after: bool,
    /// The rate-limit fields every answer that passed the bucket carries (off by default).
    pub rate_headers: RateHeaders,
    /// When the rate changes, counted from the first message request (none by default).
    pub rate_schedule: RateSchedule,
    /// Faults drawn at random for each message request.
    pub faults: Faults,
}

impl Config {
    /// `1 request/s, burst 1`, then the schedule and the rate headers when set:
    /// `2 request/s, burst 1, then 1/s from 20 s; rate headers ietf`; `no limit` when it
    /// enforces none.
    pub fn describe_limit(&self) -> String {
        if !self.enforce_limit {
            return "no limit".to_owned();
        }
        let mut text = format!("{} request/s, burst {}", self.rate, self.burst);
        for c in self.rate_schedule.changes() {
            text += &format!(", then {}/s from {} s", c.rate, c.after.as_secs_f64());
        }
        if self.rate_headers != RateHeaders::Off {
            text += &format!("; rate headers {}", self.rate_headers);
        }
        text
    }
}

/// What the stand-in counted, for the example's report and for tests; `GET /stats` serves it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Message requests that reached a handler.
    pub requests: u64,
    /// Requests (messages and calls) whose JWT verified.
    pub jwt_verified: u64,
    /// Requests whose JWT was missing or did not verify (answered 401).
    pub jwt_rejected: u64,
    /// Message requests answered 400.
    pub bad_requests: u64,
    /// Message requests answered 429 (none when it enforces no limit).
    pub throttled: u64,
    /// Messages sent on: what the server holds. One per key at most.
    pub delivered: u64,
    /// Recipients sent the same text more than once: deliveries beyond the first.
    pub duplicates: u64,
    /// Repeated keys answered with the original 202, without sending again.
    pub replayed: u64,
    /// Repeated keys with another body, answered 422.
    pub conflicts: u64,
    /// The most deliveries any one key had (0 or 1 when keys are honoured).
    pub max_deliveries_per_key: u64,
    /// Faults: connections reset after the message was sent on.
    pub accept_then_drop: u64,
    /// Faults: replies delayed after the message was sent on.
    pub slow: u64,
    /// Faults: connections reset before anything was done.
    pub reset: u64,
    /// Faults: `500` (drawn or armed).
    pub status_500: u64,
    /// Faults: `503` with `Retry-After`.
    pub status_503: u64,
    /// Connections dropped by an armed fault as they were accepted.
    pub dropped_connections: u64,
    /// Voice API calls placed.
    pub calls: u64,
    /// The limit over time: the configured rate from the first request on (`from_s` 0), then
    /// each change of the schedule; empty when it enforces no limit.
    #[serde(default)]
    pub limits: Vec<LimitStep>,
    /// Every message request that reached the token bucket, in the order it saw them: when
    /// (since the first request), its verdict, and the limit then. Empty when it enforces no
    /// limit: there is no bucket.
    #[serde(default)]
    pub arrivals: Vec<ArrivalRecord>,
}

/// One step of the limit, in [`Stats::limits`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitStep {
    /// Seconds after the first message request.
    pub from_s: f64,
    /// Requests per second from then on.
    pub rate: f64,
}

/// One message request that reached the token bucket, in [`Stats::arrivals`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArrivalRecord {
    /// Seconds after the first message request.
    pub t_s: f64,
    /// `202` if the bucket let it through (what was answered then may still be a `422` or a
    /// fault, counted above), `429` if not.
    pub status: u16,
    /// The limit in force, requests per second.
    pub rate: f64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    jwt_verified: AtomicU64,
    jwt_rejected: AtomicU64,
    bad_requests: AtomicU64,
    throttled: AtomicU64,
    replayed: AtomicU64,
    conflicts: AtomicU64,
    accept_then_drop: AtomicU64,
    slow: AtomicU64,
    reset: AtomicU64,
    status_500: AtomicU64,
    status_503: AtomicU64,
    dropped_connections: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::SeqCst);
}

/// A message the stand-in sent on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The id it answered.
    pub message_uuid: String,
    /// The recipient.
    pub to: String,
    /// The text.
    pub text: String,
    /// Its idempotency key, if it had one.
    pub key: Option<String>,
}

struct Shared {
    application_id: String,
    key: DecodingKey,
    /// `None` when it enforces no limit.
    bucket: Option<Mutex<Bucket>>,
    retry_after: bool,
    rate_headers: RateHeaders,
    /// The configured rate and the schedule, for [`Stats::limits`].
    limits: Vec<LimitStep>,
    counters: Counters,
    dice: Mutex<faults::Dice>,
    drop_next: AtomicU32,
    fail_next: AtomicU32,
    keys: Mutex<IdempotencyStore>,
    /// Every message sent on, in order.
    deliveries: Mutex<Vec<Delivery>>,
    /// Bodies of the Voice API calls placed.
    calls: Mutex<Vec<Value>>,
    /// When the stand-in started: the origin of [`Arrival::at`].
    started: Instant,
    /// Every message request that reached the bucket, in the order the bucket saw them.
    arrivals: Mutex<Vec<Arrival>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        let deliveries = lock(&self.deliveries);
        let mut per_message: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        let mut per_key: BTreeMap<&str, u64> = BTreeMap::new();
        for d in deliveries.iter() {
            *per_message.entry((&d.to, &d.text)).or_default() += 1;
            if let Some(k) = &d.key {
                *per_key.entry(k).or_default() += 1;
            }
        }
        Stats {
            requests: get(&c.requests),
            jwt_verified: get(&c.jwt_verified),
            jwt_rejected: get(&c.jwt_rejected),
            bad_requests: get(&c.bad_requests),
            throttled: get(&c.throttled),
            delivered: deliveries.len() as u64,
            duplicates: per_message.values().map(|n| n - 1).sum(),
            replayed: get(&c.replayed),
            conflicts: get(&c.conflicts),
            max_deliveries_per_key: per_key.values().copied().max().unwrap_or(0),
            accept_then_drop: get(&c.accept_then_drop),
            slow: get(&c.slow),
            reset: get(&c.reset),
            status_500: get(&c.status_500),
            status_503: get(&c.status_503),
            dropped_connections: get(&c.dropped_connections),
            calls: lock(&self.calls).len() as u64,
            limits: self.limits.clone(),
            arrivals: lock(&self.arrivals)
                .iter()
                .map(|a| ArrivalRecord {
                    t_s: a.since_first.as_secs_f64(),
                    status: if a.admitted { 202 } else { 429 },
                    rate: a.rate,
                })
                .collect(),
        }
    }
}

/// A message request that reached the token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrival {
    /// When it arrived, since the stand-in started.
    pub at: Duration,
    /// When it arrived, since the first message request (the origin of the schedule).
    pub since_first: Duration,
    /// Whether the bucket let it through (else it was answered 429).
    pub admitted: bool,
    /// The limit in force when it arrived, requests per second.
    pub rate: f64,
}

/// Takes one from an armed fault counter, if any is left.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// A running stand-in, served by a task on the caller's runtime; stops when dropped.
///
/// (A thread of its own would look more like a server on a machine of its own, but on a busy
/// machine the OS then wakes that thread for each request up to a few milliseconds late, and
/// the token bucket would measure those milliseconds rather than the client: at 10 requests/s
/// with burst 1 they are enough for a 429.)
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Binds 127.0.0.1 on an ephemeral port and serves in a background task.
    pub async fn start(config: Config) -> Result<StandIn, BoxError> {
        StandIn::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Binds `addr` and serves in a background task.
    pub async fn start_on(addr: SocketAddr, config: Config) -> Result<StandIn, BoxError> {
        if !(config.rate > 0.0 && config.rate.is_finite()) {
            return Err(format!("rate must be a positive number, got {}", config.rate).into());
        }
        let limits = if config.enforce_limit {
            std::iter::once(LimitStep {
                from_s: 0.0,
                rate: config.rate,
            })
            .chain(config.rate_schedule.changes().iter().map(|c| LimitStep {
                from_s: c.after.as_secs_f64(),
                rate: c.rate,
            }))
            .collect()
        } else {
            Vec::new()
        };
        let shared = Arc::new(Shared {
            application_id: config.application_id,
            key: DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes())?,
            bucket: config.enforce_limit.then(|| {
                Mutex::new(Bucket::new(
                    config.rate,
                    config.burst,
                    &config.rate_schedule,
                ))
            }),
            retry_after: config.retry_after,
            rate_headers: config.rate_headers,
            limits,
            counters: Counters::default(),
            dice: Mutex::new(config.faults.dice()),
            drop_next: AtomicU32::new(0),
            fail_next: AtomicU32::new(0),
            keys: Mutex::new(IdempotencyStore::new(KEY_TTL, KEY_CAPACITY)),
            deliveries: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            started: Instant::now(),
            arrivals: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/v0.1/messages", post(messages))
            .route("/v1/calls", post(calls))
            .route("/stats", get(stats))
            .with_state(shared.clone());
        let listener = FaultyListener {
            inner: listener,
            shared: shared.clone(),
        };
        let task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<Conn>();
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("stand-in API stopped: {e}");
            }
        });
        Ok(StandIn { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it counted so far (what `GET /stats` serves).
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Drops the next `n` connections as soon as they are accepted.
    pub fn drop_next_connections(&self, n: u32) {
        self.shared.drop_next.store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` (authenticated, well-formed) message requests with 500.
    pub fn fail_next_requests(&self, n: u32) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every message sent on, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared.deliveries).clone()
    }

    /// Recipients and the message ids sent on for each.
    pub fn accepted(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in lock(&self.shared.deliveries).iter() {
            out.entry(d.to.clone())
                .or_default()
                .push(d.message_uuid.clone());
        }
        out
    }

    /// The message requests that reached the token bucket, in the order it saw them.
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.shared.arrivals).clone()
    }

    /// The bodies of the Voice API calls placed.
    pub fn calls(&self) -> Vec<Value> {
        lock(&self.shared.calls).clone()
    }
}

/// One connection as the handlers see it: who, and the switch that resets it.
#[derive(Clone, Debug)]
pub struct Conn {
    reset: Arc<AtomicBool>,
}

impl Conn {
    /// Resets the connection instead of answering: from now on it neither reads nor writes,
    /// so the handler's response is never sent, and its socket closes with `SO_LINGER` 0
    /// (a TCP RST).
    fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, FaultyListener>>
    for Conn
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, FaultyListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP stream that a handler can reset (see [`Conn::reset`]).
struct FaultIo {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl FaultIo {
    fn reset_error(&self) -> Option<io::Error> {
        self.reset
            .load(Ordering::SeqCst)
            .then(|| io::Error::from(io::ErrorKind::ConnectionReset))
    }
}

impl Drop for FaultIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            // Closing with a zero linger sends RST and discards anything unsent.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for FaultIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

/// Accepts connections, drops the armed ones, and wraps the others so that a handler can
/// reset them.
struct FaultyListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for FaultyListener {
    type Io = FaultIo;
    type Addr = Conn;

    async fn accept(&mut self) -> (FaultIo, Conn) {
        loop {
            let (stream, _) = axum::serve::Listener::accept(&mut self.inner).await;
            if take_one(&self.shared.drop_next) {
                bump(&self.shared.counters.dropped_connections);
                drop(stream);
                continue;
            }
            let reset = Arc::new(AtomicBool::new(false));
            let conn = Conn {
                reset: reset.clone(),
            };
            return (FaultIo { stream, reset }, conn);
        }
    }

    fn local_addr(&self) -> io::Result<Conn> {
        self.inner.local_addr()?;
        Ok(Conn {
            reset: Arc::new(AtomicBool::new(false)),
        })
    }
}

#[derive(Deserialize)]
struct Claims {
    application_id: String,
    #[allow(dead_code)]
    iat: u64,
    #[allow(dead_code)]
    jti: String,
}

fn error(status: StatusCode, title: &str, detail: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({
            "type": format!("https://developer.vonage.com/api-errors#{}", status.as_u16()),
            "title": title,
            "detail": detail.into(),
        })),
    )
        .into_response()
}

/// Verifies `Authorization: Bearer <RS256 JWT>` for this application; the error is the 401's
/// detail.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<(), String> {
    let result = (|| {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or("missing Authorization header")?
            .to_str()
            .map_err(|_| "Authorization header is not text")?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or("Authorization is not a Bearer token")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat", "jti"]);
        let data = jsonwebtoken::decode::<Claims>(token, &shared.key, &validation)
            .map_err(|e| format!("invalid token: {e}"))?;
        if data.claims.application_id != shared.application_id {
            return Err("token is for another application".to_owned());
        }
        Ok::<(), String>(())
    })();
    match result {
        Ok(()) => {
            bump(&shared.counters.jwt_verified);
            Ok(())
        }
        Err(detail) => {
            bump(&shared.counters.jwt_rejected);
            Err(detail)
        }
    }
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(rename = "type")]
    kind: String,
    number: String,
}

#[derive(Deserialize)]
struct Content {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

#[derive(Deserialize)]
struct Message {
    content: Content,
}

#[derive(Deserialize)]
struct MessageRequest {
    from: Endpoint,
    to: Endpoint,
    message: Message,
    /// The Messages API's free-form reference; here also the idempotency key when the
    /// `Idempotency-Key` header is absent.
    #[serde(default)]
    client_ref: Option<String>,
}

/// E.164 without the `+`: 7 to 15 digits.
fn valid_number(number: &str) -> bool {
    (7..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit())
}

fn uuid() -> String {
    let n: u128 = rand::random();
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

/// Reads, authenticates and validates a message request; the error is the answer.
async fn read_message(
    shared: &Shared,
    request: Request,
) -> Result<(HeaderMap, Value, MessageRequest), Response> {
    let bad = |detail: String| {
        bump(&shared.counters.bad_requests);
        error(StatusCode::BAD_REQUEST, "Bad Request", detail)
    };
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| bad(e.to_string()))?;
    if let Err(detail) = authenticate(shared, &headers) {
        return Err(error(StatusCode::UNAUTHORIZED, "Unauthorized", detail));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
    let request: MessageRequest =
        serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
    let problem = if request.from.kind != "sms" || request.to.kind != "sms" {
        Some("`from.type` and `to.type` must be `sms`".to_owned())
    } else if request.message.content.kind != "text" || request.message.content.text.is_empty() {
        Some("`message.content` must be non-empty text".to_owned())
    } else if !valid_number(&request.to.number) {
        Some(format!(
            "`to.number` {:?} is not an E.164 number",
            request.to.number
        ))
    } else if !valid_number(&request.from.number) {
        Some(format!(
            "`from.number` {:?} is not an E.164 number",
            request.from.number
        ))
    } else {
        None
    };
    match problem {
        Some(detail) => Err(bad(detail)),
        None => Ok((headers, value, request)),
    }
}

/// The request's idempotency key: the `Idempotency-Key` header (a structured-field string,
/// `"..."`; a bare token is taken as it is), else `client_ref`.
fn idempotency_key(headers: &HeaderMap, request: &MessageRequest) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned()
        })
        .or_else(|| request.client_ref.clone())
        .filter(|k| !k.is_empty())
}

fn accepted(id: &str, replayed: bool) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "message_uuid": id })),
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// An answer that is never sent: the connection is reset instead.
fn reset(conn: &Conn) -> Response {
    conn.reset();
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    request: Request,
) -> Response {
    let arrival = Instant::now();
    if let Some(bucket) = &shared.bucket {
        lock(bucket).arrived(arrival.into_std());
    }
    bump(&shared.counters.requests);
    let (headers, body, request) = match read_message(&shared, request).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let fault = lock(&shared.dice).draw();
    match fault {
        Some(Fault::Reset(_)) => {
            bump(&shared.counters.reset);
            return reset(&conn);
        }
        Some(Fault::Status500(_)) => {
            bump(&shared.counters.status_500);
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "injected fault",
            );
        }
        Some(Fault::Status503(_)) => {
            bump(&shared.counters.status_503);
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "injected fault",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_503_SECS));
            return response;
        }
        _ => {}
    }
    if take_one(&shared.fail_next) {
        bump(&shared.counters.status_500);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "injected fault",
        );
    }
    let decision = shared.bucket.as_ref().map(|bucket| {
        let decision: Decision = lock(bucket).take(arrival.into_std());
        lock(&shared.arrivals).push(Arrival {
            at: arrival.saturating_duration_since(shared.started),
            since_first: decision.since_first,
            admitted: decision.admitted,
            rate: decision.rate,
        });
        decision
    });
    let mut response = match decision {
        Some(decision) if !decision.admitted => {
            bump(&shared.counters.throttled);
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate Limit Hit",
                "Please wait, then retry your request",
            );
            if shared.retry_after {
                let secs = ceil_secs(decision.next_token).min(u32::MAX.into()) as u32;
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        _ => send_on(&shared, &conn, fault, &headers, body, request).await,
    };
    if let Some(decision) = decision {
        limit::apply(&decision, shared.rate_headers, response.headers_mut());
    }
    response
}

/// Sends on a message the bucket let through (once per key), and answers.
async fn send_on(
    shared: &Shared,
    conn: &Conn,
    fault: Option<Fault>,
    headers: &HeaderMap,
    body: Value,
    request: MessageRequest,
) -> Response {
    // Sent on at most once per key: the lookup, the send and the store are one step.
    let key = idempotency_key(headers, &request);
    let (id, replayed) = {
        let mut keys = lock(&shared.keys);
        let now = std::time::Instant::now();
        let found = match &key {
            Some(k) => keys.lookup(k, &body, now),
            None => Lookup::New,
        };
        match found {
            Lookup::Conflict => {
                bump(&shared.counters.conflicts);
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Idempotency Key Reused",
                    "this Idempotency-Key was used with another request body",
                );
            }
            Lookup::Replay(id) => {
                bump(&shared.counters.replayed);
                (id, true)
            }
            Lookup::New => {
                let id = uuid();
                if let Some(k) = &key {
                    keys.insert(k, body, id.clone(), now);
                }
                lock(&shared.deliveries).push(Delivery {
                    message_uuid: id.clone(),
                    to: request.to.number,
                    text: request.message.content.text,
                    key,
                });
                (id, false)
            }
        }
    };
    match fault {
        Some(Fault::AcceptThenDrop(_)) => {
            bump(&shared.counters.accept_then_drop);
            return reset(conn);
        }
        Some(Fault::Slow(_, wait)) => {
            bump(&shared.counters.slow);
            tokio::time::sleep(wait).await;
        }
        _ => {}
    }
    accepted(&id, replayed)
}

async fn calls(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(detail) = authenticate(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", detail);
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, "Bad Request", e.to_string()),
    };
    let ok = body["to"][0]["number"].is_string()
        && body["from"]["number"].is_string()
        && body["ncco"].as_array().is_some_and(|a| !a.is_empty());
    if !ok {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "a call needs `to[0].number`, `from.number` and a non-empty `ncco`",
        );
    }
    lock(&shared.calls).push(body);
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "uuid": uuid(),
            "status": "started",
            "direction": "outbound",
            "conversation_uuid": format!("CON-{}", uuid()),
        })),
    )
        .into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> axum::Json<Stats> {
    axum::Json(shared.stats())
}

/// The application id the example and the `standin` binary use when `VONAGE_APPLICATION_ID`
/// is unset.
pub const DEFAULT_APPLICATION_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

/// `VONAGE_PRIVATE_KEY`: the PEM itself, or a path to it; `None` when unset.
pub fn private_key_from_env() -> Result<Option<String>, String> {
    let Ok(value) = std::env::var("VONAGE_PRIVATE_KEY") else {
        return Ok(None);
    };
    if value.contains("-----BEGIN") {
        // A PEM pasted into one line keeps its newlines as `\n`.
        return Ok(Some(value.replace("\\n", "\n")));
    }
    std::fs::read_to_string(&value)
        .map(Some)
        .map_err(|e| format!("VONAGE_PRIVATE_KEY: cannot read {value}: {e}"))
}

/// Runs a stand-in on `addr` until the process ends (serve-only mode, for several clients or
/// worker processes at once). With no `VONAGE_PRIVATE_KEY` it makes a key pair and writes the
/// private key to a file, whose path it prints, for the clients to sign with.
pub async fn serve_only(addr: SocketAddr, config: Config) -> Result<(), BoxError> {
    let _server = announce_and_start(addr, config).await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// As [`serve_only`], behind nginx's `limit_req` ([`nginx`]): the stand-in enforces no limit,
/// nginx enforces `limit` in front of it. Prints `STANDIN_URL=...` (the stand-in itself, for
/// `GET /stats` past the limit), `NGINX_URL=...` (where clients send) and
/// `NGINX_ACCESS_LOG=...`; on SIGINT or SIGTERM stops nginx, removes its directory (the logs
/// with it) and returns.
pub async fn serve_behind_nginx(
    addr: SocketAddr,
    mut config: Config,
    limit: nginx::LimitReq,
) -> Result<(), BoxError> {
    config.enforce_limit = false;
    // Listening for the signals before anything starts: one that came before would end the
    // process and leave nginx running.
    let stop = stopped()?;
    let server = announce_and_start(addr, config).await?;
    let upstream = server.addr();
    let proxy = tokio::task::spawn_blocking(move || nginx::Nginx::start(upstream, limit)).await??;
    println!("STANDIN_URL={}", server.base_url());
    println!("NGINX_URL={}", proxy.base_url());
    println!("NGINX_ACCESS_LOG={}", proxy.access_log_path().display());
    println!(
        "nginx at {} in front of it: limit_req {limit}, 429 with no Retry-After (config: {})",
        proxy.base_url(),
        proxy.prefix().join("nginx.conf").display()
    );
    stop.await?;
    drop(proxy);
    Ok(())
}

/// A future that ends on SIGINT (Ctrl-C) or, on Unix, SIGTERM, received from now on (the
/// handlers are installed before it returns).
fn stopped() -> io::Result<impl Future<Output = io::Result<()>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            Ok(())
        })
    }
    #[cfg(not(unix))]
    Ok(tokio::signal::ctrl_c())
}

/// Prepares the key (see [`serve_only`]), starts the stand-in on `addr` and prints how to reach
/// it.
async fn announce_and_start(addr: SocketAddr, mut config: Config) -> Result<StandIn, BoxError> {
    if config.public_key_pem.is_empty() {
        let private = match private_key_from_env()? {
            Some(pem) => pem,
            None => {
                let pem = generate_private_key_pem()?;
                let path = std::env::temp_dir()
                    .join(format!("backoff-standin-{}.pem", std::process::id()));
                std::fs::write(&path, &pem)?;
                println!("VONAGE_PRIVATE_KEY={}", path.display());
                pem
            }
        };
        config.public_key_pem = public_key_pem(&private)?;
    }
    println!("VONAGE_APPLICATION_ID={}", config.application_id);
    let faults: Vec<String> = config.faults.list().iter().map(Fault::to_string).collect();
    let limit = config.describe_limit();
    let seed = config.faults.seed;
    let server = StandIn::start_on(addr, config).await?;
    println!(
        "stand-in Messages API at {} ({limit}; faults: {}; seed {seed}); GET /stats for its counts",
        server.base_url(),
        if faults.is_empty() {
            "none".to_owned()
        } else {
            faults.join(", ")
        },
    );
    Ok(server)
}
