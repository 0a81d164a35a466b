//! The package of the `politely` crate's benchmarks: `overhead`, `footprint` and
//! `redis_pacing`, one file each (`cargo bench --bench overhead` from the repository root).
//! They share nothing; this library is empty.
