//! Pacing shared through Redis: the fixed-rate pacer (`fixed.rs`, [`RedisPacerBuilder`] in
//! `builder.rs`) and the adaptive pacer that every process learns together (`adaptive.rs`).
//!
//! The fixed pacer's parts: the Lua scripts and their replies (`scripts.rs`), this process's
//! view of each budget and its sweep (`views.rs`), the connection and outage state that both
//! pacers share (`link.rs`), giving slots back (`give_back.rs`) and the thread of the blocking
//! calls (`worker.rs`).

pub(crate) mod adaptive;
mod builder;
pub(crate) mod fixed;
mod give_back;
mod link;
mod scripts;
#[cfg(feature = "redis-tls")]
mod tls;
mod views;
mod worker;

pub use builder::RedisPacerBuilder;
