//! What `expand/pace.rs` emits: the pacer (`rate = ...`, `pacer = ...`), its key, and the
//! observe step of adaptive pacing.

pub use crate::hints::{Feedback, RateFeedback};
pub use crate::pace::Pacer;
pub use std::sync::OnceLock;

/// What `pacer = <expr>` accepts: a `Pacer`, or anything that derefs to one (`&Pacer`,
/// `Arc<Pacer>`, `LazyLock<Pacer>`…).
#[diagnostic::on_unimplemented(
    message = "`pacer` must be a `politely::Pacer` (or a reference, `Arc`, `LazyLock`… of one), found `{Self}`",
    label = "not a pacer",
    note = "make one with `politely::Pacer::per_second(20.0)` and keep it where every call can see it (a field, a static); or write `rate = 20 per second` for one per fn"
)]
pub trait AsPacer {
    /// The pacer.
    fn as_pacer(&self) -> &Pacer;
}

impl AsPacer for Pacer {
    fn as_pacer(&self) -> &Pacer {
        self
    }
}

impl<T: core::ops::Deref<Target = Pacer>> AsPacer for T {
    fn as_pacer(&self) -> &Pacer {
        self
    }
}

/// Borrows the pacer of `pacer = <expr>`.
pub fn pacer<P: AsPacer + ?Sized>(p: &P) -> &Pacer {
    p.as_pacer()
}

/// The pace step: [`Pacer::ready`] for an attempt whose answer the observe step tells.
#[cfg(feature = "tokio")]
pub async fn ready_told(pacer: &Pacer, key: Option<&str>) -> std::time::Duration {
    pacer.ready_as(key, true).await
}

/// The pace step of a sync fn: [`Pacer::ready_blocking`] for an attempt whose answer the
/// observe step tells.
pub fn ready_blocking_told(pacer: &Pacer, key: Option<&str>) -> std::time::Duration {
    pacer.ready_blocking_as(key, true)
}

/// The observe step without `observe`: the answer to the attempt that started at `sent` came.
pub fn answered(pacer: &Pacer, key: Option<&str>, sent: crate::pace::PacerInstant) {
    pacer.answered(key, sent);
}

/// A key for `rate_key = ...`, read through a reference (the argument it names stays put
/// for the next attempt): `(&KeyArg(&key)).__backoff_key()` borrows a string-like key
/// (`&str`, `String`, `Cow<str>`, `Arc<str>`…: [`KeyViaStr`], tried first) and formats any
/// other `Display` one ([`KeyViaDisplay`]: one `String` per attempt).
pub struct KeyArg<'a, T: ?Sized>(pub &'a T);

/// Borrows a string-like key: nothing allocated.
pub trait KeyViaStr<'a> {
    /// The key.
    fn __backoff_key(&self) -> std::borrow::Cow<'a, str>;
}

impl<'a, T: AsRef<str> + ?Sized> KeyViaStr<'a> for KeyArg<'a, T> {
    #[inline]
    fn __backoff_key(&self) -> std::borrow::Cow<'a, str> {
        let key: &'a T = self.0;
        std::borrow::Cow::Borrowed(key.as_ref())
    }
}

/// Formats any other key with `to_string()`.
pub trait KeyViaDisplay<'a> {
    /// The key.
    fn __backoff_key(&self) -> std::borrow::Cow<'a, str>;
}

impl<'a, T: ToString + ?Sized> KeyViaDisplay<'a> for &KeyArg<'a, T> {
    fn __backoff_key(&self) -> std::borrow::Cow<'a, str> {
        std::borrow::Cow::Owned(self.0.to_string())
    }
}

// Adaptive pacing: the observe step of `rate = adaptive` and `pacer = ..., observe`.

/// What the fn returns must tell how the attempt went, when `observe` names no closure.
#[diagnostic::on_unimplemented(
    message = "`rate = adaptive` (and a bare `observe`) learn from what the fn returns, but `{Self}` does not tell whether the server throttled the attempt",
    label = "this return type is not `politely::RateFeedback`",
    note = "say how each attempt went with `observe = |out| ...` returning a `politely::Feedback`, e.g. `observe = |out: &{Self}| if is_429(out) {{ Feedback::throttled() }} else {{ Feedback::accepted() }}`",
    note = "`Result<reqwest::Response, reqwest::Error>`, `http::Response<B>` and `politely::Feedback` tell by themselves (features `reqwest`, `http`); so does a `Result` whose `Ok` and `Err` types both implement `politely::RateFeedback`"
)]
pub trait OutputFeedback {
    /// The attempt's feedback.
    fn output_feedback(&self) -> Feedback;
}

impl<T: RateFeedback + ?Sized> OutputFeedback for T {
    fn output_feedback(&self) -> Feedback {
        self.feedback()
    }
}

/// The observe step without a closure: the outcome's own feedback.
pub fn feedback_of<R: OutputFeedback + ?Sized>(outcome: &R) -> Feedback {
    outcome.output_feedback()
}

/// What an `observe = ...` closure must return.
#[diagnostic::on_unimplemented(
    message = "`observe` must return a `politely::Feedback` (or anything `politely::RateFeedback`), but it returns `{Self}`",
    label = "not a `politely::Feedback`",
    note = "e.g. `observe = |ok: &bool| if *ok {{ Feedback::accepted() }} else {{ Feedback::throttled() }}`, or `observe = |r| Feedback::from_http(r.status(), r.headers())`"
)]
pub trait ObservedFeedback {
    /// The feedback.
    fn observed_feedback(&self) -> Feedback;
}

impl<T: RateFeedback> ObservedFeedback for T {
    fn observed_feedback(&self) -> Feedback {
        self.feedback()
    }
}

/// The observe step with `observe = |out| ...`, called with the outcome so a closure's argument
/// type is known.
pub fn observe_with<'o, R: ?Sized, F, T>(outcome: &'o R, f: F) -> Feedback
where
    F: FnOnce(&'o R) -> T,
    T: ObservedFeedback,
{
    f(outcome).observed_feedback()
}
