//! Browser sessions. The cookie holds a random token (HttpOnly, SameSite=Lax, Secure behind
//! TLS, as `COOKIE_SECURE` and a trusted proxy say); the database holds its sha256, who signed
//! in, the session's CSRF token and its expiry, so every process of a deployment knows every
//! session.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;

use super::{cookie, random_token, same, sha256_hex};
use crate::config::web::CookieSecure;
use crate::db::entities::session;
use crate::db::now_ms;
use crate::http::source::Source;
use crate::http::state::Web;

/// The session cookie's name.
pub const COOKIE: &str = "orchestrator_session";

/// A signed-in admin, for pages. Without a valid session, pages redirect to sign-in.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who.
    pub user: String,
    /// The token every state-changing form must carry.
    pub csrf: String,
    id: String,
}

impl Signed {
    /// Refuses a form whose CSRF token is missing or wrong.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), crate::http::error::PageError> {
        match given {
            Some(token) if same(token, &self.csrf) => Ok(()),
            _ => Err(crate::http::error::PageError::Forbidden(
                "the form expired or did not come from this site: reload the page and try again".into(),
            )),
        }
    }
}

/// Starts a session for `user`; returns the cookie to set.
pub async fn create(web: &Web, source: &Source, user: &str) -> Result<HeaderValue, DbErr> {
    let now = now_ms();
    session::Entity::delete_many().filter(session::Column::ExpiresAt.lt(now)).exec(&web.ctx.db).await?;
    let token = random_token(32);
    let ttl = web.settings.session_ttl;
    session::ActiveModel {
        id: Set(sha256_hex(&token)),
        username: Set(user.to_owned()),
        csrf: Set(random_token(24)),
        created_at: Set(now),
        expires_at: Set(now + ttl.as_millis() as i64),
        last_seen_at: Set(Some(now)),
        source: Set(crate::audit::SOURCE.try_with(|ip| ip.to_string()).ok()),
        // Signing in is proving who one is.
        confirmed_at: Set(Some(now)),
    }
    .insert(&web.ctx.db)
    .await?;
    Ok(set_cookie(web, source, COOKIE, &token, ttl.as_secs()))
}

/// Ends the session; returns the cookie that clears it.
pub async fn destroy(web: &Web, source: &Source, signed: &Signed) -> Result<HeaderValue, DbErr> {
    session::Entity::delete_by_id(signed.id.clone()).exec(&web.ctx.db).await?;
    Ok(set_cookie(web, source, COOKIE, "", 0))
}

/// A `Set-Cookie` value with our attributes, for a request from `source`. With `COOKIE_SECURE=auto`
/// only a trusted proxy's word makes it `Secure`: anyone else's `X-Forwarded-Proto` is ignored.
pub fn set_cookie(web: &Web, source: &Source, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let tls = match web.settings.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => source.forwarded_https,
    };
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .expect("cookie characters are URL-safe")
}

async fn lookup(web: &Web, headers: &HeaderMap) -> Option<Signed> {
    let token = cookie(headers, COOKIE)?;
    let row = session::Entity::find_by_id(sha256_hex(token)).one(&web.ctx.db).await.ok()??;
    (row.expires_at > now_ms()).then_some(Signed { user: row.username, csrf: row.csrf, id: row.id })
}

impl FromRequestParts<Web> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        // A handler may extract the session twice (its page, then its CSRF-checked form): the
        // database is asked once per request.
        if let Some(signed) = parts.extensions.get::<Signed>() {
            return Ok(signed.clone());
        }
        match lookup(web, &parts.headers).await {
            Some(signed) => {
                parts.extensions.insert(signed.clone());
                Ok(signed)
            }
            None => {
                let path = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.clone(), |u| u.0.clone());
                let next = path.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                let target = if next == "/" {
                    "/login".to_owned()
                } else {
                    format!("/login?next={}", crate::http::format::url_encode(&next))
                };
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

/// The session, when there is one (the sign-in page uses it to skip itself).
pub async fn current(web: &Web, headers: &HeaderMap) -> Option<Signed> {
    lookup(web, headers).await
}
