//! Errors of the JSON API: `{"error": code, "message": words, "fields": [{field, code, message}]}`
//! with the right status; 5xx details go to the log only. Field errors are said in the language of
//! the call's `Accept-Language` (English by default; see [`crate::http::i18n::api_reader_scope`]),
//! next to their stable code.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::{Lang, Msg};
use crate::registry::RegistryError;
use crate::registry::input::FieldError;

/// A field that must be fixed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name.
    pub field: String,
    /// The rule broken: a stable code to act on, the same in every language.
    pub code: String,
    /// What is wrong and how to fix it, in the language of Accept-Language.
    pub message: String,
}

/// The body of every error.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// unauthorized | forbidden | not_found | invalid | conflict | bad_gateway | internal.
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
    /// 403: the caller's role does not allow this, or a dangerous action was not confirmed.
    #[error("{0}")]
    Forbidden(String),
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
            RegistryError::NotFound(name) => ApiError::not_found(Msg::new("missing.app").with("name", name)),
            RegistryError::Invalid(errors) => ApiError::Invalid(errors),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> Self {
        use crate::error::{Class, Error};
        match e {
            Error::NotFound(m) => ApiError::NotFound(m),
            Error::Invalid(m) => ApiError::BadRequest(m),
            Error::Refused(m) | Error::Busy(m) => ApiError::Conflict(m),
            Error::App { message, .. } | Error::Destination { message, .. } => ApiError::BadGateway(message),
            Error::Db(e) => e.into(),
            Error::Internal(m) => ApiError::Internal(m),
            Error::Said(class, msg) => {
                let text = msg.render(crate::http::i18n::reader());
                match class {
                    Class::NotFound => ApiError::NotFound(text),
                    Class::Invalid => ApiError::BadRequest(text),
                    Class::Refused | Class::Busy => ApiError::Conflict(text),
                }
            }
        }
    }
}

impl ApiError {
    /// A 404 that says what is missing in the caller's language.
    pub fn not_found(msg: Msg) -> ApiError {
        ApiError::NotFound(msg.render(crate::http::i18n::reader()))
    }
}

impl ApiErrorBody {
    /// The body of a 422 for `errors`, said in `lang`.
    fn invalid(errors: &[FieldError], lang: Lang) -> ApiErrorBody {
        ApiErrorBody {
            error: "invalid".to_owned(),
            message: Msg::new("api.invalid").render(lang),
            fields: errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    code: e.code().to_owned(),
                    message: e.msg.render(lang),
                })
                .collect(),
        }
    }
}

/// Gives axum's own rejections the API's error body: a path segment, a query string or a method
/// that its extractor or router refuses comes out as a `text/plain` line, where the document
/// promises `ApiErrorBody`. Every other answer passes as is.
pub async fn json_rejections(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Rejection texts are one line; anything longer is cut rather than buffered whole.
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    };
    let body = ApiErrorBody {
        error: code.to_owned(),
        message: String::from_utf8_lossy(&text).trim().to_owned(),
        fields: Vec::new(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(axum::http::header::CONTENT_TYPE, "application/json".parse().expect("static"));
    Response::from_parts(parts, Body::from(serde_json::to_vec(&body).expect("a body of strings serializes")))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::Invalid(errors) => {
                let body = ApiErrorBody::invalid(&errors, crate::http::i18n::reader());
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m),
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, "bad_gateway", m),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "API call failed");
                let said = Msg::new("page_error.internal").render(crate::http::i18n::reader());
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", said)
            }
        };
        let body = ApiErrorBody { error: code.to_owned(), message, fields: Vec::new() };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::extract::{Path, Query};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[derive(Deserialize)]
    struct Page {
        #[allow(dead_code)]
        limit: Option<u32>,
    }

    async fn call(uri: &str) -> (StatusCode, String, ApiErrorBody) {
        let app = Router::new()
            .route("/runs/{id}", get(|Path(_id): Path<i64>| async { "ok" }))
            .route("/runs", get(|Query(_q): Query<Page>| async { "ok" }))
            .layer(axum::middleware::from_fn(json_rejections));
        let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let kind = response.headers()[axum::http::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, kind, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_path_or_query_the_extractor_refuses_answers_an_api_error_body() {
        for uri in ["/runs/9223372036854775808", "/runs/abc", "/runs?limit=x", "/runs?limit=1&limit=2"] {
            let (status, kind, body) = call(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(kind, "application/json", "{uri}");
            assert_eq!(body.error, "bad_request", "{uri}");
            assert!(!body.message.is_empty(), "{uri}");
        }
    }
}
