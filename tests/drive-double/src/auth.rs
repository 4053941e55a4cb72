//! Google's OAuth 2.0 token endpoint (refresh-token grant and the service-account JWT bearer grant; the
//! authorization-code grant lives in `code_grant`) and the bearer-token check every Drive request goes through.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, oauth_error};
use crate::state::{
    DRIVE_FILE_SCOPE, DRIVE_SCOPE, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, PRIVATE_KEY_ID, Principal,
    SERVICE_ACCOUNT_EMAIL, Shared, Token, random_id,
};
use crate::{clock, code_grant};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's own token URI is accepted as audience too: a client that signs for it would work against Google.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Tolerated clock difference between the JWT signer and the double.
const CLOCK_SKEW_SECS: i64 = 60;
const BAD_TIMES: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. \
                         Check your iat and exp values in the JWT claim.";
const UNAUTHORIZED_CLIENT: &str = "Client is unauthorized to retrieve access tokens using this method, or client not \
                                   authorized for any of the scopes requested.";

fn service_account_key() -> &'static DecodingKey {
    static KEY: OnceLock<DecodingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        DecodingKey::from_rsa_pem(include_str!("../keys/service-account.pub.pem").as_bytes())
            .expect("the committed public key is valid PEM")
    })
}

/// `POST /token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(400, "invalid_request", "Invalid request body.");
    };
    match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => refresh_grant(&shared, &form),
        Some("authorization_code") => code_grant::exchange(&shared, &form),
        Some(JWT_BEARER) => jwt_grant(&shared, &form),
        other => oauth_error(400, "unsupported_grant_type", &format!("Invalid grant_type: {}", other.unwrap_or(""))),
    }
}

/// Client authentication of the `refresh_token` and `authorization_code` grants: Google's answer to a wrong
/// client, or `None` when it is right.
pub(crate) fn client_refusal(form: &HashMap<String, String>) -> Option<Response> {
    if form.get("client_id").map(String::as_str) != Some(OAUTH_CLIENT_ID) {
        return Some(oauth_error(401, "invalid_client", "The OAuth client was not found."));
    }
    if form.get("client_secret").map(String::as_str) != Some(OAUTH_CLIENT_SECRET) {
        return Some(oauth_error(401, "invalid_client", "Unauthorized"));
    }
    None
}

fn refresh_grant(shared: &Shared, form: &HashMap<String, String>) -> Response {
    if let Some(refused) = client_refusal(form) {
        return refused;
    }
    let Some(refresh_token) = form.get("refresh_token") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token");
    };
    let inner = shared.lock();
    let Some((grant_id, grant)) = inner.oauth.by_refresh_token(refresh_token) else {
        return oauth_error(400, "invalid_grant", "Bad Request");
    };
    if grant.revoked || inner.grants_refused {
        return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
    }
    let (grant_id, scopes) = (grant_id.clone(), grant.scopes.clone());
    let principal = Principal::user(&grant.user, &grant.client, &grant.scopes);
    drop(inner);
    let (access_token, expires_in) = issue(shared, principal, scopes.clone(), Some(grant_id));
    axum::Json(json!({
        "access_token": access_token,
        "expires_in": expires_in,
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    }))
    .into_response()
}

fn jwt_grant(shared: &Shared, form: &HashMap<String, String>) -> Response {
    let invalid_grant = |description: &str| oauth_error(400, "invalid_grant", description);
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: assertion");
    };
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return invalid_grant("Invalid JWT Signature.");
    };
    if header.alg != Algorithm::RS256 {
        return invalid_grant("Invalid JWT Signature.");
    }
    let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(assertion) else {
        return invalid_grant("Invalid JWT Signature.");
    };
    if unverified.get("iss").and_then(Value::as_str) != Some(SERVICE_ACCOUNT_EMAIL) {
        return invalid_grant("Invalid grant: account not found");
    }
    if header.kid.as_deref().is_some_and(|kid| kid != PRIVATE_KEY_ID) {
        return invalid_grant("Invalid JWT Signature.");
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let Ok(verified) = jsonwebtoken::decode::<Map<String, Value>>(assertion, service_account_key(), &validation) else {
        return invalid_grant("Invalid JWT Signature.");
    };
    let claims = verified.claims;
    if shared.lock().grants_refused {
        // What a deleted or disabled key gets.
        return invalid_grant("Invalid JWT Signature.");
    }

    let token_uri = shared.token_uri();
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == token_uri || aud == GOOGLE_TOKEN_URI,
        _ => false,
    };
    if !audience_ok {
        return invalid_grant(&format!("Invalid JWT: Failed audience check. The right audience is {token_uri}"));
    }

    let seconds = |name: &str| claims.get(name).and_then(Value::as_f64).map(|v| v as i64);
    let (Some(iat), Some(exp)) = (seconds("iat"), seconds("exp")) else {
        return invalid_grant(BAD_TIMES);
    };
    let now = clock::now_secs();
    if exp <= iat || exp - iat > 3600 || exp < now - CLOCK_SKEW_SECS || iat > now + CLOCK_SKEW_SECS {
        return invalid_grant(BAD_TIMES);
    }

    let scopes: Vec<String> =
        claims.get("scope").and_then(Value::as_str).unwrap_or("").split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }

    let principal = match claims.get("sub").and_then(Value::as_str) {
        None => Principal::service(SERVICE_ACCOUNT_EMAIL, true),
        Some(subject) if subject == SERVICE_ACCOUNT_EMAIL => Principal::service(SERVICE_ACCOUNT_EMAIL, true),
        Some(subject) => {
            if !shared.lock().delegation.contains(subject) {
                return oauth_error(401, "unauthorized_client", UNAUTHORIZED_CLIENT);
            }
            Principal::service(subject, false)
        }
    };
    let (access_token, expires_in) = issue(shared, principal, scopes, None);
    // Google's answer to the JWT grant carries no scope member.
    axum::Json(json!({ "access_token": access_token, "expires_in": expires_in, "token_type": "Bearer" }))
        .into_response()
}

/// A new access token; `grant` ties it to the refresh token or code it came from, so revoking those ends it.
pub(crate) fn issue(
    shared: &Shared,
    principal: Principal,
    scopes: Vec<String>,
    grant: Option<String>,
) -> (String, u64) {
    let access_token = random_id("ya29.", 120);
    let mut inner = shared.lock();
    let ttl = inner.token_ttl;
    let expires_at = inner.now() + ttl;
    inner.root_of(&principal.email);
    inner.tokens.insert(access_token.clone(), Token { principal, scopes, expires_at, grant });
    (access_token, ttl.as_secs())
}

/// Checks `Authorization: Bearer <token>`: unknown, revoked or expired tokens get 401 with reason authError.
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let value =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(ApiError::unauthenticated)?;
    let (scheme, token) = value.split_once(' ').ok_or_else(ApiError::unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthenticated());
    }
    let inner = shared.lock();
    let token = inner.tokens.get(token.trim()).ok_or_else(ApiError::unauthenticated)?;
    if inner.now() >= token.expires_at {
        return Err(ApiError::unauthenticated());
    }
    if !token.scopes.iter().any(|scope| scope == DRIVE_SCOPE || scope == DRIVE_FILE_SCOPE) {
        return Err(ApiError::insufficient_scopes());
    }
    Ok(token.principal.clone())
}

/// Requests to a resumable session URI: the URI itself is the credential (Google's guide sends its chunks and
/// status queries without Authorization), but a bearer token that is sent is checked like any other.
pub(crate) fn authenticate_session(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        authenticate(shared, headers)?;
    }
    Ok(())
}
