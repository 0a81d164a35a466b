//! What the stand-in's tests share: the application's id and key pair, and a token signed
//! with it, as a client of the Messages API sends one.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

pub const APP: &str = "11111111-2222-4333-8444-555555555555";

/// The application's key pair (private, public PEM), made once per test binary (1,024 bits:
/// a test key, quick to make).
pub fn key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = backoff_standin::generate_private_key_pem_with_bits(1024).unwrap();
        let public = backoff_standin::public_key_pem(&private).unwrap();
        (private, public)
    })
}

/// An RS256 token for [`APP`], valid for ten minutes.
pub fn token() -> String {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &serde_json::json!({ "application_id": APP, "iat": iat, "exp": iat + 600, "jti": "j" }),
        &EncodingKey::from_rsa_pem(key().0.as_bytes()).unwrap(),
    )
    .unwrap()
}
