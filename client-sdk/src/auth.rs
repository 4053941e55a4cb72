//! Bearer-token check in constant time.

use http::HeaderMap;
use http::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Holds only the token's digest, so comparing never depends on where the first difference is,
/// nor on the token's length.
pub(crate) struct TokenCheck {
    digest: [u8; 32],
}

impl TokenCheck {
    pub(crate) fn new(token: &SecretString) -> Self {
        let token = token.expose_secret();
        assert!(!token.trim().is_empty(), "the backup token must not be empty");
        TokenCheck { digest: Sha256::digest(token.as_bytes()).into() }
    }

    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = given.split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn only_the_right_bearer_token_is_allowed() {
        let check = TokenCheck::new(&SecretString::from("s3cret"));
        assert!(check.allows(&headers("Bearer s3cret")));
        assert!(check.allows(&headers("bearer s3cret")));
        assert!(!check.allows(&headers("Bearer s3cre")));
        assert!(!check.allows(&headers("Bearer s3cret2")));
        assert!(!check.allows(&headers("Basic s3cret")));
        assert!(!check.allows(&headers("s3cret")));
        assert!(!check.allows(&HeaderMap::new()));
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn an_empty_token_is_refused() {
        TokenCheck::new(&SecretString::from(" "));
    }
}
