//! Extractors both surfaces use, so handlers stay thin: a form whose CSRF token was checked
//! against the session ([`CheckedForm`]), and the app named in the path, loaded from the registry
//! with the surface's own not-found answer ([`PageApp`] for pages, [`ApiApp`] for the API).

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Form, RequestExt};
use serde::Deserialize;

use crate::http::api::error::ApiError;
use crate::http::auth::session::Signed;
use crate::http::error::PageError;
use crate::http::state::Web;
use crate::registry::App;

/// A form posted from one of our pages: refused with 403, before anything is read into `T` or
/// changed, unless its `csrf` field is this session's token. Needs a session, like [`Signed`].
/// Read from `application/x-www-form-urlencoded`, or from `multipart/form-data` when the form
/// uploads a file: each part, a chosen file's text included, becomes the field of its name.
pub struct CheckedForm<T>(pub T);

/// The most a posted form may hold.
const FORM_LIMIT: usize = 1 << 20;

#[derive(Deserialize)]
struct Token {
    csrf: Option<String>,
}

impl<T: serde::de::DeserializeOwned + Send + 'static> FromRequest<Web> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, web).await?;
        let unreadable = |e: &dyn std::fmt::Display| {
            PageError::BadRequest(crate::catalogue::Msg::new("page_error.unreadable_form").quoting("detail", e).into())
                .into_response()
        };
        let bytes = if is_multipart(&parts.headers) {
            let req = Request::from_parts(parts.clone(), body);
            let multipart =
                axum::extract::Multipart::from_request(req, web).await.map_err(IntoResponse::into_response)?;
            let fields = flatten(multipart).await.map_err(|e| unreadable(&e))?;
            parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            parts.headers.remove(CONTENT_LENGTH);
            axum::body::Bytes::from(fields)
        } else {
            axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|e| unreadable(&e))?
        };
        let again = |parts: &Parts| {
            let mut req = Request::new(axum::body::Body::from(bytes.clone()));
            *req.headers_mut() = parts.headers.clone();
            *req.method_mut() = parts.method.clone();
            req
        };
        let Form(token) = again(&parts).extract::<Form<Token>, _>().await.map_err(IntoResponse::into_response)?;
        signed.check_csrf(token.csrf.as_deref()).map_err(IntoResponse::into_response)?;
        let Form(form) = again(&parts).extract::<Form<T>, _>().await.map_err(IntoResponse::into_response)?;
        Ok(CheckedForm(form))
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// A multipart form's parts as one urlencoded body; a file's content must be UTF-8 text.
async fn flatten(mut multipart: axum::extract::Multipart) -> Result<String, String> {
    let mut pairs = Vec::new();
    let mut total = 0;
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| e.body_text())?;
        total += bytes.len();
        if total > FORM_LIMIT {
            return Err(format!("it holds more than {} KiB", FORM_LIMIT / 1024));
        }
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| format!("the field {name:?} is not text"))?;
        pairs.push((name, text));
    }
    Ok(form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
}

async fn app_in_path(parts: &mut Parts, web: &Web) -> Result<App, crate::registry::RegistryError> {
    let Ok(Path(params)) = Path::<HashMap<String, String>>::from_request_parts(parts, web).await else {
        return Err(crate::registry::RegistryError::NotFound(String::new()));
    };
    let name = params.get("name").cloned().unwrap_or_default();
    web.ctx.registry.get(&name).await
}

/// The app named by `{name}` in a page's path; a page saying so when there is none.
pub struct PageApp(pub App);

impl FromRequestParts<Web> for PageApp {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        Ok(PageApp(app_in_path(parts, web).await?))
    }
}

/// The app named by `{name}` in an API path; a JSON 404 when there is none.
pub struct ApiApp(pub App);

impl FromRequestParts<Web> for ApiApp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        Ok(ApiApp(app_in_path(parts, web).await?))
    }
}

/// The body of a form that carries nothing but its CSRF token (pause, delete, sign out, ...).
#[derive(Deserialize)]
pub struct NoFields {}
