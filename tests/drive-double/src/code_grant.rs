//! The `authorization_code` grant of `POST /token`: a code from the authorization endpoint exchanged for an
//! access token (and, for `access_type=offline`, a refresh token), as "Using OAuth 2.0 for Web Server
//! Applications" step 5 documents it. The code is single-use, bound to its client, its redirect URI and its PKCE
//! challenge (README.md, rules "code-*").

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::{client_refusal, issue};
use crate::errors::oauth_error;
use crate::state::{Principal, Shared};

pub(crate) fn exchange(shared: &Shared, form: &HashMap<String, String>) -> Response {
    if let Some(refused) = client_refusal(form) {
        return refused;
    }
    let invalid_grant = |description: &str| oauth_error(400, "invalid_grant", description);
    let Some(code) = form.get("code") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: code");
    };
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let now = inner.now();
    let Some(entry) = inner.oauth.codes.get(code) else {
        return invalid_grant("Malformed auth code.");
    };
    if let Some(grant) = entry.redeemed.clone() {
        // RFC 6749 section 4.1.2: a code used twice revokes what it was exchanged for.
        inner.revoke_grant(&grant);
        return invalid_grant("Code was already redeemed.");
    }
    if now >= entry.expires_at || inner.grants_refused {
        return invalid_grant("Bad Request");
    }
    match form.get("redirect_uri") {
        None => return oauth_error(400, "invalid_request", "Missing required parameter: redirect_uri"),
        Some(uri) if *uri != entry.redirect_uri => return oauth_error(400, "redirect_uri_mismatch", "Bad Request"),
        Some(_) => {}
    }
    match (&entry.challenge, form.get("code_verifier")) {
        (Some(_), None) => return invalid_grant("Missing code verifier."),
        (Some(challenge), Some(verifier)) if !challenge.accepts(verifier) => {
            return invalid_grant("Invalid code verifier.");
        }
        (None, Some(_)) => return invalid_grant("code_verifier or verifier is not needed."),
        _ => {}
    }

    let principal = Principal::user(&entry.user, &entry.client, &entry.scopes);
    let scopes = entry.scopes.clone();
    let Some((grant, refresh_token)) = inner.oauth.redeem(code) else {
        return invalid_grant("Malformed auth code.");
    };
    drop(guard);

    let (access_token, expires_in) = issue(shared, principal, scopes.clone(), Some(grant));
    let mut answer = json!({
        "access_token": access_token,
        "expires_in": expires_in,
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    });
    // "This field is only present if the access_type parameter was set to offline" (web-server guide, step 5).
    if let Some(refresh_token) = refresh_token {
        answer["refresh_token"] = json!(refresh_token);
    }
    axum::Json(answer).into_response()
}
