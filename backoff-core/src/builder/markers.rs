//! The builder's type-state markers: which kind of operation a [`Retry`](super::Retry) runs.

/// Marks a [`Retry`](super::Retry) of an async operation: await it.
#[derive(Clone, Copy, Debug)]
pub enum Async {}

/// Marks a [`Retry`](super::Retry) of a blocking operation: run it with [`call`](super::Retry::call).
#[derive(Clone, Copy, Debug)]
pub enum Blocking {}
