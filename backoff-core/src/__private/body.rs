//! What `expand/body.rs` emits: the loop's state and decisions, and the log line's
//! description of an outcome.

use std::fmt;

pub use crate::decide::{Action, Line, Queued, Run, Shown, Unpaced};
#[cfg(feature = "http")]
pub use crate::http_shown::{HttpOutcome, HttpShown};

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

/// Describes an outcome whose type has no `Debug`: its type name in angle brackets.
pub struct Opaque(pub &'static str);

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
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
