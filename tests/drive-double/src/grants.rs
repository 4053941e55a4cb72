//! What the OAuth 2.0 web-server flow leaves behind: registered redirect URIs, the signed-in account that
//! consents, authorization codes, and grants (the scopes a user gave a client, with the refresh token that carries
//! them). Access tokens point at their grant, so revoking a grant ends them too. Nothing here answers HTTP.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::Consent;
use crate::state::{DRIVE_SCOPE, OAUTH_CLIENT_ID, REFRESH_TOKEN, USER_EMAIL, random_id};

/// "The authorization code ... a maximum authorization code lifetime of 10 minutes is RECOMMENDED" (RFC 6749
/// section 4.1.2); Google documents the code as single-use without a lifetime.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(600);

/// The grant behind the fixed [`REFRESH_TOKEN`] of `authorized_user_json`.
const FIXED_GRANT: &str = "fixed";

/// How a PKCE `code_challenge` was derived from its verifier (RFC 7636 section 4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChallengeMethod {
    Plain,
    S256,
}

#[derive(Clone, Debug)]
pub(crate) struct Challenge {
    pub(crate) value: String,
    pub(crate) method: ChallengeMethod,
}

impl Challenge {
    pub(crate) fn accepts(&self, verifier: &str) -> bool {
        match self.method {
            ChallengeMethod::Plain => self.value == verifier,
            ChallengeMethod::S256 => self.value == base64url(&Sha256::digest(verifier.as_bytes())),
        }
    }
}

/// An authorization code handed to a redirect URI, waiting to be exchanged at the token endpoint.
pub(crate) struct AuthCode {
    pub(crate) client: String,
    pub(crate) redirect_uri: String,
    pub(crate) user: String,
    pub(crate) scopes: Vec<String>,
    /// `access_type=offline` and a refresh token is due (see [`OAuth::refresh_token_due`]).
    pub(crate) refresh_token: bool,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) expires_at: Instant,
    /// The grant it was exchanged for; a second exchange revokes that grant (RFC 6749 section 4.1.2).
    pub(crate) redeemed: Option<String>,
}

/// What a user allowed a client: the scopes, and the refresh token when one was issued.
pub(crate) struct Grant {
    pub(crate) user: String,
    pub(crate) client: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) revoked: bool,
}

pub(crate) struct OAuth {
    pub(crate) redirect_uris: BTreeSet<String>,
    /// The account signed in at the authorization endpoint.
    pub(crate) consenting_user: String,
    /// Answer the consent screen without showing it.
    pub(crate) auto_consent: Option<Consent>,
    /// Scopes each (user, client) pair was granted so far, for `include_granted_scopes` and `prompt=none`.
    pub(crate) consented: HashMap<(String, String), BTreeSet<String>>,
    /// (user, client) pairs holding a live refresh token: Google issues one only on the first offline exchange.
    offline: HashSet<(String, String)>,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) grants: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, String>,
}

impl OAuth {
    pub(crate) fn new() -> Self {
        let mut oauth = OAuth {
            redirect_uris: BTreeSet::new(),
            consenting_user: USER_EMAIL.to_owned(),
            auto_consent: None,
            consented: HashMap::new(),
            offline: HashSet::new(),
            codes: HashMap::new(),
            grants: HashMap::new(),
            refresh_tokens: HashMap::new(),
        };
        oauth.grants.insert(
            FIXED_GRANT.to_owned(),
            Grant {
                user: USER_EMAIL.to_owned(),
                client: OAUTH_CLIENT_ID.to_owned(),
                scopes: vec![DRIVE_SCOPE.to_owned()],
                refresh_token: Some(REFRESH_TOKEN.to_owned()),
                revoked: false,
            },
        );
        oauth.refresh_tokens.insert(REFRESH_TOKEN.to_owned(), FIXED_GRANT.to_owned());
        oauth
    }

    /// Whether an offline exchange for (user, client) gets a refresh token: the first time, or again when the
    /// user was shown the consent screen (`prompt=consent`), or once the previous one was revoked.
    pub(crate) fn refresh_token_due(&self, user: &str, client: &str, prompt_consent: bool) -> bool {
        prompt_consent || !self.offline.contains(&(user.to_owned(), client.to_owned()))
    }

    /// Records a consent; returns every scope the pair now holds.
    pub(crate) fn consent(&mut self, user: &str, client: &str, scopes: &[String]) -> BTreeSet<String> {
        let held = self.consented.entry((user.to_owned(), client.to_owned())).or_default();
        held.extend(scopes.iter().cloned());
        held.clone()
    }

    /// Exchanges a code: opens its grant and marks the code used. Returns the grant id and the refresh token
    /// (when the code asked for one).
    pub(crate) fn redeem(&mut self, code: &str) -> Option<(String, Option<String>)> {
        let entry = self.codes.get_mut(code)?;
        let id = random_id("g", 24);
        let refresh_token = entry.refresh_token.then(|| random_id("1//0", 103));
        entry.redeemed = Some(id.clone());
        let grant = Grant {
            user: entry.user.clone(),
            client: entry.client.clone(),
            scopes: entry.scopes.clone(),
            refresh_token: refresh_token.clone(),
            revoked: false,
        };
        if let Some(token) = &refresh_token {
            self.refresh_tokens.insert(token.clone(), id.clone());
            self.offline.insert((grant.user.clone(), grant.client.clone()));
        }
        self.grants.insert(id.clone(), grant);
        Some((id, refresh_token))
    }

    /// The grant a refresh token carries, revoked or not.
    pub(crate) fn by_refresh_token(&self, token: &str) -> Option<(&String, &Grant)> {
        let id = self.refresh_tokens.get(token)?;
        self.grants.get(id).map(|grant| (id, grant))
    }

    /// Marks a grant revoked; the caller drops its access tokens.
    pub(crate) fn revoke(&mut self, id: &str) {
        if let Some(grant) = self.grants.get_mut(id) {
            grant.revoked = true;
            if grant.refresh_token.is_some() {
                self.offline.remove(&(grant.user.clone(), grant.client.clone()));
            }
        }
    }

    /// Every grant holding a refresh token, the fixed one included.
    pub(crate) fn refresh_grants(&self) -> Vec<String> {
        self.grants.iter().filter(|(_, grant)| grant.refresh_token.is_some()).map(|(id, _)| id.clone()).collect()
    }
}

/// BASE64URL without padding (RFC 7636 appendix A).
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |acc, (i, byte)| acc | u32::from(*byte) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((group >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        let challenge = Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            method: ChallengeMethod::S256,
        };
        assert!(challenge.accepts("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.accepts("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
    }

    #[test]
    fn base64url_has_no_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
