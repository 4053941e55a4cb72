//! Errors of the JSON API: `{"error": code, "message": words, "fields": [{field, message}]}` with
//! the right status; 5xx details go to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::registry::RegistryError;
use crate::registry::input::FieldError;

/// A field that must be fixed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The body of every error.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// unauthorized | not_found | invalid | conflict | bad_gateway | internal.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Field errors, when `error` is `invalid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401.
    #[error("{0}")]
    Unauthorized(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 422 with field errors.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 502: the app or the destination failed.
    #[error("{0}")]
    BadGateway(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(name) => ApiError::NotFound(format!("there is no app named {name}")),
            RegistryError::Invalid(errors) => ApiError::Invalid(errors),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> Self {
        use crate::error::Error;
        match e {
            Error::NotFound(m) => ApiError::NotFound(m),
            Error::Invalid(m) => ApiError::BadRequest(m),
            Error::Refused(m) | Error::Busy(m) => ApiError::Conflict(m),
            Error::App { message, .. } | Error::Destination { message, .. } => ApiError::BadGateway(message),
            Error::Db(e) => e.into(),
            Error::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, fields) = match self {
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m, vec![]),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m, vec![]),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m, vec![]),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m, vec![]),
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, "bad_gateway", m, vec![]),
            ApiError::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "some fields are invalid: fix them and send again".to_owned(),
                errors.into_iter().map(|e| FieldProblem { field: e.field, message: e.message }).collect(),
            ),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "API call failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side".to_owned(), vec![])
            }
        };
        let mut response = (status, Json(ApiErrorBody { error: code.to_owned(), message, fields })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        }
        response
    }
}
