//! The package of the `backoff` crate's examples: `sms`, `attempts`, `outage`, `contention`
//! and `adaptive_chart`, one folder each (`cargo run --example sms` from the repository root).
