//! `POST /revoke`, Google's token revocation endpoint ("Using OAuth 2.0 for Web Server Applications", Revoking a
//! token): the token is an access token or a refresh token; revoking either ends the grant behind it, so the
//! refresh token and every access token issued from it stop working.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::errors::oauth_error;
use crate::state::Shared;

pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    // Google's guide shows the token in the form body and, in its curl example, in the query.
    let from_body = form.ok().and_then(|Form(mut form)| form.remove("token"));
    let Some(token) = from_body.or_else(|| query.get("token").cloned()) else {
        return oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    let mut inner = shared.lock();
    let now = inner.now();
    if let Some((grant, stored)) = inner.oauth.by_refresh_token(&token) {
        if stored.revoked {
            return expired_or_revoked();
        }
        let grant = grant.clone();
        inner.revoke_grant(&grant);
        return StatusCode::OK.into_response();
    }
    let Some(access) = inner.tokens.get(&token).filter(|access| now < access.expires_at) else {
        return expired_or_revoked();
    };
    match access.grant.clone() {
        // "If the token is an access token and it has a corresponding refresh token, the refresh token will also
        // be revoked."
        Some(grant) => inner.revoke_grant(&grant),
        None => {
            inner.tokens.remove(&token);
        }
    }
    StatusCode::OK.into_response()
}

fn expired_or_revoked() -> Response {
    oauth_error(400, "invalid_token", "Token expired or revoked")
}
