//! An embedded stand-in for the Messages and Voice APIs, on 127.0.0.1 with an ephemeral port.
//!
//! It checks what the real API checks first (the RS256 application JWT, the request body), then
//! enforces a token bucket and answers `429 Too Many Requests` beyond it, with a `Retry-After`
//! in seconds (the wait until the bucket has a token, rounded up, at least 1) unless told not
//! to. The bucket is measured at each request's arrival (when the handler is called, before
//! the body is read and the JWT verified), as a rate-limiting gateway at the edge would, so
//! the server's own verification time does not shift the requests it counts. Faults can be
//! armed for tests: the next N connections dropped as soon as they are accepted, the next N
//! message requests answered `500`.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A fresh RSA key pair for the stand-in, as a PKCS#8 PEM private key (what the Vonage
/// dashboard hands out).
pub fn generate_private_key_pem() -> Result<String, BoxError> {
    let key = PrivateKey::new(&mut rand::rng(), 2048)?;
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
    /// Token bucket refill, in requests per second.
    pub rate: f64,
    /// Token bucket size.
    pub burst: u32,
    /// Whether a 429 carries `Retry-After` (seconds).
    pub retry_after: bool,
}

/// What the stand-in saw, for the summary and for tests.
#[derive(Default, Debug)]
pub struct Counters {
    /// Message requests that reached a handler.
    pub requests: AtomicU64,
    /// Requests (messages and calls) whose JWT verified.
    pub jwt_verified: AtomicU64,
    /// Requests whose JWT was missing or did not verify (answered 401).
    pub jwt_rejected: AtomicU64,
    /// Message requests answered 429.
    pub throttled: AtomicU64,
    /// Message requests answered 500 by an armed fault.
    pub server_errors: AtomicU64,
    /// Connections dropped by an armed fault.
    pub dropped_connections: AtomicU64,
    /// Message requests answered 400.
    pub bad_requests: AtomicU64,
}

struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token for a request that arrived `at`, or says how long until one is there.
    /// (Requests handled out of their order of arrival refill nothing for the earlier one.)
    fn take(&mut self, at: Instant) -> Result<(), Duration> {
        let refill = at.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = self.last.max(at);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

struct Shared {
    application_id: String,
    key: DecodingKey,
    bucket: Mutex<Bucket>,
    retry_after: bool,
    counters: Counters,
    drop_next: AtomicU32,
    fail_next: AtomicU32,
    /// Recipient number → message ids accepted for it.
    accepted: Mutex<BTreeMap<String, Vec<String>>>,
    /// Bodies of the Voice API calls placed.
    calls: Mutex<Vec<Value>>,
    /// When the stand-in started: the origin of [`Arrival::at`].
    started: Instant,
    /// Every message request that reached the bucket, in the order the bucket saw them.
    arrivals: Mutex<Vec<Arrival>>,
}

/// A message request that reached the token bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When it arrived, since the stand-in started.
    pub at: Duration,
    /// Whether the bucket let it through (else it was answered 429).
    pub admitted: bool,
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
        if !(config.rate > 0.0 && config.rate.is_finite()) {
            return Err(format!("rate must be a positive number, got {}", config.rate).into());
        }
        let shared = Arc::new(Shared {
            application_id: config.application_id,
            key: DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes())?,
            bucket: Mutex::new(Bucket {
                rate: config.rate,
                burst: f64::from(config.burst.max(1)),
                tokens: f64::from(config.burst.max(1)),
                last: Instant::now(),
            }),
            retry_after: config.retry_after,
            counters: Counters::default(),
            drop_next: AtomicU32::new(0),
            fail_next: AtomicU32::new(0),
            accepted: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            started: Instant::now(),
            arrivals: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/v0.1/messages", post(messages))
            .route("/v1/calls", post(calls))
            .with_state(shared.clone());
        let listener = FaultyListener {
            inner: listener,
            shared: shared.clone(),
        };
        let task = tokio::spawn(async move {
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

    /// What it counted so far.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Drops the next `n` connections as soon as they are accepted.
    pub fn drop_next_connections(&self, n: u32) {
        self.shared.drop_next.store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` (authenticated, well-formed) message requests with 500.
    pub fn fail_next_requests(&self, n: u32) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// Recipients and the message ids accepted for each.
    pub fn accepted(&self) -> BTreeMap<String, Vec<String>> {
        self.shared
            .accepted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The message requests that reached the token bucket, in the order it saw them.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared
            .arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The bodies of the Voice API calls placed.
    pub fn calls(&self) -> Vec<Value> {
        self.shared
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

struct FaultyListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for FaultyListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
            if take_one(&self.shared.drop_next) {
                self.shared
                    .counters
                    .dropped_connections
                    .fetch_add(1, Ordering::SeqCst);
                drop(io);
                continue;
            }
            return (io, addr);
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
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
            shared.counters.jwt_verified.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        Err(detail) => {
            shared.counters.jwt_rejected.fetch_add(1, Ordering::SeqCst);
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

async fn messages(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let arrival = Instant::now();
    shared.counters.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(e) => {
            shared.counters.bad_requests.fetch_add(1, Ordering::SeqCst);
            return error(StatusCode::BAD_REQUEST, "Bad Request", e.to_string());
        }
    };
    if let Err(detail) = authenticate(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", detail);
    }
    let request: MessageRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            shared.counters.bad_requests.fetch_add(1, Ordering::SeqCst);
            return error(StatusCode::BAD_REQUEST, "Bad Request", e.to_string());
        }
    };
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
    if let Some(detail) = problem {
        shared.counters.bad_requests.fetch_add(1, Ordering::SeqCst);
        return error(StatusCode::BAD_REQUEST, "Bad Request", detail);
    }
    if take_one(&shared.fail_next) {
        shared.counters.server_errors.fetch_add(1, Ordering::SeqCst);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "injected fault",
        );
    }
    let throttle = shared
        .bucket
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take(arrival);
    shared
        .arrivals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arrival {
            at: arrival.saturating_duration_since(shared.started),
            admitted: throttle.is_ok(),
        });
    if let Err(wait) = throttle {
        shared.counters.throttled.fetch_add(1, Ordering::SeqCst);
        let retry_after = wait.as_secs_f64().ceil().max(1.0).to_string();
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate Limit Hit",
            "Please wait, then retry your request",
        );
        if shared.retry_after
            && let Ok(v) = retry_after.parse()
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let id = uuid();
    shared
        .accepted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(request.to.number)
        .or_default()
        .push(id.clone());
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "message_uuid": id })),
    )
        .into_response()
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
    shared
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(body);
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
