//! What `expand/handlers.rs` emits: calling `on_backoff`, `on_giveup` and `on_success`
//! handlers, sync or async, with their details.

use std::future::Future;

pub use crate::decide::Details;

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

/// Calls a handler with the details; a closure's argument type is known from them, and an
/// async handler's future may borrow them.
pub fn handler<'d, 'a, R: ?Sized, F, O>(details: &'d Details<'a, R>, f: F) -> O
where
    F: FnOnce(&'d Details<'a, R>) -> O,
{
    f(details)
}
