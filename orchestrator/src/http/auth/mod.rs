//! Who is asking: the admin's browser session (pages, with CSRF tokens on every form) or an API
//! token (`/api/v1`). Also sign-in throttling and the admin account.

pub mod admin;
pub mod api_token;
pub mod oidc;
pub mod session;
pub mod throttle;

use axum::http::HeaderMap;
use sha2::Digest;

/// A random token, URL-safe, with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// sha256 of `text`, hex: how session and API tokens are stored (they are random and long, so a
/// slow hash adds nothing).
pub fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Equal in constant time.
pub fn same(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
