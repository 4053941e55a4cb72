//! Errors of the pages: a readable page with the right status. Details of 5xx go to the log,
//! never to the browser.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::registry::RegistryError;

/// Why a page could not be shown or a form not handled.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 403 (bad CSRF token, wrong password for a destructive act).
    #[error("{0}")]
    Forbidden(String),
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 409: the app or the copy cannot do this now, or something else holds the app.
    #[error("{0}")]
    Conflict(String),
    /// 502: the app or the destination failed.
    #[error("{0}")]
    BadGateway(String),
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
            RegistryError::NotFound(name) => PageError::NotFound(format!("there is no app named {name}")),
            RegistryError::Invalid(errors) => {
                PageError::BadRequest(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
            }
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<crate::error::Error> for PageError {
    fn from(e: crate::error::Error) -> Self {
        use crate::error::Error;
        match e {
            Error::NotFound(m) => PageError::NotFound(m),
            Error::Invalid(m) => PageError::BadRequest(m),
            Error::Refused(m) | Error::Busy(m) => PageError::Conflict(m),
            Error::App { message, .. } | Error::Destination { message, .. } => PageError::BadGateway(message),
            Error::Db(e) => e.into(),
            Error::Internal(m) => PageError::Internal(m),
            Error::Said(class, msg) => PageError::said(class, msg.to_string()),
        }
    }
}

impl PageError {
    /// The page error of a class of the domain's errors.
    pub fn said(class: crate::error::Class, text: String) -> PageError {
        use crate::error::Class;
        match class {
            Class::NotFound => PageError::NotFound(text),
            Class::Invalid => PageError::BadRequest(text),
            Class::Refused => PageError::Conflict(text),
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
        let (status, message) = match &self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            PageError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            PageError::BadGateway(m) => (StatusCode::BAD_GATEWAY, m.clone()),
            PageError::Internal(m) => {
                tracing::error!(error = %m, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong on our side; the log says what".to_owned())
            }
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>{code}</title>\
             <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
             <h1>{code}</h1><p class=\"error\" role=\"alert\">{message}</p><p><a href=\"/\">Dashboard</a></p>\
             </main></body></html>",
            code = status.as_u16(),
            message = crate::http::format::escape(&message),
        );
        (status, Html(body)).into_response()
    }
}
