//! Non-idempotent calls: retry them safely with idempotency keys.
//!
//! A retry is safe when doing the call twice is the same as doing it once. Sending an SMS,
//! charging a card or creating an order is not: when an attempt fails *after* the server did the
//! work (the connection reset before the reply, a reply slower than the client's timeout), the
//! client cannot tell, and a blind retry does the work again. The cure is an
//! idempotency key, for any non-idempotent call behind `#[backoff]`:
//!
//! - Make the key once per operation, *outside* the retried fn, and pass it in: the attribute runs
//!   the body again with the same arguments, so every attempt sends the same key. A key made in
//!   the body (like a JWT's `jti`) is new on each attempt and dedups nothing.
//! - Send it where the server reads it: the `Idempotency-Key` header (the IETF httpapi draft's
//!   name; a quoted string) and, for the Messages API, the body's `client_ref`.
//! - Retry the ambiguous failures (a timeout, a reset after the request went out) only with a key;
//!   a refused connection sent nothing; a 4xx other than 429 is permanent.
//! - The server answers a repeated key with the first answer, without doing the work again (the
//!   example's stand-in: the same `202` and `message_uuid`, marked `Idempotent-Replayed: true`),
//!   refuses the same key with another body (`422`), and keeps keys for a bounded time (24 h).
//! - Count what the server confirmed: a message is sent once it has a `202`, first or replayed;
//!   one given up after an ambiguous failure may be on the server all the same (the example's
//!   summary counts it as `unconfirmed`).
//!
//! ```
//! use politely::backoff;
//!
//! #[derive(Debug)]
//! enum SendError { Timeout, Reset, Refused, Server(u16), Rejected(u16) }
//!
//! /// One message, and the key that makes every attempt the same message.
//! struct Sms { to: String, text: String, idempotency_key: String }
//!
//! impl Sms {
//!     fn new(to: &str, text: &str, idempotency_key: String) -> Self {
//!         // In the example: a random UUID v4, made here, once per message.
//!         Sms { to: to.into(), text: text.into(), idempotency_key }
//!     }
//! }
//!
//! #[backoff(expo, max_time = 300, jitter = full,
//!           on = error(SendError::Timeout | SendError::Reset | SendError::Refused
//!                      | SendError::Server(_)))]
//! async fn send_sms(sms: &Sms) -> Result<String, SendError> {
//!     // POST {"to": sms.to, "text": sms.text, "client_ref": key}
//!     //   with `Idempotency-Key: "<key>"`; a repeat of the key is answered with the first 202.
//!     Ok(format!("{}:{}:{}", sms.to, sms.text.len(), sms.idempotency_key))
//! }
//!
//! # async fn run() -> Result<(), SendError> {
//! let sms = Sms::new("447700900001", "Your code is 1234", "5d1c...-uuid".to_owned());
//! let message_id = send_sms(&sms).await?;   // however many attempts: one SMS
//! # Ok(()) }
//! ```
//!
//!
//! `examples/sms/client.rs` is the whole client. Through the example's stand-in resetting 30 % of
//! requests after sending the message on, answering 10 % past the client's timeout and 10 % with
//! `500`, 200 messages arrive on the server exactly once each, nothing lost, nothing doubled
//! ([the run](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md)); `cargo test --example sms faults` holds the
//! same on a shorter run.
