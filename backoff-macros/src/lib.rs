//! The `#[backoff(...)]` attribute of the `politely` crate. Use it through `politely`, which
//! re-exports it with the runtime it expands to: `use politely::backoff;`. Its reference (every
//! argument, the equivalent code without the attribute) is on [`backoff`].
//!
//! The crate reads as its pipeline: `attr` parses the arguments (one table of names,
//! typed values), `valid` checks them against each other and the fn, and `expand`
//! writes the retry loop, one generator per concern. Errors are collected by `ctxt` and
//! reported together, each on the token at fault, in front of the unchanged item.

mod attr;
mod ctxt;
mod expand;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Retries the annotated fn with Python `backoff` 2.2.1's semantics.
///
/// `#[backoff(...)]` rewrites an `async fn` (or a plain `fn`) into a retry loop: the same wait
/// generators, jitter, limits, handlers and log lines as Python's decorator, minus its known bugs
/// (the `politely::guide::python` chapter lists where it deliberately differs). It also paces
/// attempts to a rate limit (`rate`, `pacer`), learns a limit it is not told (`rate = adaptive`)
/// and spends a shared retry budget (`budget`). Use it through the `politely` crate:
/// `use politely::backoff;`.
///
/// ```
/// use politely::backoff;
///
/// #[derive(Debug)]
/// enum SmsError { RateLimited, Server(u16), Rejected(u16) }
///
/// /// Retried on 429 and 5xx with exponential waits and full jitter for up to 5 minutes;
/// /// any other error is returned at once.
/// #[backoff(expo, max_time = 300, jitter = full,
///           on = error(SmsError::RateLimited | SmsError::Server(_)))]
/// async fn send_sms(to: &str, text: &str) -> Result<(), SmsError> {
///     /* POST to the Messages API */
///     Ok(())
/// }
/// ```
///
/// # Arguments
///
/// Arguments are Python's names. Every expression is evaluated in the fn's body, so it may read
/// the fn's arguments (`max_tries = cfg.tries`, `factor = self.retry.factor`). The policy's
/// expressions (the limits, the generator's parameters, `jitter`, `budget`, `pacer`) are evaluated
/// once per call, before the first attempt; those that judge, observe or follow an attempt (`on`,
/// `predicate`, `giveup`, `retry_after`, `observe`, `rate_key`, the handlers, `sleep`, `clock`)
/// are evaluated where they are used, once per attempt. That is what lets a closure there borrow
/// what the body borrows mutably between attempts (`predicate = |r| r.code == self.expected` in a
/// `&mut self` method); it also means such an expression should be cheap, and a `move` closure
/// there must not take an owned argument, which the first attempt would consume: leave out `move`
/// (`predicate = |r: &String| *r != expected`). A rate's count is evaluated at the first call (see
/// `rate`).
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `expo` / `fibo` / `constant` / `runtime` / `decay` | the wait generator, first; its parameters as keys or in parentheses: `expo(base = 3, factor = 0.5)` | `expo` |
/// | `base`, `factor`, `max_value` | `expo`: waits `factor * base^n` seconds, capped at `max_value` | 2, 1, none |
/// | `max_value` | `fibo`: 1, 1, 2, 3, 5… seconds, capped | none |
/// | `interval` | `constant`: seconds, or a list `[1, 2, 4]` walked once (the run gives up when it runs out) | 1 |
/// | `value` | `runtime`: a closure from the failed outcome to `Option` of seconds; `None` gives up. It receives the error (`&E`) under `on = error` (the default for a `Result`), the whole return value (`&R`) under `on = predicate` or `on = outcome` and for any other type | required |
/// | `initial_value`, `decay_factor`, `min_value` | `decay`: `initial_value * e^(-t * decay_factor)`, floored | 1, 1, none |
/// | `wait = <expr>` | any generator: a `politely::Wait` or an iterator of seconds | |
/// | `max_tries = <int or expr>` | attempts in all, the first included | no limit |
/// | `max_time = <secs, Duration or closure>` | the whole run's time budget: time in attempts and backoff waits, not time queued for a pacer (bound that with `tokio::time::timeout` around the call) | no limit |
/// | `jitter = full \| random \| equal \| decorrelated \| none \| <expr>` | randomises each wait; an expression is a `politely::Jitter` or `Fn(Duration) -> Duration` | `full` |
/// | `on = error` / `on = error(Pattern)` | retry `Err`s, or only those matching the pattern (Python's exception tuple) | by return type |
/// | `on = predicate`, `predicate = \|v\| ...` | retry while the predicate on the returned value is true; for a fn whose signature spells `Result<T, E>` that is the `Ok` value, and an `Err` is returned at once, untouched | by return type |
/// | `on = outcome`, `predicate = \|r\| ...` | the predicate judges the whole return value (a `Result` with its `Err`s) | |
/// | `giveup = \|e\| ...` | errors for which retrying cannot help: give up at once. It receives the error (`&E`); it goes only with `on = error` (or no `on`, for a `Result`) | none |
/// | `on_success`, `on_backoff`, `on_giveup = <expr>` or `[<expr>, ...]` | handlers: a `fn` or `async fn` taking `&Details`, a closure `\|d\| ...` (sync: returns `()`), or an async closure `async \|d\| ...` / `\|d\| async { ... }` (awaited). In every mode a handler receives `&Details<'_, R>`, `R` the fn's whole return type; one generic over it, `fn log<R: Debug>(d: &Details<'_, R>)` (or `async fn`), serves every fn without spelling `R` | none |
/// | `backoff_log_level`, `giveup_log_level = trace\|debug\|info\|warn\|error\|off` | levels of the two log lines | `info`, `error` |
/// | `logger = none` | no log lines | on |
/// | `sleep = <expr>`, `clock = <expr>` | another runtime's sleep and clock (or a simulated one: `politely::sim::SimClock`) | tokio (async), the thread (sync) |
/// | `retry_after = \|e\| ...` | the server's wait (`Option` of seconds or a `Duration`, e.g. from `Retry-After`), a floor under the generator's: the retry waits the server's time (capped by `max_value`, or an hour without one) plus the generator's jittered wait, so it never comes earlier than the server said and callers told the same time do not come back together; the sum is cut to the remaining `max_time` (`constant, interval = 0` waits the server's time exactly). It receives the error (`&E`) under `on = error` (the default for a `Result`), the whole return value (`&R`) under `on = predicate` or `on = outcome` and for any other type | none |
/// | `rate = <n> per second\|minute\|hour`, `burst = <n>`, `rate_key = <expr>` | pace every attempt (retries included) to a rate limit, one GCRA pacer per fn (per key); `n` is evaluated at the first call | no pacing |
/// | `pacer = <expr>` | pace on a `politely::Pacer` you own (a client's field, say; `Pacer::redis(..)` shares it across processes); `rate_key` works with it too. Evaluated once per call, so it names a pacer that outlives the call (`&self.pacer`, a `static`): a pacer made there (`pacer = Pacer::per_second(2.0)`) would be new for every call and pace nothing, and is a compile error | |
/// | `rate = adaptive` | pace to a limit the client is not told: one pacer per fn (per `rate_key`) that learns the server's rate from every attempt's outcome (429s, `Retry-After`, rate-limit headers: a `politely::RateFeedback` such as `Result<reqwest::Response, reqwest::Error>`); implies `observe` | |
/// | `observe`, `observe = \|out\| ...` | tell the pacer how each attempt went, before the attempt is judged: bare, the output tells (`RateFeedback`); a closure or fn maps `&output` to a `politely::Feedback`. With `rate = adaptive` or `pacer = ...` (a fixed pacer learns no rate) | |
/// | `budget = <expr>` | a `politely::RetryBudget` shared by every call that names it: retries may add at most its ratio to the traffic; a spent budget gives up at once (the `politely::budget` guide) | none |
/// | `seed = <int>` | seeds the jitter for reproducible runs | thread RNG |
/// | `crate = "path"` | where a re-exporting crate puts `politely` | `::politely` |
///
/// When `on` is left out the return type decides: `Result` retries on `Err`, `bool` on `false`,
/// `Option` on `None`; any other type needs `predicate = ...` (a compile error says so).
///
/// ```
/// use std::time::Duration;
/// use politely::{backoff, Details};
///
/// #[derive(Debug, Clone)]
/// enum ApiError { RateLimited { retry_after: Option<u64> }, Timeout, BadRequest }
///
/// fn log_wait(d: &Details<'_, Result<u32, ApiError>>) {
///     eprintln!("try {} failed ({:?}); waiting {:?}", d.tries, d.error(), d.wait);
/// }
///
/// async fn page_oncall<R: std::fmt::Debug>(d: &Details<'_, R>) {
///     // An async handler (awaited before the fn returns), generic over the outcome: it need
///     // not spell `Result<u32, ApiError>`.
///     eprintln!("paging on-call after {} tries, {:?}: {:?}", d.tries, d.elapsed, d.outcome);
/// }
///
/// #[backoff(
///     fibo, max_value = 30,
///     max_tries = 8, max_time = Duration::from_secs(120),
///     jitter = equal,
///     on = error(ApiError::RateLimited { .. } | ApiError::Timeout),
///     on_backoff = log_wait,
///     on_giveup = [page_oncall, |d| eprintln!("gave up: {:?}", d.outcome)],
/// )]
/// async fn fetch(id: u32) -> Result<u32, ApiError> {
///     Ok(id)
/// }
///
/// /// A predicate: poll until the job is done, for at most a minute.
/// #[backoff(constant, interval = 2, max_time = 60, jitter = none,
///           predicate = |status: &String| status != "done")]
/// fn poll(job: &str) -> String {
///     "done".to_owned()
/// }
///
/// /// The server says how long to wait.
/// #[backoff(runtime, value = |e: &ApiError| match e {
///     ApiError::RateLimited { retry_after } => *retry_after,
///     _ => Some(1),
/// }, max_tries = 5)]
/// async fn polite() -> Result<(), ApiError> {
///     Ok(())
/// }
/// ```
///
/// # The body
///
/// The body may use `?` and `return` (they end the attempt, not the loop); `self`, `&self`,
/// `&mut self`, generics, lifetimes, where clauses and `impl Trait` all work, in free fns,
/// inherent impls and trait impls. Each attempt sees the arguments as the caller passed them:
/// owned arguments that the body names are cloned per attempt (an argument that is not `Clone`
/// gets an error pointing at it), references are reused. A fn cannot return a borrow of a
/// `&mut` argument (`-> Option<&mut u32>` from `&mut self` or `v: &mut Vec<u32>`): each attempt
/// reborrows it and the borrow checker cannot see a failed attempt's borrow end, so the attribute
/// says so on the return type; return an owned value (an index) and borrow after the call.
/// Two stacked `#[backoff]`s nest like stacked decorators: the first is the outer loop; a
/// predicate layer over an error layer judges the `Ok` values and lets the inner layer's `Err`
/// through untouched, as Python's `on_predicate` over `on_exception` does. The expanded async fn
/// is `Send` whenever its body and arguments are (an argument that is `Send` but not `Sync`, a
/// `Cell`, is fine: each attempt gets its copy before it starts); an async handler that borrows
/// its `&Details` across an `.await` also needs the outcome to be `Sync`, sync handlers never
/// do. Dropping the future mid-wait stops all further attempts. Without the attribute,
/// `politely`'s builder makes the same decisions (`politely::expo().max_time(300).retry(op)`).
///
/// # Pacing and the server's wait
///
/// `rate = 2 per second` (with `burst` and `rate_key`) gives the fn its own GCRA pacer and
/// `pacer = <expr>` paces on one you own; `rate = adaptive` learns a limit the client is not
/// told, from what `observe` reports (or from an output that is a `politely::RateFeedback`).
/// Every attempt waits for its slot, retries included; a call cancelled while it queues gives its
/// slot back; the time queued is not counted in `max_time` or `Details::elapsed`. The
/// `politely::pace` module is the guide, with the Redis-shared pacers.
///
/// `retry_after` is a floor under the generator's wait, not a replacement: the retry waits the
/// server's time and then the jittered wait on top, so callers refused at the same moment do not
/// come back together (`politely::hints` parses the `Retry-After` header and the rate-limit
/// headers).
///
/// ```
/// use politely::{backoff, Pacer};
///
/// #[derive(Debug)]
/// enum SmsError { RateLimited { retry_after: Option<u64> }, Server(u16), Rejected(u16) }
///
/// struct Client { pacer: Pacer }
///
/// impl Client {
///     /// At most one attempt per second from this client, retries included; on a 429 the
///     /// server's Retry-After is honoured, else exponential waits with full jitter.
///     #[backoff(expo, max_value = 32, max_time = 300, pacer = self.pacer,
///               on = error(SmsError::RateLimited { .. } | SmsError::Server(_)),
///               retry_after = |e: &SmsError| match e {
///                   SmsError::RateLimited { retry_after } => *retry_after,
///                   _ => None,
///               })]
///     async fn send_sms(&self, to: &str) -> Result<(), SmsError> {
///         Ok(())
///     }
/// }
///
/// /// One GCRA pacer for this fn, per sender: 1 message a second each.
/// #[backoff(expo, max_time = 60, rate = 1 per second, rate_key = from)]
/// async fn send(from: &str, to: &str) -> Result<(), SmsError> {
///     Ok(())
/// }
///
/// let client = Client { pacer: Pacer::per_second(1.0) };
/// ```
///
/// # The equivalent code without the attribute
///
/// The attribute keeps the fn's signature and replaces its body with a loop that runs the
/// original body once per attempt and asks the runtime what to do next (the decision that
/// `politely::State` and the builder make too; the future keeps only the tries and the
/// generator's progress, see `politely::guide::performance`). Each attempt is an `async move`
/// block (a `move` closure in a sync fn), so `?` and `return` end the attempt; the arguments the
/// body names are copied into it first (owned ones cloned, `&mut` ones reborrowed). The
/// judgement (`on = error(...)`), the limits (literals written in place, other expressions
/// evaluated once per call) and the handlers are plain code around that decision. This fn
///
/// ```
///
#[doc = include_str!("../tests/expand/send_sms.rs")]
/// ```
///
/// expands to exactly this (the snapshot `tests/expand/send_sms.expanded.rs` of this crate, which
/// a test compares with the macro's output; `__private` is the expansion's hidden module of
/// helpers, with no semver promise):
///
/// ```
///
#[doc = include_str!("../tests/expand/send_sms.expanded.rs")]
/// ```
///
/// # Misuse is a compile error
///
/// Every argument is checked before any code is generated, and each mistake is reported on the
/// token at fault, all of them at once, in front of the unchanged fn:
///
/// ```compile_fail
/// # use politely::backoff;
/// #[backoff(expo, max_tries = 0)] // would never make an attempt
/// async fn f() -> Result<(), ()> { Ok(()) }
/// ```
///
/// ```compile_fail
/// # use politely::backoff;
/// #[backoff(expo, max_trys = 3)] // unknown argument `max_trys`; did you mean `max_tries`?
/// async fn f() -> Result<(), ()> { Ok(()) }
/// ```
///
/// ```compile_fail
/// # use politely::backoff;
/// #[backoff(expo)] // `u32` has no default judgement: say `predicate = |v| ...`
/// async fn f() -> u32 { 1 }
/// ```
#[proc_macro_attribute]
pub fn backoff(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
