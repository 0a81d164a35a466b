//! What the `#[backoff]` expansion calls. Not public API: no semver guarantees.

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use crate::builder::Clock;
pub use crate::decide::{
    Action, Details, Line, Opaque, Policy, Queued, Rules, Run, Shown, State, Unpaced, Verdict,
};
#[cfg(feature = "http")]
pub use crate::http_shown::{HttpOutcome, HttpShown};
pub use crate::jitter::named as jitters;
pub use crate::jitter::{FnJitter, Jitter, Spread};
pub use crate::secs::IntoSeconds;
pub use crate::wait::{
    Constant, Decay, Expo, Fibo, Intervals, OnErr, Runtime, Schedule, Steps, Stored, Wait,
};
pub use ::core;
pub use tracing::Level;

/// Seconds (a number or a `Duration`) as a `Duration`, saturating.
pub fn secs(value: impl IntoSeconds) -> Duration {
    value.into_duration()
}

/// A number as `f64`, for `base`, `factor`-like parameters.
#[diagnostic::on_unimplemented(
    message = "`#[backoff]` expects a number here, found `{Self}`",
    label = "expected an integer or a float"
)]
pub trait ToF64 {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

/// `impl Trait for` each numeric type, with one body over `v: Self`.
macro_rules! numeric {
    ($trait:ident :: $method:ident -> $ret:ty = |$v:ident| $body:expr; $($t:ty),*) => {$(
        impl $trait for $t {
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_lossless,
                clippy::cast_sign_loss,
                clippy::cast_possible_truncation,
                clippy::unnecessary_fallible_conversions,
                clippy::useless_conversion,
                irrefutable_let_patterns
            )]
            fn $method(self) -> $ret {
                let $v = self;
                $body
            }
        }
    )*};
}

numeric!(ToF64::to_f64 -> f64 = |v| v as f64;
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

/// A count of tries from any integer: negative gives 0 (which acts as 1), huge gives
/// `u32::MAX`.
#[diagnostic::on_unimplemented(
    message = "`max_tries` must be an integer, found `{Self}`",
    label = "expected an integer number of attempts"
)]
pub trait IntoTries {
    /// The count, saturated into `u32`.
    fn into_tries(self) -> u32;
}

numeric!(IntoTries::into_tries -> u32 =
    |v| u32::try_from(v).unwrap_or(if v > Self::default() { u32::MAX } else { 0 });
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// `max_tries = <expr>`.
pub fn tries(value: impl IntoTries) -> u32 {
    value.into_tries()
}

/// `expo(base, factor, max_value)` from the attribute's numbers.
pub fn expo(base: impl ToF64, factor: impl IntoSeconds, max_value: Option<Duration>) -> Expo {
    Expo::new(
        base.to_f64(),
        factor.into_duration().as_secs_f64(),
        max_value,
    )
}

/// `decay(initial_value, decay_factor, min_value)` from the attribute's numbers.
pub fn decay(
    initial_value: impl IntoSeconds,
    decay_factor: impl ToF64,
    min_value: Option<Duration>,
) -> Decay {
    Decay::new(
        initial_value.into_duration().as_secs_f64(),
        decay_factor.to_f64(),
        min_value,
    )
}

/// `retry_after = ...`: the server's wait read from the outcome (or the error), as seconds.
pub fn retry_after<'o, R: ?Sized, F, S>(outcome: &'o R, f: F) -> Option<Duration>
where
    F: FnOnce(&'o R) -> Option<S>,
    S: IntoSeconds,
{
    f(outcome).map(IntoSeconds::into_duration)
}

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

pub use crate::budget::RetryBudget;

/// What `budget = <expr>` accepts: a `RetryBudget`, or anything that derefs to one
/// (`&RetryBudget`, `Arc<RetryBudget>`, `LazyLock<RetryBudget>`…).
#[diagnostic::on_unimplemented(
    message = "`budget` must be a `politely::RetryBudget` (or a reference, `Arc`, `LazyLock`… of one), found `{Self}`",
    label = "not a retry budget",
    note = "make one with `politely::RetryBudget::new(0.2)` and keep it where every call to the same server can see it (a field of your client, a static)"
)]
pub trait AsBudget {
    /// The budget.
    fn as_budget(&self) -> &RetryBudget;
}

impl AsBudget for RetryBudget {
    fn as_budget(&self) -> &RetryBudget {
        self
    }
}

impl<T: core::ops::Deref<Target = RetryBudget>> AsBudget for T {
    fn as_budget(&self) -> &RetryBudget {
        self
    }
}

/// `budget = <expr>`: a handle on that budget for the policy.
pub fn budget<B: AsBudget + ?Sized>(budget: &B) -> RetryBudget {
    budget.as_budget().clone()
}

/// A key for `rate_key = ...`, read through a reference (the argument it names stays put
/// for the next attempt): `(&PaceKey(&key)).__backoff_key()` borrows a string-like key
/// (`&str`, `String`, `Cow<str>`, `Arc<str>`…: [`KeyViaStr`], tried first) and formats any
/// other `Display` one ([`KeyViaDisplay`]: one `String` per attempt).
pub struct PaceKey<'a, T: ?Sized>(pub &'a T);

/// Borrows a string-like key: nothing allocated.
pub trait KeyViaStr<'a> {
    /// The key.
    fn __backoff_key(&self) -> std::borrow::Cow<'a, str>;
}

impl<'a, T: AsRef<str> + ?Sized> KeyViaStr<'a> for PaceKey<'a, T> {
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

impl<'a, T: ToString + ?Sized> KeyViaDisplay<'a> for &PaceKey<'a, T> {
    fn __backoff_key(&self) -> std::borrow::Cow<'a, str> {
        std::borrow::Cow::Owned(self.0.to_string())
    }
}

/// `jitter = <expr>`: a [`Jitter`] value or a function of the generated wait.
#[diagnostic::on_unimplemented(
    message = "`jitter` must be `full`, `random`, `equal`, `decorrelated`, `none`, a `politely::Jitter`, or a `Fn(Duration) -> Duration`; found `{Self}`",
    label = "not a jitter"
)]
pub trait IntoJitter {
    /// What spreads the waits when the value is kept as it is: the `Jitter` itself, or
    /// the function.
    type Spread: Spread;
    /// The value as it is.
    fn into_spread(self) -> Self::Spread;
    /// The value as a `Jitter` (a function in an `Arc`).
    fn into_jitter(self) -> Jitter;
}

impl IntoJitter for Jitter {
    type Spread = Jitter;
    fn into_spread(self) -> Jitter {
        self
    }
    fn into_jitter(self) -> Jitter {
        self
    }
}

impl<F: Fn(Duration) -> Duration + Send + Sync + 'static> IntoJitter for F {
    type Spread = FnJitter<F>;
    fn into_spread(self) -> FnJitter<F> {
        FnJitter(self)
    }
    fn into_jitter(self) -> Jitter {
        Jitter::custom(self)
    }
}

/// `jitter = <expr>`, evaluated once per call, as a `Jitter` whatever the expression, so
/// that a wrong one is one error. A function goes into an `Arc`: the expansion takes this
/// path for anything but a lower-case path (see [`jitter_path`]) and a closure
/// ([`jitter_fn`]).
pub fn jitter(value: impl IntoJitter) -> Jitter {
    value.into_jitter()
}

/// `jitter = <lower_case::path>`, most likely a fn: kept as it is (a fn item is zero-sized:
/// nothing boxed, nothing allocated per call). A `Jitter` variable works too. A wrong type
/// is reported on the path, with a follow-up error or two that [`jitter`] avoids.
pub fn jitter_path<J: IntoJitter>(value: J) -> J::Spread {
    value.into_spread()
}

/// `jitter = |v| ...`: the closure, its argument typed.
pub fn jitter_fn<F: Fn(Duration) -> Duration>(f: F) -> FnJitter<F> {
    FnJitter(f)
}

/// How the expansion judges an outcome when `on` names no predicate: `Result` fails on `Err`,
/// `bool` on `false`, `Option` on `None`.
#[diagnostic::on_unimplemented(
    message = "`#[backoff]` cannot tell whether a `{Self}` is a failure",
    label = "this return type has no default judgement",
    note = "`Result` retries on `Err`, `bool` on `false`, `Option` on `None`; for any other type say when to retry: `on = predicate, predicate = |value: &{Self}| ...` (true means retry)"
)]
pub trait DefaultJudge {
    /// Whether this outcome is a failure to retry.
    fn is_failure(&self) -> bool;
}

impl<T, E> DefaultJudge for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

impl DefaultJudge for bool {
    fn is_failure(&self) -> bool {
        !*self
    }
}

impl<T> DefaultJudge for Option<T> {
    fn is_failure(&self) -> bool {
        self.is_none()
    }
}

/// The default judgement of an outcome.
pub fn judge_default<R: DefaultJudge>(outcome: &R) -> Verdict {
    judge_predicate(outcome.is_failure())
}

/// A predicate's answer as a verdict: true means retry.
pub fn judge_predicate(failed: bool) -> Verdict {
    if failed {
        Verdict::Retry
    } else {
        Verdict::Success
    }
}

/// `on = error`: the fn must return a `Result`.
#[diagnostic::on_unimplemented(
    message = "`on = error` needs a fn that returns `Result`, but it returns `{Self}`",
    label = "not a `Result`",
    note = "use `on = predicate` (with `predicate = |value| ...`) to retry on a value"
)]
pub trait IsResult {
    /// The `Ok` type.
    type Ok;
    /// The `Err` type.
    type Err;
    /// The outcome as a `Result` of references.
    fn as_result(&self) -> Result<&Self::Ok, &Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn as_result(&self) -> Result<&T, &E> {
        self.as_ref()
    }
}

/// A fresh copy of an owned argument for each attempt.
#[diagnostic::on_unimplemented(
    message = "`#[backoff]` gives every attempt a fresh copy of each owned argument, but `{Self}` is not `Clone`",
    label = "this argument is moved into the retried body and cannot be copied for the next attempt",
    note = "take it by reference (`&{Self}`), share it with `Arc<{Self}>`, or derive/implement `Clone`"
)]
pub trait CloneArg {
    /// The copy.
    fn clone_arg(&self) -> Self;
}

impl<T: Clone> CloneArg for T {
    fn clone_arg(&self) -> Self {
        self.clone()
    }
}

/// Autoref dispatch for the log description: an HTTP response's summary (features `http`,
/// `reqwest`), else `Debug` when the outcome has it, else its type.
pub struct Describe<'a, T>(pub &'a T);

/// Picks `Debug` (tried first).
pub trait ViaDebug {
    /// The description.
    fn __backoff_describe(&self) -> Shown<'_>;
}

impl<T: fmt::Debug> ViaDebug for Describe<'_, T> {
    fn __backoff_describe(&self) -> Shown<'_> {
        Shown(self.0)
    }
}

/// Picked before [`ViaDebug`] (an inherent method goes before a trait's): an HTTP response,
/// or a `Result` of one, is shown by its status, path and `Retry-After`, not its whole `Debug`.
#[cfg(feature = "http")]
impl<'a, T: HttpOutcome> Describe<'a, T> {
    /// The description.
    pub fn __backoff_describe(&self) -> HttpShown<'a, T> {
        HttpShown(self.0)
    }
}

/// Falls back to the type's name.
pub trait ViaOpaque {
    /// The description.
    fn __backoff_describe(&self) -> Opaque;
}

impl<T> ViaOpaque for &Describe<'_, T> {
    fn __backoff_describe(&self) -> Opaque {
        Opaque(std::any::type_name::<T>())
    }
}

/// A handler that is not a closure (a fn path, a call making a handler), in an async fn:
/// sorted by its type into [`SyncTag`] or [`AsyncTag`].
pub struct Handler<F>(pub F);

/// Picked first: the handler is a `Fn(&Details<'_, R>)`.
pub trait SyncHandlerKind<'x, R: ?Sized> {
    /// Its kind.
    fn __backoff_handler_kind(&self, _: &Details<'x, R>) -> SyncTag {
        SyncTag
    }
}
impl<'x, R: ?Sized, F: FnOnce(&Details<'x, R>)> SyncHandlerKind<'x, R> for Handler<F> {}

/// Picked otherwise: the handler must be an `AsyncFn(&Details<'_, R>)`.
pub trait AsyncHandlerKind<'x, R: ?Sized> {
    /// Its kind.
    fn __backoff_handler_kind(&self, _: &Details<'x, R>) -> AsyncTag {
        AsyncTag
    }
}
impl<'x, R: ?Sized, F> AsyncHandlerKind<'x, R> for &Handler<F> {}

/// A sync handler: called at once; nothing is left to await, and nothing borrows the outcome.
pub struct SyncTag;

impl SyncTag {
    /// Calls the handler; the returned future is ready.
    pub fn run<'x, R: ?Sized, F: FnOnce(&Details<'x, R>)>(
        self,
        handler: Handler<F>,
        details: Details<'x, R>,
    ) -> std::future::Ready<()> {
        (handler.0)(&details);
        std::future::ready(())
    }
}

/// An async handler: its future owns the details while it runs.
pub struct AsyncTag;

impl AsyncTag {
    /// The handler's future.
    pub fn run<'x, R: ?Sized, F: AsyncHandlerFn<'x, R>>(
        self,
        handler: Handler<F>,
        details: Details<'x, R>,
    ) -> impl Future<Output = ()> {
        async_handler(details, handler.0)
    }
}

/// What an async fn's handler must be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler of `politely::Details<'_, {R}>`",
    label = "not a handler for this fn",
    note = "a handler is a `fn(&politely::Details<'_, R>)` or an `async fn(&politely::Details<'_, R>)` (or a closure `|d| ...`, `async |d| ...`), where `R` is the fn's return type"
)]
pub trait AsyncHandlerFn<'x, R: ?Sized>: for<'d> AsyncFnOnce(&'d Details<'x, R>) {}
impl<'x, R: ?Sized, F: for<'d> AsyncFnOnce(&'d Details<'x, R>)> AsyncHandlerFn<'x, R> for F {}

/// Runs an async fn handler with its details.
pub async fn async_handler<'x, R: ?Sized, F: AsyncHandlerFn<'x, R>>(details: Details<'x, R>, f: F) {
    f(&details).await;
}

/// Calls an async closure handler (`async |d| ...`, `|d| async { ... }`): its future may
/// borrow the details, which the expansion keeps alive until it is done. (The lifetimes are
/// the caller's, not higher-ranked: a closure typed for one `Details` lifetime stays `Send`.)
pub fn async_closure_handler<'d, 'a, R: ?Sized, F, O>(details: &'d Details<'a, R>, f: F) -> O
where
    F: FnOnce(&'d Details<'a, R>) -> O,
    O: Future<Output = ()>,
{
    f(details)
}

/// Calls a sync closure handler `|d| ...`: it returns `()` (so `|_| todo!()` needs no
/// annotation), and the details are gone when it returns.
pub fn call_handler<'x, R: ?Sized, F: FnOnce(&Details<'x, R>)>(details: Details<'x, R>, f: F) {
    f(&details);
}

/// A handler in a sync fn must return `()`.
#[diagnostic::on_unimplemented(
    message = "a handler of a sync fn must return `()`, this one returns `{Self}`",
    label = "an async handler (or one returning a value) cannot run in a sync fn",
    note = "make the annotated fn `async`, or make the handler a plain `fn(&politely::Details<'_, R>)`"
)]
pub trait SyncHandlerOutput {}
impl SyncHandlerOutput for () {}

/// Checks a sync handler's return value.
pub fn sync_handler<T: SyncHandlerOutput>(_: T) {}

/// The clock of async retries: tokio's, so `tokio::time::pause` governs it.
#[cfg(feature = "tokio")]
pub fn async_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// The clock of async retries without tokio: the standard monotonic clock.
#[cfg(not(feature = "tokio"))]
pub fn async_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The default async sleep.
#[cfg(feature = "tokio")]
pub fn async_sleep(wait: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(wait)
}

/// Without tokio there is no default async sleep: an async fn must say `sleep = ...`.
#[cfg(not(feature = "tokio"))]
#[diagnostic::on_unimplemented(
    message = "this async fn needs `sleep = ...`: `politely` is built without its `tokio` feature, so it has no async sleep of its own",
    label = "no async sleep for this fn",
    note = "turn on the `tokio` feature of `backoff`, or name your runtime's sleep and clock: `#[backoff(..., sleep = async_std::task::sleep, clock = std::time::Instant::now)]`"
)]
pub trait AsyncSleepNeedsTokio {}

/// Stands in for the default async sleep when tokio is off: it cannot be called, and the
/// error says what to do.
#[cfg(not(feature = "tokio"))]
pub fn async_sleep<W: AsyncSleepNeedsTokio>(_: W) -> std::future::Pending<()> {
    std::future::pending()
}

/// The clock of sync retries.
pub fn sync_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The default sync sleep.
pub fn sync_sleep(wait: Duration) {
    std::thread::sleep(wait);
}

/// Time since `start` on the same clock.
pub fn elapsed<C: Clock>(start: &C, now: C) -> Duration {
    now.since(start)
}

/// `wait = <expr>`, checked against the outcome type where it is written.
#[inline(always)]
pub fn custom_wait<R: ?Sized, W: Wait<R>>(wait: W) -> W {
    wait
}

/// `runtime(value = ...)` with the outcome type named, so a closure's argument type is known.
pub fn runtime<R: ?Sized, F, S>(value: F) -> Runtime<F>
where
    F: FnMut(&R) -> Option<S>,
    S: IntoSeconds,
{
    Runtime(value)
}

/// `predicate = ...`, called with the outcome so a closure's argument type is known.
pub fn predicate<'o, R: ?Sized, F: FnOnce(&'o R) -> bool>(outcome: &'o R, f: F) -> bool {
    f(outcome)
}

/// `giveup = ...`, called with the error.
pub fn giveup<'e, E: ?Sized, F: FnOnce(&'e E) -> bool>(error: &'e E, f: F) -> bool {
    f(error)
}

/// Calls a handler with the details; a closure's argument type is known from them, and an
/// async handler's future may borrow them.
pub fn handler<'d, 'a, R: ?Sized, F, O>(details: &'d Details<'a, R>, f: F) -> O
where
    F: FnOnce(&'d Details<'a, R>) -> O,
{
    f(details)
}

/// Calls `f()`: the attribute's closures (`max_time = || ...`, `clock = || ...`) are called
/// through this so the call is not a closure called where it is declared.
pub fn call0<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// `max_time = || ...`: called once per call.
pub fn secs_of<S: IntoSeconds>(f: impl FnOnce() -> S) -> Duration {
    f().into_duration()
}

/// `max_tries = || ...`: called once per call.
pub fn tries_of<N: IntoTries>(f: impl FnOnce() -> N) -> u32 {
    f().into_tries()
}

/// A seed from any integer (`seed = 7`).
#[diagnostic::on_unimplemented(
    message = "`seed` must be an integer, found `{Self}`",
    label = "expected an integer seed"
)]
pub trait IntoSeed {
    /// The seed.
    fn into_seed(self) -> u64;
}

numeric!(IntoSeed::into_seed -> u64 = |v| v as u64;
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// `seed = ...`.
pub fn seed(value: impl IntoSeed) -> u64 {
    value.into_seed()
}

/// What an async fn's `sleep = ...` must return.
#[diagnostic::on_unimplemented(
    message = "`sleep` in an async fn must return a future, but it returns `{Self}`",
    label = "not a future",
    note = "pass your runtime's async sleep, e.g. `sleep = async_std::task::sleep`; a blocking sleep would stall the executor"
)]
pub trait SleepFuture: Future<Output = ()> {}
impl<F: Future<Output = ()>> SleepFuture for F {}

/// `sleep = ...` in an async fn.
pub fn sleep_async<T: SleepFuture>(
    f: impl FnOnce(Duration) -> T,
    wait: Duration,
) -> impl Future<Output = ()> {
    f(wait)
}

/// Calls `f(wait)`: `sleep = ...`.
pub fn call_sleep<T>(f: impl FnOnce(Duration) -> T, wait: Duration) -> T {
    f(wait)
}

// Adaptive pacing: the observe step of `rate = adaptive` and `pacer = ..., observe`.

pub use crate::hints::{Feedback, RateFeedback};

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
