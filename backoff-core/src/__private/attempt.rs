//! What `expand/attempt.rs` emits: each attempt's copies of the arguments.

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
