//! Handlers, stored by type: each `.on_*` call wraps the list so far in one more [`Hook`].
//! A sync handler is called in place; an async handler's future is kept in its `Hook` (inside
//! the retry future, no box) and awaited before the next handler runs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::decide::{Action, Details};

/// Which handlers a [`Hook`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum On {
    Success,
    Backoff,
    GiveUp,
}

impl On {
    fn fires(self, action: Action) -> bool {
        matches!(
            (self, action),
            (On::Success, Action::Success)
                | (On::Backoff, Action::Backoff(_))
                | (On::GiveUp, Action::GiveUp)
        )
    }
}

/// No handlers (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

pin_project! {
    /// The handlers `Prev`, then `f`: called with the [`Details`] for its event, returning
    /// `()` (sync, marker [`Immediate`]) or a future (async, marker [`Deferred`]).
    pub struct Hook<Prev, F, O, M>
    where
        O: HandlerOutput<M>,
    {
        #[pin]
        prev: Prev,
        on: On,
        f: F,
        #[pin]
        pending: Option<O::Fut>,
        marker: PhantomData<fn() -> (O, M)>,
    }
}

impl<Prev, F, O: HandlerOutput<M>, M> Hook<Prev, F, O, M> {
    pub(crate) fn new(prev: Prev, on: On, f: F) -> Self {
        Hook {
            prev,
            on,
            f,
            pending: None,
            marker: PhantomData,
        }
    }
}

/// Marks a handler that returns `()`.
#[derive(Debug)]
pub enum Immediate {}

/// Marks a handler that returns a future.
#[derive(Debug)]
pub enum Deferred {}

/// What a handler returns: `()`, or (in async code) a future of `()`. An async handler gets
/// the details by reference and returns a future that does not borrow them: copy out what it
/// needs first (`|d| { let tries = d.tries; async move { ... } }`), so no borrow of the
/// outcome is held across an `.await`.
#[diagnostic::on_unimplemented(
    message = "a handler must return `()` or a future of `()`, this one returns `{Self}`",
    label = "not a handler's return value"
)]
pub trait HandlerOutput<M> {
    /// The future to await, for an async handler.
    type Fut: Future<Output = ()>;
    /// `None` for a sync handler, which has run.
    fn into_pending(self) -> Option<Self::Fut>;
}

impl HandlerOutput<Immediate> for () {
    type Fut = std::future::Ready<()>;
    #[inline]
    fn into_pending(self) -> Option<Self::Fut> {
        None
    }
}

impl<F: Future<Output = ()>> HandlerOutput<Deferred> for F {
    type Fut = F;
    #[inline]
    fn into_pending(self) -> Option<F> {
        Some(self)
    }
}

/// Handlers an async retry can run: sync and async ones, in the order added.
pub trait AsyncHooks<R: ?Sized> {
    /// No handlers at all (then nothing reads the clock for them).
    const EMPTY: bool;
    /// How many.
    const LEN: usize;
    /// Runs, in order, the handlers for `action` that have not run yet (`done` counts the
    /// handlers passed so far in this list; start it at 0).
    fn poll_run(
        self: Pin<&mut Self>,
        action: Action,
        done: &mut usize,
        details: &Details<'_, R>,
        cx: &mut Context<'_>,
    ) -> Poll<()>;
}

impl<R: ?Sized> AsyncHooks<R> for NoHooks {
    const EMPTY: bool = true;
    const LEN: usize = 0;
    #[inline]
    fn poll_run(
        self: Pin<&mut Self>,
        _: Action,
        _: &mut usize,
        _: &Details<'_, R>,
        _: &mut Context<'_>,
    ) -> Poll<()> {
        Poll::Ready(())
    }
}

impl<R: ?Sized, Prev, F, O, M> AsyncHooks<R> for Hook<Prev, F, O, M>
where
    Prev: AsyncHooks<R>,
    F: Fn(&Details<'_, R>) -> O,
    O: HandlerOutput<M>,
{
    const EMPTY: bool = false;
    const LEN: usize = Prev::LEN + 1;

    fn poll_run(
        self: Pin<&mut Self>,
        action: Action,
        done: &mut usize,
        details: &Details<'_, R>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let this = self.project();
        ready!(this.prev.poll_run(action, done, details, cx));
        if *done != Prev::LEN {
            return Poll::Ready(()); // this one ran already
        }
        let mut pending = this.pending;
        if pending.is_none() {
            if !this.on.fires(action) {
                *done += 1;
                return Poll::Ready(());
            }
            match (this.f)(details).into_pending() {
                None => {
                    *done += 1;
                    return Poll::Ready(());
                }
                Some(fut) => pending.set(Some(fut)),
            }
        }
        if let Some(fut) = pending.as_mut().as_pin_mut() {
            ready!(fut.poll(cx));
        }
        pending.set(None);
        *done += 1;
        Poll::Ready(())
    }
}

/// Handlers a blocking retry can run: sync ones only.
#[diagnostic::on_unimplemented(
    message = "an async handler cannot run in a blocking retry",
    label = "one of these handlers returns a future",
    note = "make the handler a plain `Fn(&Details<'_, R>)`, or retry an async operation with `.retry(op)`"
)]
pub trait BlockingHooks<R: ?Sized> {
    /// No handlers at all.
    const EMPTY: bool;
    /// Runs the handlers for `action`, in order.
    fn run(&self, action: Action, details: &Details<'_, R>);
}

impl<R: ?Sized> BlockingHooks<R> for NoHooks {
    const EMPTY: bool = true;
    #[inline]
    fn run(&self, _: Action, _: &Details<'_, R>) {}
}

impl<R: ?Sized, Prev, F> BlockingHooks<R> for Hook<Prev, F, (), Immediate>
where
    Prev: BlockingHooks<R>,
    F: Fn(&Details<'_, R>),
{
    const EMPTY: bool = false;
    fn run(&self, action: Action, details: &Details<'_, R>) {
        self.prev.run(action, details);
        if self.on.fires(action) {
            (self.f)(details);
        }
    }
}
