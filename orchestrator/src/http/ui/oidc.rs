//! Sign-in through the organisation's identity provider: `GET /login/oidc` sends the browser
//! there, `GET /login/oidc/callback` brings it back. Who the provider vouches for signs in as the
//! user of that e-mail, whose role follows the provider's role claim when one is configured; a
//! person without a user is added only when a role comes from the claim or `OIDC_DEFAULT_ROLE`.
//! Nothing is created or changed when the provider refuses or anything fails to verify.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::catalogue::{Lang, Msg};
use crate::db::now_ms;
use crate::http::auth::cookie;
use crate::http::auth::oidc::{self, Decision, FLOW_COOKIE, FLOW_TTL};
use crate::http::auth::session::{self, set_cookie};
use crate::http::error::PageError;
use crate::http::source::Source;
use crate::http::state::Web;
use crate::http::ui::login::{NextQuery, refused, safe_next};
use crate::users::{self, NewUser, Role};

/// Who created the users the provider brought, in the users list and the audit log.
const CREATED_BY: &str = "identity provider";

/// Where the provider sends the browser back: `PUBLIC_URL` (else the address served on) and
/// the callback's path. It must be registered with the provider exactly so.
fn redirect_uri(web: &Web) -> String {
    let base = web.ctx.notifier.base_url().unwrap_or_default();
    format!("{}/login/oidc/callback", base.trim_end_matches('/'))
}

fn provider_of(web: &Web) -> Result<&oidc::Provider, PageError> {
    web.oidc.as_ref().ok_or_else(|| PageError::NotFound(Msg::new("oidc.off").into()))
}

/// GET /login/oidc.
pub async fn start(State(web): State<Web>, source: Source, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let lang = Lang::of(&headers);
    let provider = match provider_of(&web) {
        Ok(provider) => provider,
        Err(e) => return e.into_response(),
    };
    let next = safe_next(q.next.as_deref());
    match provider.start(&web.ctx.secrets, &redirect_uri(&web), next, now_ms()).await {
        Ok(started) => {
            let cookie = set_cookie(&web, &source, FLOW_COOKIE, &started.cookie, FLOW_TTL.as_secs());
            ([(header::SET_COOKIE, cookie)], Redirect::to(&started.url)).into_response()
        }
        Err(msg) => refused(&web, &source, &headers, msg.render(lang), StatusCode::BAD_GATEWAY),
    }
}

/// What the provider sends back: a code and our state, or an error.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// GET /login/oidc/callback.
pub async fn callback(
    State(web): State<Web>,
    source: Source,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let lang = Lang::of(&headers);
    let provider = match provider_of(&web) {
        Ok(provider) => provider,
        Err(e) => return e.into_response(),
    };
    // The flow is used once, whatever comes of it.
    let clear = set_cookie(&web, &source, FLOW_COOKIE, "", 0);
    let fail = |msg: Msg, status: StatusCode| {
        let mut response = refused(&web, &source, &headers, msg.render(lang), status);
        response.headers_mut().append(header::SET_COOKIE, clear.clone());
        response
    };
    if let Some(error) = q.error {
        // The provider's words are its own (and in its language): said as they are, escaped.
        let said = match q.error_description {
            Some(description) if !description.trim().is_empty() => format!("{error}: {description}"),
            _ => error,
        };
        let said: String = said.chars().filter(|c| !c.is_control()).take(300).collect();
        return fail(Msg::new("oidc.provider_error").with("error", said), StatusCode::FORBIDDEN);
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return fail(Msg::new("oidc.expired"), StatusCode::BAD_REQUEST);
    };
    let identity = match provider
        .finish(&web.ctx.secrets, &redirect_uri(&web), cookie(&headers, FLOW_COOKIE), &code, &state, now_ms())
        .await
    {
        Ok(identity) => identity,
        Err(msg) => return fail(msg, StatusCode::FORBIDDEN),
    };
    let user = match admit(&web, &identity).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let detail =
                Msg::new("audit_detail.sso_refused").with("email", &identity.email).with("address", source.client);
            crate::audit::record_said(&web.ctx.db, CREATED_BY, "sign_in.refused", None, &detail).await;
            return fail(Msg::new("oidc.not_allowed").with("email", &identity.email), StatusCode::FORBIDDEN);
        }
        Err(Admission::Refused(msg)) => return fail(msg, StatusCode::FORBIDDEN),
        Err(Admission::Failed(e)) => return e.into_response(),
    };
    match session::create(&web, &source, &user).await {
        Ok(session_cookie) => {
            let detail = Msg::new("audit_detail.sso");
            crate::audit::record_said(&web.ctx.db, &user, "sign_in", None, &detail).await;
            let mut response = Redirect::to(&safe_next(Some(&identity.next))).into_response();
            response.headers_mut().append(header::SET_COOKIE, session_cookie);
            response.headers_mut().append(header::SET_COOKIE, clear);
            response
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// Why someone the provider vouched for cannot sign in.
enum Admission {
    /// A reason to tell them.
    Refused(Msg),
    /// Our side failed.
    Failed(PageError),
}

impl From<sea_orm::DbErr> for Admission {
    fn from(e: sea_orm::DbErr) -> Self {
        Admission::Failed(e.into())
    }
}

/// The user the identity signs in as, after applying the provider's role or adding them; `None`
/// when nobody of that e-mail is a user and no role comes for them.
async fn admit(web: &Web, identity: &oidc::Identity) -> Result<Option<String>, Admission> {
    let db = &web.ctx.db;
    let settings = web.oidc.as_ref().map(|p| p.settings());
    let found = users::find_by_email(db, &identity.email).await?;
    let existing = found.as_ref().and_then(|u| Some((u.name.as_str(), Role::parse(&u.role)?)));
    let default_role = settings.and_then(|s| s.default_role);
    match oidc::decide(existing, identity.role, default_role, &web.admin.user) {
        Decision::SignIn { user, role: None } => Ok(Some(user)),
        Decision::SignIn { user, role: Some(role) } => {
            users::update(db, &user, Some(role.as_str()), None, None, &web.admin.user)
                .await
                .map_err(|e| Admission::Failed(PageError::Internal(format!("setting {user}'s role: {e:?}"))))?;
            crate::audit::record(db, CREATED_BY, "user.update", Some(&user), Some(role.as_str())).await;
            Ok(Some(user))
        }
        Decision::Create(role) => {
            let name = oidc::name_for(&identity.email);
            let new = NewUser {
                name: name.clone(),
                role: role.as_str().to_owned(),
                email: identity.email.clone(),
                ..Default::default()
            };
            match users::add(db, new, CREATED_BY, &web.admin.user).await {
                Ok(row) => {
                    crate::audit::record(db, CREATED_BY, "user.add", Some(&row.name), Some(&row.role)).await;
                    Ok(Some(row.name))
                }
                Err(users::UserError::Invalid(_)) => {
                    Err(Admission::Refused(Msg::new("oidc.name_taken").with("name", name)))
                }
                Err(users::UserError::Db(e)) => Err(e.into()),
                Err(users::UserError::NotFound) => Err(Admission::Failed(PageError::Internal("adding a user".into()))),
            }
        }
        Decision::Refuse => Ok(None),
    }
}
