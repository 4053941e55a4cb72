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
use crate::catalogue::{Lang, Msg};
use crate::config::web::CookieSecure;
use crate::db::entities::session;
use crate::db::now_ms;
use crate::http::access::Need;
use crate::http::source::Source;
use crate::http::state::Web;
use crate::users::Role;

/// The session cookie's name.
pub const COOKIE: &str = "orchestrator_session";

/// A signed-in user, for pages. Without a valid session, pages redirect to sign-in; with a role
/// lower than the route needs ([`Need`]), they answer 403.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who.
    pub user: String,
    /// Their role now (a change applies to their open sessions at once).
    pub role: Role,
    /// Their language, when they chose one.
    pub language: Option<Lang>,
    /// The token every state-changing form must carry.
    pub csrf: String,
    /// When they last typed their password or signed in with the identity provider.
    pub confirmed_at: i64,
    /// The session's id (the sha256 of its cookie's token).
    pub id: String,
}

impl Signed {
    /// Refuses a form whose CSRF token is missing or wrong.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), crate::http::error::PageError> {
        match given {
            Some(token) if same(token, &self.csrf) => Ok(()),
            _ => Err(crate::http::error::PageError::Forbidden(crate::catalogue::Msg::new("page_error.csrf").into())),
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

/// The session of the request's cookie, while it lasts: before its absolute end, used within the
/// idle lifetime, its user still there. Its last use is written at most once a minute.
async fn lookup(web: &Web, headers: &HeaderMap) -> Option<Signed> {
    let token = cookie(headers, COOKIE)?;
    let row = session::Entity::find_by_id(sha256_hex(token)).one(&web.ctx.db).await.ok()??;
    let now = now_ms();
    let last_seen = row.last_seen_at.unwrap_or(row.created_at);
    if row.expires_at <= now || now - last_seen > web.settings.session_idle.as_millis() as i64 {
        return None;
    }
    let user = crate::users::find(&web.ctx.db, &row.username).await.ok()??;
    let role = Role::parse(&user.role)?;
    if now - last_seen > 60_000 {
        let _ = session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::Id.eq(row.id.as_str()))
            .exec(&web.ctx.db)
            .await;
    }
    Some(Signed {
        user: row.username,
        role,
        language: user.language.as_deref().and_then(Lang::parse),
        csrf: row.csrf,
        confirmed_at: row.confirmed_at.unwrap_or(row.created_at),
        id: row.id,
    })
}

/// Why `role` may not do what needs `needed`.
pub fn refusal(role: Role, needed: Role) -> Msg {
    Msg::new("access.role").with("role", role).with("needed", needed)
}

/// Refuses a role lower than the route's rule; a route without a rule refuses everyone.
pub fn allowed(need: Option<&Need>, role: Role) -> Result<(), Msg> {
    match need {
        Some(need) if role.allows(need.role) => Ok(()),
        Some(need) => Err(refusal(role, need.role)),
        None => Err(Msg::new("access.no_rule")),
    }
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
                if let Err(refused) = allowed(parts.extensions.get::<Need>(), signed.role) {
                    crate::http::i18n::set_reader(signed.language.unwrap_or_else(|| Lang::of(&parts.headers)));
                    return Err(crate::http::error::PageError::Forbidden(refused.into()).into_response());
                }
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
