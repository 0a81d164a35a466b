//! Overhead and footprint: what the retry machinery costs, and why.
//!
//! The goals: a first try costs at most 1.5 x a hand-written retry loop; a retry path at most 2 x
//! the hand loop and at most 0.9 x `backon`'s; a fn's future at most 64 bytes larger than the
//! hand loop's; no allocation per call. The attribute meets all of them, async and sync, around
//! an inlined body and around one the compiler cannot inline (as any real one is: a call into
//! I/O). Its retrying task takes exactly the memory of a hand-written one. The builder, whose
//! policy is a run-time value, costs more: about 1.5 x `backon` async, 1.3-1.4 x around an
//! opaque sync body. Compile time is where the choices below cost: about 2 x a hand-written loop
//! per fn. `scripts/bench.sh` measures all of it against the peers; the figures and their history
//! are in [docs/benchmarks.md](https://github.com/politely-rs/politely/blob/main/docs/benchmarks.md).
//!
//! # State kept in the future vs recomputed
//!
//! The attribute's future keeps only what changes between attempts: the tries (a `u32`), the
//! generator's progress (a `u32` step for `expo`, `fibo`, `decay` and interval lists, nothing for
//! `constant`; the whole generator only for `wait = ...` and `runtime(value = ...)`), the previous
//! wait for `jitter = decorrelated`, and the time queued for a pacer when the fn is paced.
//! Everything constant is handed to each decision instead: the fn's name, `max_tries`, `max_time`,
//! the generator's parameters, the jitter, the log levels, the seed, the `retry_after` cap. A
//! literal argument is written at the decision itself, where the compiler folds it away; any other
//! expression is evaluated once per call, before the first attempt, as Python evaluates
//! `max_tries`, `max_time` and the generator's arguments, and the future keeps its computed value
//! (a `u32`, a `Duration`). Re-evaluating such an expression at every decision would save those
//! bytes too, but would change what `max_tries = self.limit()` means, so it is not done.
//!
//! The jitter keeps no generator either: unseeded, each draw comes from the thread's generator;
//! seeded, the draw for try `n` is a pure function of `(seed, n)` (SplitMix64), so a seeded run
//! neither allocates nor carries a ChaCha state, and the same seed still gives the same waits. A
//! `jitter = |v| ...` closure and a `jitter = f` fn (any lower-case path) are kept as they are,
//! not boxed; any other `jitter = <expr>` (a `CONST`, a call) is turned into a `Jitter`, which
//! puts a function in an `Arc`, so that a wrong type is one error rather than three. Logging costs one level comparison when no
//! subscriber is installed or its level is below the event's: the outcome's `Debug` is never
//! called then (a unit test counts the calls).
//!
//! The same split keeps the time down: a success builds none of the rules (they are made in a
//! closure that only a failure calls), so a first try costs a count and a comparison over the
//! body. A sync fn counts the attempt and returns a success (or an error to propagate) before the
//! outcome is lent to anything and before the clock is read; it decides a failure inline and gets
//! the log line back unwritten, so the outcome stays in registers on the success path.
//!
//! The builder follows the same split with values known only at run time, through the same
//! decision: its future keeps the policy it was given (it cannot fold literals),
//! and beside it the run's tries, the whole generator, decorrelated jitter's memory and queued
//! time; a success builds no rules.
//!
//! # No allocation per call
//!
//! A test counts allocations with a global allocator and asserts
//! none, after a warm-up, on the first-try, retry and give-up paths of attributed async and sync
//! fns (sync and async handlers, `max_time`, a retry budget, `seed = ...`, a `jitter = |w| ...`
//! closure or a `jitter = <fn path>`, tokio's sleep, a `rate` pacer with a string-like `rate_key`,
//! an adaptive pacer through `rate = adaptive` or `pacer = ..., observe`, keyed or not)
//! and of the builder (async and blocking; a cloned policy with a jitter function and callable
//! limits, retried to the end: such a policy allocates once when they are set, so build it once
//! and clone it), with no subscriber and with subscribers that filter the events out. A `rate_key` is borrowed when it is string-like (`&str`, `String`, `Arc<str>`,
//! `Cow<str>`); any other `Display` key (a number, say) is formatted into a `String` at each
//! attempt. Logging that nobody listens to formats nothing:
//! a test counts the calls of the outcome's `Debug` and finds none with no
//! subscriber or with one that filters INFO and ERROR out (and one per event at a level a
//! subscriber enables).
