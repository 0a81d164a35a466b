//! Pace first, back off last: keep to a rate limit instead of finding it by hitting it.
//!
//! APIs enforce rate limits: an SMS API may allow one message per second and answer
//! `429 Too Many Requests` beyond it. Backoff finds such a limit by hitting it. A client that knows
//! the limit should pace to it instead, and keep backoff for what pacing cannot foresee (other
//! clients, outages). A [`Pacer`] spaces every attempt, retries included, to a rate; the
//! attribute's `rate = ...` and `pacer = ...` arguments and the builder's `.pacer(&pacer)` use it:
//!
//! ```
//! use politely::{backoff, Pacer};
//!
//! #[derive(Debug)]
//! enum SmsError { RateLimited { retry_after: Option<u64> }, Server(u16), Rejected(u16) }
//!
//! struct Client { pacer: Pacer }
//!
//! impl Client {
//!     /// At most one attempt per second from this client, retries included; on a 429 the
//!     /// server's Retry-After is honoured, else exponential waits with full jitter.
//!     #[backoff(expo, max_value = 32, max_time = 300, pacer = self.pacer,
//!               on = error(SmsError::RateLimited { .. } | SmsError::Server(_)),
//!               retry_after = |e: &SmsError| match e {
//!                   SmsError::RateLimited { retry_after } => *retry_after,
//!                   _ => None,
//!               })]
//!     async fn send_sms(&self, to: &str) -> Result<(), SmsError> {
//!         Ok(())
//!     }
//! }
//!
//! let client = Client { pacer: Pacer::per_second(1.0) };
//! ```
//!
//! Against a stand-in API at 1 request/s, 60 messages sent this way take 1.02 x the physical limit
//! with no response 429; the same batch with backoff alone (exponential waits and full jitter)
//! takes 1.95 x with 376 ([the runs](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md)).
//!
//! # Fixed pacing
//!
//! `rate = <n> per second|minute|hour` (with `burst = <n>`) gives the annotated fn its own
//! pacer, a GCRA (the generic cell rate algorithm: one theoretical arrival time, advanced by one
//! interval per attempt) with reservations on tokio's clock, so paused-time tests see exact
//! spacing. `pacer = <expr>` paces on a [`Pacer`] you own instead: a client's field, a `static`,
//! one shared by several fns ([`Pacer::new`], [`Pacer::per_second`], [`Pacer::with_burst`]).
//!
//! A pacer keeps to the rate it is given *at its end*: it spaces departures. The server's
//! limiter judges arrivals, and a request delayed on its way (a new connection, a busy machine)
//! brings the next one in early; against a bucket with no burst, such as nginx's `limit_req`
//! without `burst`, that request is refused. When you are told the server's limit, pace a
//! margin under it with [`under_limit`] (2 % of each interval, at least 5 ms):
//!
//! ```
//! use politely::Pacer;
//! use politely::pace::under_limit;
//!
//! // The API allows 10 requests a second: one every 105 ms, not 100.
//! let pacer = Pacer::per_second(under_limit(10.0));
//! assert_eq!(pacer.interval(), Some(std::time::Duration::from_millis(105)));
//! ```
//!
//! No margin covers a new connection: the first request after a pause opens one (a TLS
//! handshake is two round trips more) and the next, on the open connection, catches up with
//! it. So the attribute (the builder and the middleware too) tells the pacer when each answer
//! came, and (at burst 1) the request after a pause's first waits for that one's answer, for
//! at most an interval past its turn, and leaves an interval after it. The answer's time is
//! paid once per pause ([`Pacer::observe`]). Nor does a margin cover a request the server
//! stamps late (its machine, or the client's, was busy) while the next arrives on time: that
//! request's answer comes as late, so a told pacer of burst 1 moves the next departure by
//! what the answer took beyond the usual. A server whose answers vary in time pays for the
//! spread: by what each answer took beyond the average, when it comes within an interval.
//!
//! A `rate` pacer lives for the whole process, one per annotated fn; with `rate_key`, one per
//! distinct key (keep the key set bounded: a sender number, not a request id). The key is any
//! `Display` value, borrowed when it is string-like (`&str`, `String`…), formatted otherwise. Sync fns pace on
//! the thread with the standard clock.
//!
//! A call cancelled while it queues for its slot (a `tokio::time::timeout` around it, a dropped
//! future; in sync code a `Pacer::reserve` guard dropped unused) gives the slot back: the next
//! caller takes it, so cancelled calls never hold up the calls that run. The time queued for the
//! pacer is not time spent failing: `max_time` and `Details::elapsed` count attempts and backoff
//! waits only, so the retries of a batch larger than `rate x max_time` are not given up while they
//! wait their turn. To bound a whole call, queueing included, wrap it in a timeout:
//!
//! ```
//! use std::time::Duration;
//! use politely::backoff;
//!
//! // At most 60 s of failing and backing off, at 1 request per second.
//! #[backoff(expo, max_time = 60, rate = 1 per second)]
//! async fn send(to: &str) -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // At most 2 minutes in all, queueing included.
//! match tokio::time::timeout(Duration::from_secs(120), send("+15550100")).await {
//!     Ok(Ok(())) => {}
//!     Ok(Err(e)) => eprintln!("gave up: {e}"),
//!     Err(_) => eprintln!("not sent within 2 minutes"),
//! }
//! # }
//! ```
//!
//! A reservation dropped before its slot (a call cancelled by a timeout, a `select!`, a dropped
//! task) gives the slot back: the pacer keeps GCRA's schedule and the slots returned to it, a new
//! caller takes the earliest returned slot still ahead, and returned slots that pass unused are
//! forgotten. A proptest over random interleavings of reserve / cancel / run (bursts 1-3) holds
//! that the attempts that ran always keep to the rate and a new slot is never later than GCRA
//! would give had the cancelled calls never been made. A panic in the body, a handler or a
//! predicate propagates unchanged, with no further attempt or handler, and the pacer stays usable.
//!
//! A pacer works without the attribute too: [`Pacer::reserve`] takes a slot and returns a
//! [`Reservation`] (dropped unused, it gives the slot back), [`Pacer::ready`] waits for a slot,
//! [`Pacer::ready_blocking`] does so on the thread, and the builder takes `.pacer(&pacer)` and
//! `.rate_key(key)`:
//!
//! ```
//! use politely::Pacer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let pacer = Pacer::per_second(2.0);
//! pacer.ready(None).await; // the first slot is now
//! let waited = pacer.ready(None).await; // the next one half a second later
//! assert_eq!(waited, std::time::Duration::from_millis(500));
//! # }
//! ```
//!
//! ## The server's wait
//!
//! **Pacing is what removes the 429s; `Retry-After` only softens them.** A server's `Retry-After`
//! says when to come back, not who should: every caller refused at the same moment is told the
//! same time. Waited out exactly, they all return together and are refused together. So the retry
//! waits the server's time and then the generator's jittered wait on top, never earlier than the
//! server said. The [`hints`](crate::hints) module reads the header and the rate-limit fields.
//!
//! Pacing keeps a fixed grid: a request that leaves a few milliseconds late can make the next one
//! arrive early for a server's burst-1 bucket, and that one 429 then costs its retry the capped
//! `Retry-After` and one slot. Pacing 2 % under the stated rate absorbs most of it, as the SMS
//! example does.
//!
//! # Adaptive pacing: a limit the client is not told
//!
//! Pacing needs the limit, and real clients rarely know it: an SMS provider's throughput differs
//! by country, carrier and sender registration, and changes without notice. [`Pacer::adaptive`]
//! learns it from what the server says and does, and follows it when it moves.
//!
//! **What it learns from.** Each attempt's outcome, as a [`Feedback`](crate::hints::Feedback): was it throttled
//! (a `429`; a `503` with `Retry-After`; a `403` with no requests remaining, as GitHub answers),
//! and the response's `Hints`: `Retry-After`, the IETF httpapi draft's `RateLimit-Policy` /
//! `RateLimit` (drafts 08-11, and the older forms), and the widespread `X-RateLimit-Limit` /
//! `-Remaining` / `-Reset` (delay-seconds or a Unix timestamp). The parser is lenient and tested
//! against junk: a member that does not parse is skipped, the rest still counts, nothing panics.
//!
//! **The algorithm: a bracketing search with backed-off probes** (reasoning in full in the
//! adaptive controller's source). The controller keeps the largest rate the server has
//! accepted (`good`), the smallest it has refused (`bad`), and paces at `good`:
//!
//! - *Start*: one request per second unless told (or none: `initial(None)` paces nothing until
//!   the first throttle or hint), doubling on every accepted attempt until the first 429, which
//!   brackets the limit between the last two rates. Any limit from 0.001/s to 10⁶/s is
//!   bracketed within about twenty attempts.
//! - *Probe*: after `gap` accepted attempts in a row (8 at first), try faster: the geometric
//!   middle of `good` and `bad` while they are more than 25 % apart, else `good` + 5 %. A probe
//!   that holds for three attempts becomes `good`, and the next probe's step doubles (so a
//!   raised limit is found in a few probes); a refused probe returns to `good` and doubles
//!   `gap` (up to 256, times the attempts in flight), so against a limit it cannot beat the
//!   client probes more and more rarely, but never stops.
//! - *Edge, then cut*: a first 429 at `good` itself is most often the edge of the limit (a
//!   request arriving 2 ms early at a burst-1 bucket paced at exactly its rate): step 3 % down.
//!   A second 429 before that rate is proven means the limit fell (or someone else shares it):
//!   halve the rate refused at the edge, at once. Only attempts sent at the current rate count (the ones in flight when the
//!   rate changed say nothing about the new one: one cut per round trip, as TCP), and attempts
//!   that did not use the rate (an idle client) prove nothing.
//! - *Hints replace guessing*: a stated quota (`q=100;w=60`) is the rate at once, never probed
//!   above (a 429 at it shaves 2 % off the share used: a late timer or a shared quota is not an
//!   unknown limit); requests remaining cap the pace so they last until the reset, none
//!   remaining holds every attempt until it; a `Retry-After` longer than one interval (plus the
//!   field's one-second resolution) holds every attempt, not only the refused one.
//!
//! Why not CUBIC, as the AWS SDKs' adaptive retry mode, or AIMD? Both come from TCP, where a lost
//! packet is cheap, many flows share a link and each must keep pushing into the loss to stay
//! fair; they settle into a sawtooth that crosses the limit every cycle, and CUBIC's probing
//! speed is an absolute constant (0.4 requests/s³ in the SDKs) that crosses a 1/s limit every
//! couple of seconds. A rate limit is one client's quota with no one to be fair to, and each
//! refused request costs a slot of the server's bucket plus a retry: a burst-1 bucket at 1/s
//! refuses *every other* request of a client 10 % too fast. On such a bucket the SDK's adaptive
//! mode spends about two of every three requests on 429s; this pacer spends four 429s on a batch
//! of 60 ([the runs](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md)).
//! The bracketing search spends its 429s deliberately (one to find the limit, then probes that get
//! geometrically rarer) and is scale-free (counted in attempts and ratios, not requests per
//! second).
//!
//! <div style="overflow-x: auto">
#![doc = include_str!("../docs/adaptive.svg")]
//! </div>
//!
//! The chart is one run of the SMS example (60 messages fired at once) in six cases: against
//! its stand-in (burst 1) with no rate headers, the IETF draft's headers, `X-RateLimit-*`
//! headers, and a limit that drops from 2/s to 1/s after 20 s; and against nginx's `limit_req`
//! (no `Retry-After`, no headers) at 1/s, without a burst and with `burst=5 nodelay`.
//!
//! **How to use it.** `rate = adaptive` gives the fn (each `rate_key`) its own adaptive pacer;
//! `pacer = <expr>, observe` paces on yours. Either way the pacer is told how each attempt went,
//! right after it and before it is judged: bare `observe` when the output tells by itself (it is
//! a [`RateFeedback`](crate::hints::RateFeedback): `Result<reqwest::Response, reqwest::Error>` with the `reqwest`
//! feature, `http::Response<B>` with `http`, a [`Feedback`](crate::hints::Feedback), or your own type), or `observe = |out|
//! ...` mapping the output to a `Feedback`:
//!
//! ```
//! use std::time::Duration;
//! use politely::{backoff, AdaptiveRate, Feedback, Pacer};
//!
//! #[derive(Debug)]
//! enum SmsError { RateLimited { retry_after: Option<Duration> }, Server(u16) }
//!
//! fn retry_after(e: &SmsError) -> Option<Duration> {
//!     match e {
//!         SmsError::RateLimited { retry_after } => *retry_after,
//!         _ => None,
//!     }
//! }
//!
//! // One learned rate for this fn, told by a closure how each attempt went.
//! #[backoff(expo, max_time = 300, rate = adaptive, retry_after = retry_after,
//!           observe = |out| match out {
//!               Err(SmsError::RateLimited { retry_after }) => {
//!                   Feedback::throttled().with_retry_after(*retry_after)
//!               }
//!               _ => Feedback::accepted(),
//!           })]
//! async fn send_sms(to: &str) -> Result<(), SmsError> {
//!     Ok(())
//! }
//!
//! // A pacer the client holds, with its tunables: pace nothing until the first 429 or hint,
//! // never under 0.1/s nor over 50/s.
//! struct Client { pacer: Pacer }
//!
//! impl Client {
//!     #[backoff(expo, max_time = 300, pacer = self.pacer, retry_after = retry_after,
//!               observe = |out| match out {
//!                   Err(SmsError::RateLimited { retry_after }) => {
//!                       Feedback::throttled().with_retry_after(*retry_after)
//!                   }
//!                   _ => Feedback::accepted(),
//!               })]
//!     async fn send(&self, to: &str) -> Result<(), SmsError> {
//!         Ok(())
//!     }
//! }
//!
//! let client = Client {
//!     pacer: Pacer::adaptive_with(AdaptiveRate::new().initial(None).floor(0.1).ceiling(50.0)),
//! };
//! assert_eq!(client.pacer.learned_rate(None), None); // nothing learned yet, no first guess
//! ```
//!
//! With reqwest the output already tells (its status and headers), so one argument does it:
//!
//! ```
//! # #[cfg(feature = "reqwest")]
//! # mod with_reqwest {
//! # use politely::backoff;
//! #[backoff(expo, max_time = 300, rate = adaptive, on = outcome,
//!           predicate = |r: &Result<reqwest::Response, reqwest::Error>| match r {
//!               Ok(response) => response.status() == 429 || response.status().is_server_error(),
//!               Err(_) => true,
//!           })]
//! async fn get(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, reqwest::Error> {
//!     client.get(url).send().await
//! }
//! # }
//! ```
//!
//! The builder takes the same: `.pacer(&pacer).observe(|out| ...)`, or `.observe_output()` when
//! the outcome is a `RateFeedback`. `pacer.learned_rate(key)` is the rate it paces to now
//! (`None` for a fixed pacer); each change is a `tracing` event, target `politely::adaptive`,
//! level DEBUG, with the new `rate`, its `interval` and the `reason`. A fixed pacer given
//! `observe` learns no rate. Sync fns work the same, pacing on the thread.
//!
//! ## The knobs, and what no server can make it do
//!
//! [`AdaptiveRate`] tunes a pacer made with [`Pacer::adaptive_with`]: `initial` (the first
//! guess; `None` paces nothing until the first throttle or hint), `floor` and `ceiling` (the
//! slowest and fastest it may pace), `max_hold` (the longest any one answer may hold it).
//!
//! It has no ceiling by default: slow start doubles until the server refuses, so a client that
//! knows an upper bound (its plan's quota, what a shared downstream takes) sets
//! [`AdaptiveRate::ceiling`]. No server can hold a client longer than an hour
//! ([`AdaptiveRate::max_hold`] sets another cap): a
//! `Retry-After`, a reset or a quota's window counts for an hour at most, the pace never falls
//! below one attempt an hour, and a cap ends on time even when no response comes meanwhile; a
//! pause longer than a minute is a pause, not a rate, so the pacer resumes near its rate when it
//! ends, no slower than half (a property test holds this over arbitrary answers).
//! The retry loop cuts a server's wait to `max_value`, or to an hour without one. Time queued for
//! a pacer is not counted in `max_time`: bound a whole call, queueing included, with
//! `tokio::time::timeout` (its reservation is given back).
//!
//! **What it does not do.** It learns one rate per pacer (per `rate_key`), for requests: quotas
//! in other units (`qu="content-bytes"`, `concurrent-requests`) are skipped, partition keys
//! ignored, and it is not a concurrency limiter. It paces with burst 1: a deep bucket's depth
//! is estimated only so that its probes are not refused, never spent, so a backlog gets no
//! burst. Several processes share one learned rate
//! only through Redis (below, [Across processes](#across-processes-redis)); adaptive pacers of their own each learn alone and together
//! exceed the limit.
//!
//! # Across processes (Redis)
//!
//! A `Pacer` paces one process. Several workers sharing one account's limit share one budget
//! through Redis (cargo feature `redis`):
//!
//! ```
//! # #[cfg(feature = "redis")] fn main() -> Result<(), politely::redis::RedisError> {
//! use std::time::Duration;
//! use politely::{Pacer, RedisPacerBuilder, redis};
//!
//! let url: String = std::env::var("REDIS_URL").unwrap_or("redis://127.0.0.1:6379/".into());
//! // 1 message/s for every process that names the budget "sms" on this server. A rate reads
//! // `count, per` wherever it is given, as in `Pacer::new(1.0, Duration::from_secs(1))`.
//! let pacer = Pacer::redis(&url, "sms", 1.0, Duration::from_secs(1))?;
//! // 60 per minute, 5 at once: a burst is set only by a name that says so.
//! let pacer = Pacer::redis_with_burst(&url, "sms", 60.0, Duration::from_secs(60), 5)?;
//! // Or with options: key prefix (default "backoff:"), per-call timeout (default 200 ms),
//! // fail closed instead of pacing locally during an outage.
//! let pacer = RedisPacerBuilder::new(redis::Client::open(url)?, "sms", 60.0, Duration::from_secs(60))
//!     .burst(5)
//!     .prefix("myapp:")
//!     .timeout(0.1)
//!     .fail_closed()
//!     .build();
//! # Ok(()) }
//! # #[cfg(not(feature = "redis"))] fn main() {}
//! ```
//!
//! The URL is any string (`&str`, `String`, `&String`…); for a `redis::ConnectionInfo`, open a
//! `redis::Client` from it and use the builder. Nothing connects before the first attempt. It goes
//! wherever a local pacer goes (`pacer = <expr>`, a field, a static), and `rate_key = k`
//! (allowed with `pacer =` too) gives each key its own budget at `<prefix><name>:<k>`.
//!
//! - **One round trip per attempt.** The GCRA reservation of the local pacer runs as a Lua
//!   script (`EVALSHA`, loaded once, reloaded after a restart) on the server's clock (`TIME`):
//!   the workers' clocks need not agree. The slot comes back as a wait counted from the
//!   answer's arrival, so the caller errs late by up to half a round trip. A budget is one
//!   sorted set that expires three intervals after its theoretical arrival time.
//! - **Cancellation.** A call dropped while waiting for its slot gives the slot back with a
//!   second script: the latest reservation is undone (with the holes just before it), an
//!   earlier one leaves a hole that the next caller takes before a fresh slot. A reservation
//!   whose answer arrives after its caller was dropped, or after the timeout (the call went on
//!   without it), is given back when the answer arrives (awaited up to a minute), and so is a
//!   slot of the local pacing dropped before it comes. 10,000 calls each cancelled by a 1 ms
//!   timeout, then 10,000 queued and aborted, leave the next fresh call within an interval of
//!   now at 10/s, with at most one outage logged (a stress test).
//!   What remains lost (the slow side): a give-back that never reaches Redis (no runtime at
//!   drop, no answer within a minute).
//! - **An hour ahead at most.** No pacer reserves more than an hour ahead (or one interval, if
//!   longer); a caller that finds the budget reserved so far waits and asks again.
//! - **Redis out, slow or restarting.** Each call to Redis is bounded by the timeout. By
//!   default the pacer then paces locally at the same rate, carrying on from the last slot
//!   Redis gave, with one `WARN` line per outage; one caller every 500 ms tries Redis again,
//!   and once it answers the first reservation asks for a slot no earlier than the local
//!   pacing's next (an interval away at most). The outage ends (an `INFO` line) once Redis
//!   has answered for 2 s without a failure: a connection that flaps is one outage in the log.
//!   Each worker paces alone meanwhile, so K workers send up to K times the rate. `fail_closed()` waits for Redis
//!   instead: no attempt starts without its slot, and once Redis is back a call waits at most
//!   a probe and a timeout (700 ms by default) more, then for its place in the budget; the
//!   outage itself is not bounded by `max_time` (wrap the call in `tokio::time::timeout` if
//!   Redis may stay away). Nothing panics: a bad URL is an error from `Pacer::redis`, a
//!   missing tokio runtime counts as an outage.
//! - **What no pacer wrote.** A key holding another type (a string, a list) is replaced by a
//!   budget, a budget whose next slot lies more than an hour (and an interval) ahead is reset,
//!   and a budget that vanished with slots reserved (`FLUSHALL`, an eviction, a restart) is
//!   re-seeded from where this process last saw it, so the calls queued behind it do not run
//!   alongside new ones at twice the rate. Two processes naming one budget with different
//!   rates: the faster rate wins (a slot of the slower counts as one of the faster's), so
//!   neither waits behind the other for more than an hour. Each case logs a `WARN` naming the
//!   key, at most once a minute per pacer.
//! - **Memory.** Each process remembers, per key whose next slot is still ahead, where the
//!   budget was (about 120 bytes per live key); idle keys are swept in amortised constant time
//!   per new key and the memory is given back: a million keys, a thousand live at a time,
//!   keep 0.34 MiB while Redis is out.
//! - On tokio's paused clock the per-call timeouts fire at once, so a Redis pacer in a
//!   `start_paused` test paces locally.
//!
//! ## Managed Redis: passwords, ACL users, TLS
//!
//! A password or an ACL user goes in the URL (`redis://:password@host:6379/`,
//! `redis://user:password@host:6379/`); the user needs the scripting commands on the budget's
//! keys (`~backoff:*`). With the `redis-tls` feature, `rediss://` connects over TLS, checking
//! the server's certificate against the system's trusted roots. A server whose certificate a
//! private CA signed needs that CA:
//!
//! ```
//! # #[cfg(feature = "redis-tls")]
//! # fn main() -> Result<(), politely::redis::RedisError> {
//! use std::time::Duration;
//! use politely::{RedisPacerBuilder, redis};
//!
//! # let ca_pem = Vec::new();
//! // let ca_pem = std::fs::read("ca.crt")?;
//! let client = redis::Client::build_with_tls(
//!     "rediss://:password@redis.internal:6380/",
//!     redis::TlsCertificates { client_tls: None, root_cert: Some(ca_pem) },
//! )?;
//! let pacer = RedisPacerBuilder::new(client, "sms", 1.0, Duration::from_secs(1)).build();
//! # Ok(()) }
//! # #[cfg(not(feature = "redis-tls"))] fn main() {}
//! ```
//!
//! A wrong password or a refused certificate is an outage like any other: one `WARN`, then
//! local pacing (or waiting, with `fail_closed()`). rustls needs a process-wide crypto
//! provider: building a Redis pacer installs aws-lc-rs (the one reqwest's rustls uses) when
//! the program has installed none; install yours first to choose another.
//!
//! ## Adaptive pacing across processes
//!
//! `Pacer::redis_adaptive(url, "sms")?` (or `RedisPacerBuilder::adaptive(client, "sms",
//! AdaptiveRate::new())` for the tunables, prefix, timeout and failing closed) makes every
//! worker that names the budget learn one rate and keep to it together. Each worker appends what
//! it observes (throttled or not, the response's rate-limit fields, the attempt's start, stamped
//! on Redis's clock) to a Redis stream for the budget (trimmed to about 10,000 entries, expiring
//! an hour after the last; a joiner replays the last 1,000). Each worker's controller learns only
//! from that stream, replayed in the same order, so all of them hold the same rate, learned from
//! the traffic the server actually sees. Slots follow the adaptive pacer's rule on Redis's clock
//! (one Lua script): one interval at the rate learned *now* after the latest start of any worker,
//! nothing reserved ahead, so a cut applies to every worker's next attempt.
//! Two workers against a 5/s bucket learn exactly 5/s together, where two that each learn
//! alone overshoot and one cuts itself far below the limit
//! ([the runs](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md)).
//! While Redis is out, each worker learns and paces alone (one warning) and rejoins when Redis
//! answers. A blocking head (`ready_blocking`) wakes early when its worker learns a change, as an
//! async one does, and asks Redis again. Assumed: Redis's clock is not stepped while a pacer lives
//! (its offset to the local clock is measured once). On Redis Cluster the name needs a hash tag
//! (`{sms}`): the script reads two keys.

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use backoff_core::RedisPacerBuilder;
pub use backoff_core::{AdaptiveRate, Pacer, PacerInstant, Reservation, under_limit};
