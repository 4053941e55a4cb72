//! Errors of the pages: a readable page with the right status. Details of 5xx go to the log,
//! never to the browser.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::catalogue::{Msg, Said, T};
use crate::registry::RegistryError;

/// Why a page could not be shown or a form not handled. What it says is shown in the reader's
/// language (see [`crate::http::i18n::reader`]).
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// 404.
    #[error("{0}")]
    NotFound(Said),
    /// 403 (bad CSRF token, wrong password for a destructive act).
    #[error("{0}")]
    Forbidden(Said),
    /// 400.
    #[error("{0}")]
    BadRequest(Said),
    /// 409: the app or the copy cannot do this now, or something else holds the app.
    #[error("{0}")]
    Conflict(Said),
    /// 502: the app or the destination failed.
    #[error("{0}")]
    BadGateway(Said),
    /// 500; the message is logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl From<sea_orm::DbErr> for PageError {
    fn from(e: sea_orm::DbErr) -> Self {
        PageError::Internal(format!("database: {e}"))
    }
}

impl From<RegistryError> for PageError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(name) => PageError::NotFound(Msg::new("missing.app").with("name", name).into()),
            RegistryError::Invalid(errors) => {
                let each = errors
                    .into_iter()
                    .map(|e| Msg::new("page_error.field").with("field", e.field).with_msg("error", e.msg));
                PageError::BadRequest(Msg::new("page_error.fields").with_msgs("errors", each.collect()).into())
            }
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<crate::error::Error> for PageError {
    fn from(e: crate::error::Error) -> Self {
        use crate::error::{Class, Error};
        let said = e.said();
        match e {
            Error::NotFound(_) | Error::Said(Class::NotFound, _) => PageError::NotFound(said),
            Error::Invalid(_) | Error::Said(Class::Invalid, _) => PageError::BadRequest(said),
            Error::Refused(_) | Error::Busy(_) | Error::Said(Class::Refused | Class::Busy, _) => {
                PageError::Conflict(said)
            }
            Error::App { .. } | Error::Destination { .. } => PageError::BadGateway(said),
            Error::Db(e) => e.into(),
            Error::Internal(m) => PageError::Internal(m),
        }
    }
}

impl PageError {
    /// The status and the words of the answer.
    pub fn parts(&self) -> (StatusCode, Said) {
        match self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            PageError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            PageError::BadGateway(m) => (StatusCode::BAD_GATEWAY, m.clone()),
            PageError::Internal(m) => {
                tracing::error!(error = %m, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, Msg::new("page_error.internal").into())
            }
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, said) = self.parts();
        let lang = crate::http::i18n::reader();
        let t = T { lang };
        let body = format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>{code}</title>\
             <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
             <h1>{code}</h1><p class=\"error\" role=\"alert\">{message}</p><p><a href=\"/\">{home}</a></p>\
             </main></body></html>",
            lang = lang.code(),
            code = status.as_u16(),
            message = said.html(lang),
            home = crate::http::format::escape(t.get("nav.dashboard")),
        );
        (status, Html(body)).into_response()
    }
}
