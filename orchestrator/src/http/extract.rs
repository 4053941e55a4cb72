//! Extractors both surfaces use, so handlers stay thin: a form whose CSRF token was checked
//! against the session ([`CheckedForm`]), and the app named in the path, loaded from the registry
//! with the surface's own not-found answer ([`PageApp`] for pages, [`ApiApp`] for the API).

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
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
pub struct CheckedForm<T>(pub T);

#[derive(Deserialize)]
struct Token {
    csrf: Option<String>,
}

impl<T: serde::de::DeserializeOwned + Send + 'static> FromRequest<Web> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, web).await?;
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|e| PageError::BadRequest(format!("the form could not be read: {e}")).into_response())?;
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
