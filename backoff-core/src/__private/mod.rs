//! What the `#[backoff]` expansion calls. Not public API: no semver guarantees.
//!
//! One file per file of `backoff-macros/src/expand/`: what `expand/wait.rs` emits lives in
//! `wait.rs`, what `expand/handlers.rs` emits in `handlers.rs`, and so on. Everything is
//! re-exported here, so the expansion names every item as `__private::Item`. An item that
//! several expand files emit lives with the first that needs it in its own code (`secs` in
//! `policy.rs`, `ToF64` in `wait.rs`); this file holds `expand/mod.rs`'s own (`IsResult`), the
//! `numeric!` macro the files share, and re-exports of the runtime. The files name what they
//! use by its own path, never through this file, so that nothing here goes round in a circle
//! (`tests/layout.rs` checks it).

pub use crate::decide::{Policy, State, Verdict};
pub use crate::secs::IntoSeconds;
pub use ::core;

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

mod attempt;
mod body;
mod handlers;
mod judge;
mod pace;
mod policy;
mod sleep;
mod wait;

pub use attempt::*;
pub use body::*;
pub use handlers::*;
pub use judge::*;
pub use pace::*;
pub use policy::*;
pub use sleep::*;
pub use wait::*;

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
