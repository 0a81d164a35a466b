//! Seconds as numbers, like Python, converted to [`Duration`] without ever panicking.

use std::time::Duration;

/// Converts a number of seconds (or a [`Duration`]) into a [`Duration`].
///
/// Every conversion saturates and none panics, whatever the value:
///
/// | input | result |
/// |---|---|
/// | NaN, zero, negative | [`Duration::ZERO`] |
/// | `+inf`, more seconds than [`Duration::MAX`] holds | [`Duration::MAX`] |
/// | anything else | the nearest [`Duration`] |
///
/// ```
/// use std::time::Duration;
/// use backoff_core::IntoSeconds;
/// assert_eq!(1.5.into_duration(), Duration::from_millis(1500));
/// assert_eq!(2.into_duration(), Duration::from_secs(2));
/// assert_eq!((-3.0).into_duration(), Duration::ZERO);
/// assert_eq!(f64::NAN.into_duration(), Duration::ZERO);
/// assert_eq!(f64::INFINITY.into_duration(), Duration::MAX);
/// ```
#[diagnostic::on_unimplemented(
    message = "expected seconds (a number) or a `Duration`, found `{Self}`",
    label = "not a number of seconds or a `Duration`",
    note = "limits and waits take seconds as numbers (`300`, `0.5`) or a `std::time::Duration`"
)]
pub trait IntoSeconds {
    /// The value as a [`Duration`], saturating as the table above says.
    fn into_duration(self) -> Duration;
}

impl IntoSeconds for Duration {
    fn into_duration(self) -> Duration {
        self
    }
}

impl IntoSeconds for f64 {
    fn into_duration(self) -> Duration {
        saturating_secs(self)
    }
}

impl IntoSeconds for f32 {
    fn into_duration(self) -> Duration {
        saturating_secs(f64::from(self))
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl IntoSeconds for $t {
            fn into_duration(self) -> Duration {
                #[allow(clippy::cast_lossless, trivial_numeric_casts)]
                Duration::from_secs(u64::try_from(self).unwrap_or(u64::MAX))
            }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl IntoSeconds for $t {
            fn into_duration(self) -> Duration {
                Duration::from_secs(u64::try_from(self).unwrap_or(0))
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, u128, usize);
signed!(i8, i16, i32, i64, i128, isize);

/// Seconds as `f64` to a [`Duration`]: NaN and non-positive values give zero, values too large
/// for a [`Duration`] give [`Duration::MAX`]. Never panics.
#[inline]
pub(crate) fn saturating_secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else if secs < WHOLE_LIMIT && (secs as i64) as f64 == secs {
        // Whole seconds (`expo`'s 1, 2, 4…): nothing to round, and `try_from_secs_f64`'s
        // exact rounding costs some 80 instructions. (Through `i64`: x86-64 converts it to and
        // from `f64` in one instruction each, `u64` in a dozen.)
        Duration::from_secs(secs as i64 as u64)
    } else {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

/// 2^63: whole seconds below it fit an `i64`.
const WHOLE_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// `v * k` for a factor `k` in `[0, 1]`, never above `v`, never panicking: rounded to the
/// nearest nanosecond (computed on the nanoseconds, exact below 2^53 ns, about 104 days).
#[inline]
pub(crate) fn scale(v: Duration, k: f64) -> Duration {
    let k = k.clamp(0.0, 1.0);
    match i64::try_from(v.as_nanos()) {
        // Half up (`+ 0.5`: the product is not negative; `round` is a libm call on x86-64's
        // baseline). `as` saturates, and makes NaN zero; the result is not negative.
        Ok(ns) => Duration::from_nanos((ns as f64 * k + 0.5) as i64 as u64).min(v),
        Err(_) => saturating_secs(v.as_secs_f64() * k).min(v),
    }
}

/// A uniform draw from `[lo, hi]` given `u` in `[0, 1)`; `lo` when the range is empty.
pub(crate) fn between(lo: Duration, hi: Duration, u: f64) -> Duration {
    if hi <= lo {
        return lo;
    }
    lo.saturating_add(scale(hi - lo, u)).min(hi)
}
