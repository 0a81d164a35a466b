//! TLS to Redis (`rediss://`, feature `redis-tls`).
//!
//! The redis crate connects through rustls, and rustls needs a process-wide crypto provider.
//! It picks one by itself only when exactly one provider's feature is on in the whole
//! program; with none or two (a dependency that turns on `ring` beside our `aws-lc-rs`) the
//! first TLS connection would panic inside the redis crate. So a Redis pacer installs
//! aws-lc-rs as the default when no default is installed yet; a program that wants another
//! installs its own before it builds a pacer.

/// Makes sure rustls has a process-wide crypto provider before any connection to Redis.
pub(super) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed one meanwhile: either will do.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}
