//! Sign-in, sign-out and the language switch. Sign-in's form carries a CSRF token of its own (a
//! cookie it must match), as there is no session yet; failures are throttled and audited.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use crate::catalogue::{Lang, T};
use crate::http::auth::session::{self, set_cookie};
use crate::http::auth::{cookie, random_token, same};
use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::i18n;
use crate::http::source::Source;
use crate::http::state::Web;
use crate::http::ui::{Page, render};

const LOGIN_CSRF: &str = "login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: T,
    csrf: String,
    next: String,
    user: String,
    error: Option<String>,
    demo: bool,
    /// The identity provider's button.
    oidc: bool,
    /// The password form.
    local: bool,
}

/// Where `next` may send the browser: only a path of this site. Browsers drop tabs and line
/// breaks from a URL and read `\\` as `/`, so `/\t/evil.example` is `//evil.example` to them:
/// a path holding a control character, a backslash or a space is refused whole.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `?next=`.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    pub(super) next: Option<String>,
}

/// GET /login.
pub async fn form(State(web): State<Web>, source: Source, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if session::current(&web, &headers).await.is_some() {
        return Redirect::to(&next).into_response();
    }
    login_page(&web, &source, &headers, next, String::new(), None, StatusCode::OK)
}

fn login_page(
    web: &Web,
    source: &Source,
    headers: &HeaderMap,
    next: String,
    user: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = random_token(24);
    let page = LoginPage {
        t: T { lang: Lang::of(headers) },
        csrf: csrf.clone(),
        next,
        user,
        error,
        demo: web.demo_app.is_some(),
        oidc: web.oidc.is_some(),
        local: web.settings.local_sign_in,
    };
    match render(&page) {
        Ok(html) => {
            (status, [(header::SET_COOKIE, set_cookie(web, source, LOGIN_CSRF, &csrf, 3600))], html).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The sign-in page with `message` in place of the form's error: a sign-in through the identity
/// provider that could not be completed.
pub(super) fn refused(
    web: &Web,
    source: &Source,
    headers: &HeaderMap,
    message: String,
    status: StatusCode,
) -> Response {
    login_page(web, source, headers, "/".to_owned(), String::new(), Some(message), status)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: SecretString,
    csrf: Option<String>,
    next: Option<String>,
}

/// POST /login.
pub async fn submit(
    State(web): State<Web>,
    source: Source,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let t = T { lang: Lang::of(&headers) };
    if !web.settings.local_sign_in {
        return PageError::Forbidden(crate::catalogue::Msg::new("oidc.local_off").into()).into_response();
    }
    let next = safe_next(form.next.as_deref());
    let csrf_ok = matches!((cookie(&headers, LOGIN_CSRF), form.csrf.as_deref()), (Some(c), Some(f)) if same(c, f));
    if !csrf_ok {
        return PageError::Forbidden(crate::catalogue::Msg::new("login.expired").into()).into_response();
    }
    let user = form.user.trim().to_owned();
    // The attempt is counted before the password is hashed: parallel guesses cannot race past
    // the limit, and a source that reached it is refused without any hashing. Behind a trusted
    // proxy the source is the client it forwards for, so its clients are not locked out together.
    let attempt = match web.throttle.begin(crate::http::auth::throttle::keys(source.client, &user)) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let message = t.fill("login.throttled", &[("seconds", &wait.as_secs().max(1).to_string())]);
            return login_page(&web, &source, &headers, next, user, Some(message), StatusCode::TOO_MANY_REQUESTS);
        }
    };
    let slowed = web.throttle.delay(&user);
    let verified = match crate::users::verify(&web.ctx.db, &user, form.password).await {
        Ok(found) => found.map(|user| user.is_some()),
        Err(e) => return PageError::from(e).into_response(),
    };
    tokio::time::sleep(slowed).await;
    match verified {
        Some(true) => attempt.succeeded(&user),
        Some(false) => {
            attempt.failed(&user);
            let from = crate::catalogue::Msg::new("audit_detail.from").with("address", source.client);
            crate::audit::record_said(&web.ctx.db, &user, "sign_in.failed", None, &from).await;
            let message = t.get("login.wrong").to_owned();
            return login_page(&web, &source, &headers, next, user, Some(message), StatusCode::UNAUTHORIZED);
        }
        None => {
            drop(attempt);
            let message = t.get("login.busy").to_owned();
            return login_page(&web, &source, &headers, next, user, Some(message), StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    match session::create(&web, &source, &user).await {
        Ok(cookie) => {
            let from = crate::catalogue::Msg::new("audit_detail.from").with("address", source.client);
            crate::audit::record_said(&web.ctx.db, &user, "sign_in", None, &from).await;
            let clear = set_cookie(&web, &source, LOGIN_CSRF, "", 0);
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response.headers_mut().append(header::SET_COOKIE, clear);
            response
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// POST /logout.
pub async fn logout(
    State(web): State<Web>,
    page: Page,
    source: Source,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let cookie = session::destroy(&web, &source, &page.signed).await?;
    crate::audit::record(&web.ctx.db, &page.user, "sign_out", None, None).await;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

/// `?back=`.
#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// GET /lang/{code}: remembers the language and goes back.
pub async fn switch_language(
    State(web): State<Web>,
    source: Source,
    Path(code): Path<String>,
    Query(q): Query<BackQuery>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(&code).ok_or_else(|| {
        PageError::NotFound(crate::catalogue::Msg::new("missing.language").with("code", format!("{code:?}")).into())
    })?;
    let cookie = set_cookie(&web, &source, i18n::COOKIE, lang.code(), 365 * 24 * 3600);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&safe_next(q.back.as_deref()))).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_only_returns_to_paths_of_this_site() {
        assert_eq!(safe_next(Some("/apps/billing")), "/apps/billing");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        for sneaky in ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example", "/%09x\\y"] {
            assert_eq!(safe_next(Some(sneaky)), "/", "{sneaky:?}");
        }
        assert_eq!(safe_next(Some("/runs?state=failed&page=2")), "/runs?state=failed&page=2");
    }
}
