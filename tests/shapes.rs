//! Every fn shape the attribute takes: methods (`&self`, `&mut self`, `self`), generics,
//! lifetimes, where clauses, `impl Trait`, async fns in trait impls, `?` and `return`, owned
//! arguments moved in the body, pattern arguments, stacked attributes, and `Send` futures.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use politely::backoff;

#[derive(Debug, Default)]
struct Counter {
    calls: u32,
}

impl Counter {
    /// `&mut self`: every attempt mutates the same value.
    #[backoff(constant, interval = 1, max_tries = 4, jitter = none)]
    async fn bump_until(&mut self, target: u32) -> bool {
        self.calls += 1;
        self.calls >= target
    }

    /// `&self` in a sync method.
    #[backoff(constant, interval = 0, max_tries = 3, jitter = none)]
    fn peek(&self) -> Option<u32> {
        (self.calls > 100).then_some(self.calls)
    }
}

#[tokio::test(start_paused = true)]
async fn mut_self_method_sees_its_own_mutations() {
    let mut c = Counter::default();
    assert!(c.bump_until(3).await);
    assert_eq!(c.calls, 3);
    assert_eq!(c.peek(), None);
}

#[derive(Clone, Debug)]
struct Token(String);

static CONSUMED: AtomicU32 = AtomicU32::new(0);

impl Token {
    /// `self` by value, consumed by the body: each attempt gets a fresh clone.
    #[backoff(constant, interval = 1, max_tries = 3, jitter = none)]
    async fn spend(self) -> Result<String, String> {
        let n = CONSUMED.fetch_add(1, Ordering::SeqCst);
        let inner = self.0; // moves out of self
        if n < 2 {
            Err(inner)
        } else {
            Ok(format!("{inner}#{n}"))
        }
    }
}

#[tokio::test(start_paused = true)]
async fn self_by_value_is_cloned_per_attempt() {
    assert_eq!(Token("t".into()).spend().await, Ok("t#2".into()));
}

/// Owned arguments moved inside the body: every attempt sees them as the caller passed them.
#[backoff(constant, interval = 1, max_tries = 3, jitter = none)]
async fn consume(mut list: Vec<u32>, seen: &std::sync::Mutex<Vec<Vec<u32>>>) -> Result<(), ()> {
    list.push(99);
    seen.lock().unwrap().push(list); // moved
    Err(())
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_fresh_each_attempt() {
    let seen = std::sync::Mutex::new(Vec::new());
    assert_eq!(consume(vec![1], &seen).await, Err(()));
    assert_eq!(*seen.lock().unwrap(), vec![vec![1, 99]; 3]);
}

/// Pattern arguments are destructured per attempt from a fresh copy.
#[backoff(constant, interval = 0, max_tries = 2, jitter = none)]
fn pattern_args((a, b): (String, u32), _: u8) -> Result<String, String> {
    Err(format!("{a}{b}"))
}

#[test]
fn pattern_arguments_work() {
    assert_eq!(pattern_args(("x".into(), 1), 0), Err("x1".into()));
}

/// `&mut` arguments are reborrowed per attempt.
#[backoff(constant, interval = 0, max_tries = 3, jitter = none)]
fn push_mut(out: &mut Vec<u32>) -> bool {
    let out2 = out; // moves the reborrow
    out2.push(1);
    out2.len() >= 2
}

#[test]
fn mut_ref_arguments_are_reborrowed() {
    let mut v = Vec::new();
    assert!(push_mut(&mut v));
    assert_eq!(v, [1, 1]);
}

/// Generics, lifetimes, where clauses, `impl Trait` in argument and return position.
#[backoff(constant, interval = 1, max_tries = 2, jitter = none)]
async fn generic<'a, T, E>(items: &'a [T], make: impl Fn(&T) -> E + Clone) -> Result<&'a T, E>
where
    T: Debug + Sync,
    E: Debug,
{
    match items.first() {
        Some(t) if items.len() > 1 => Ok(t),
        Some(t) => Err(make(t)),
        None => panic!("empty"),
    }
}

#[backoff(constant, interval = 0, max_tries = 2, jitter = none, predicate = |v| v.clone().count() == 0)]
fn returns_impl(n: usize) -> impl Iterator<Item = usize> + Clone {
    0..n
}

#[tokio::test(start_paused = true)]
async fn generics_lifetimes_and_impl_trait() {
    assert_eq!(generic(&[1, 2], |x| *x).await, Ok(&1));
    assert_eq!(generic(&[5], |x| x * 10).await, Err(50));
    assert_eq!(returns_impl(3).count(), 3);
}

/// `?` and `return` end the attempt, not the loop.
#[backoff(constant, interval = 1, max_tries = 3, jitter = none)]
async fn parse(input: &str, calls: &AtomicU32) -> Result<u32, std::num::ParseIntError> {
    if calls.fetch_add(1, Ordering::SeqCst) == 1 {
        return "7".parse::<u32>().map(|v| v * 2);
    }
    let v: u32 = input.parse()?;
    Ok(v)
}

#[tokio::test(start_paused = true)]
async fn question_mark_and_return_end_the_attempt() {
    let calls = AtomicU32::new(0);
    assert_eq!(parse("x", &calls).await, Ok(14));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

trait Api {
    async fn fetch(&self, id: u32) -> Result<u32, String>;
}

struct Flaky(AtomicU32);

impl Api for Flaky {
    #[backoff(expo, max_tries = 3, jitter = none)]
    async fn fetch(&self, id: u32) -> Result<u32, String> {
        if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
            Err("flaky".into())
        } else {
            Ok(id)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn async_fn_in_trait_impl() {
    let start = tokio::time::Instant::now();
    assert_eq!(Flaky(AtomicU32::new(0)).fetch(9).await, Ok(9));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

/// Stacked attributes nest like Python's stacked decorators: the first written is the
/// outermost loop, with its own tries and generator.
static INNER: AtomicU32 = AtomicU32::new(0);
static OUTER_BACKOFFS: AtomicU32 = AtomicU32::new(0);

#[backoff(constant, interval = 10, max_tries = 2, jitter = none,
    on_backoff = |_| { OUTER_BACKOFFS.fetch_add(1, Ordering::SeqCst); })]
#[backoff(constant, interval = 1, max_tries = 3, jitter = none)]
async fn stacked() -> Result<(), u32> {
    Err(INNER.fetch_add(1, Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn stacked_attributes_nest() {
    let start = tokio::time::Instant::now();
    assert_eq!(stacked().await, Err(5));
    // Outer: 2 tries; each runs the inner loop of 3 tries with 1 s waits; 10 s between.
    assert_eq!(INNER.load(Ordering::SeqCst), 6);
    assert_eq!(OUTER_BACKOFFS.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(2 + 10 + 2));
}

/// The expanded future is `Send` whenever the body is: spawn it on a multi-thread runtime
/// (real clock, millisecond waits).
#[backoff(expo, factor = 0.001, max_tries = 3, jitter = full, on_backoff = notify)]
async fn send_future(shared: Arc<AtomicU32>, name: String) -> Result<String, String> {
    tokio::task::yield_now().await;
    let n = shared.fetch_add(1, Ordering::SeqCst);
    if n < 2 { Err(name) } else { Ok(name) }
}

async fn notify(d: &politely::Details<'_, Result<String, String>>) {
    tokio::task::yield_now().await;
    assert!(d.wait.is_some());
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expanded_future_is_send_and_spawns_on_multi_thread() {
    let shared = Arc::new(AtomicU32::new(0));
    let fut = assert_send(send_future(shared.clone(), "n".into()));
    let out = tokio::spawn(fut).await.unwrap();
    assert_eq!(out, Ok("n".into()));
    assert_eq!(shared.load(Ordering::SeqCst), 3);
}

/// An owned argument that only the attribute's expressions read is neither cloned nor
/// required to be `Clone`.
struct Config {
    tries: u32,
}

#[backoff(constant, interval = 0, max_tries = cfg.tries, jitter = none)]
fn attribute_only_argument(cfg: Config, n: &AtomicU32) -> bool {
    n.fetch_add(1, Ordering::SeqCst);
    false
}

#[test]
fn arguments_read_only_by_the_attribute_need_no_clone() {
    let n = AtomicU32::new(0);
    assert!(!attribute_only_argument(Config { tries: 4 }, &n));
    assert_eq!(n.load(Ordering::SeqCst), 4);
}

/// Async handlers of every form (an `async fn`, an async closure borrowing `self`, a closure
/// returning an `async` block) keep the future `Send` when the outcome is `Sync`; sync
/// handlers and `Send`-only arguments keep it `Send` even when it is not (a `Cell`).
struct Alerts {
    sent: std::sync::Mutex<Vec<String>>,
}

async fn page(d: &politely::Details<'_, Result<u32, String>>) {
    tokio::task::yield_now().await;
    assert!(d.tries >= 1);
}

impl Alerts {
    async fn alert(&self, to: &str, d: &politely::Details<'_, Result<u32, String>>) {
        tokio::task::yield_now().await;
        self.sent.lock().unwrap().push(format!("{to}:{}", d.tries));
    }

    #[backoff(constant, interval = 1, max_tries = 2, jitter = none,
        on_backoff = [page, async |d| self.alert(to, d).await, |d| async move { assert!(d.wait.is_some()) }],
        on_giveup = |d| self.sent.lock().unwrap().push(format!("gave up:{}", d.tries)))]
    async fn send(&self, to: &str, attempt: std::cell::Cell<u32>) -> Result<u32, String> {
        attempt.set(attempt.get() + 1);
        tokio::task::yield_now().await;
        Err(format!("{to}#{}", attempt.get()))
    }
}

#[tokio::test(start_paused = true)]
async fn handlers_and_cell_arguments_keep_the_future_send() {
    let alerts = Alerts {
        sent: std::sync::Mutex::new(Vec::new()),
    };
    let fut = assert_send(alerts.send("+1", std::cell::Cell::new(0)));
    // Each attempt starts from the caller's `Cell`, so both see 1.
    assert_eq!(fut.await, Err("+1#1".to_owned()));
    assert_eq!(*alerts.sent.lock().unwrap(), ["+1:1", "gave up:2"]);
}
