//! The decision after each attempt, shared by the attribute's expansion and the builder:
//! succeed, give up, or back off for how long; with Python's logging.
//!
//! - `policy.rs`: the [`Policy`] a caller configures and the [`Rules`] a decision reads;
//! - `state.rs`: [`State`], the whole decision for a loop of your own;
//! - `run.rs`: [`Run`], what the attribute's future keeps between attempts;
//! - `log.rs`: the log lines a decision writes and how an outcome is shown in them;
//! - `details.rs`: [`Details`], what handlers receive;
//! - `verdict.rs`: [`Verdict`], how the caller judged an attempt, and [`Action`], what follows.

mod details;
mod log;
mod policy;
mod run;
mod state;
mod verdict;

pub use details::Details;
pub use log::{Line, Shown};
pub use policy::{Policy, Rules};
pub use run::{Queued, Run, Unpaced};
pub use state::State;
pub use verdict::{Action, Verdict};
