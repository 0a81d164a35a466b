//! Methods taking `&self`, `&mut self` and `self`; generics, where clauses, `impl Trait`
//! arguments and destructuring patterns.
use politely::backoff;
use std::fmt::Debug;

#[derive(Clone, Debug, Default)]
struct Counter {
    n: u32,
}

impl Counter {
    /// `&mut self` is reborrowed per attempt: the changes add up.
    #[backoff(constant, interval = 0, max_tries = 5)]
    fn bump_until(&mut self, target: u32) -> bool {
        self.n += 1;
        self.n >= target
    }

    /// `self` by value: each attempt gets a fresh clone.
    #[backoff(constant, interval = 0, max_tries = 3)]
    fn consume(mut self) -> Option<u32> {
        self.n += 1;
        if self.n > 1 { Some(self.n) } else { None }
    }

    #[backoff(constant, interval = 0, max_tries = 2)]
    fn peek(&self) -> Result<u32, String> {
        Ok(self.n)
    }

    #[backoff(constant, interval = 0, max_tries = 2)]
    async fn peek_async(&self) -> Result<u32, String> {
        Ok(self.n)
    }

    /// `self` used only after `..` is the attempt's `self`, and `self::` in a macro stays a
    /// path to this module (both failed to compile: `__backoff_self` not found).
    #[backoff(constant, interval = 0, max_tries = 3)]
    fn last_below(&self) -> Option<u32> {
        let below = 0..self.n;
        assert_eq!(self::STEP, 1);
        below.last()
    }

    #[backoff(constant, interval = 0, max_tries = 3)]
    fn last_below_mut(&mut self) -> Option<u32> {
        (0..self.n).last()
    }
}

const STEP: u32 = 1;

/// Owned arguments used only after `..` (a range's end, a struct's base) are copied per
/// attempt (they were moved into the first attempt: "use of moved value").
#[backoff(constant, interval = 0, max_tries = 3)]
fn after_ranges(v: Vec<u32>, base: Counter) -> Option<u32> {
    let c = Counter { ..base };
    (0..v.len() as u32).map(|i| i + c.n).find(|&x| x > 5)
}

#[backoff(constant, interval = 0, max_tries = 3)]
fn generic<T, E, F>(value: T, check: &F) -> Result<T, E>
where
    T: Clone + Debug,
    E: Debug,
    F: Fn(&T) -> Result<(), E>,
{
    check(&value).map(|()| value)
}

#[backoff(constant, interval = 0, max_tries = 2)]
fn impl_arg(items: impl IntoIterator<Item = u32> + Clone) -> Option<u32> {
    items.into_iter().max()
}

#[backoff(constant, interval = 0, max_tries = 2)]
fn patterns((a, b): (u32, u32), [x, _]: [u8; 2], _: String) -> Result<u32, String> {
    Ok(a + b + u32::from(x))
}

#[backoff(constant, interval = 0, max_tries = 2)]
fn lifetimes<'a>(text: &'a str, owned: String) -> Result<&'a str, String> {
    if owned.is_empty() { Ok(text) } else { Err(owned) }
}

fn main() {
    let mut c = Counter::default();
    assert!(c.bump_until(3));
    assert_eq!(c.n, 3);
    // Every attempt starts again from the original value: never above 1, so `None`.
    assert_eq!(Counter::default().consume(), None);
    assert_eq!(Counter { n: 4 }.consume(), Some(5));
    assert_eq!(c.peek(), Ok(3));
    let _ = c.peek_async();
    assert_eq!(generic::<_, String, _>(5u8, &|v| if *v > 1 { Ok(()) } else { Err("small".to_owned()) }), Ok(5));
    assert_eq!(impl_arg(vec![1, 4, 2]), Some(4));
    assert_eq!(patterns((1, 2), [3, 4], String::new()), Ok(6));
    assert_eq!(lifetimes("hi", String::new()), Ok("hi"));
    assert_eq!(Counter { n: 3 }.last_below(), Some(2));
    assert_eq!(Counter { n: 0 }.last_below_mut(), None);
    assert_eq!(after_ranges(vec![1, 2, 3], Counter { n: 4 }), Some(6));
    assert_eq!(after_ranges(vec![1], Counter { n: 4 }), None);
}
