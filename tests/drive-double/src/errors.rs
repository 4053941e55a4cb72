//! Google's JSON error envelope, as the Drive API v3 sends it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::RateLimit;

/// One Drive API error: `{"error":{"code","message","errors":[{domain,reason,message,..}],"status"}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    code: u16,
    domain: &'static str,
    reason: &'static str,
    message: String,
    location: Option<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(code: u16, domain: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, domain, reason, message: message.into(), location: None }
    }

    /// Google names the offending parameter or header in `location` / `locationType`.
    pub(crate) fn at(mut self, location_type: &'static str, location: impl Into<String>) -> Self {
        self.location = Some((location_type, location.into()));
        self
    }

    pub(crate) fn file_not_found(id: &str) -> Self {
        ApiError::new(404, "global", "notFound", format!("File not found: {id}.")).at("parameter", "fileId")
    }

    pub(crate) fn session_not_found() -> Self {
        ApiError::new(404, "global", "notFound", "Upload session not found.")
    }

    pub(crate) fn route_not_found() -> Self {
        ApiError::new(404, "global", "notFound", "Not Found")
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "global", "badRequest", message)
    }

    pub(crate) fn invalid_value(parameter: &str) -> Self {
        ApiError::new(400, "global", "invalid", "Invalid Value").at("parameter", parameter)
    }

    pub(crate) fn invalid_fields(selection: &str) -> Self {
        ApiError::new(400, "global", "invalidParameter", format!("Invalid field selection {selection}"))
            .at("parameter", "fields")
    }

    pub(crate) fn parse_error() -> Self {
        ApiError::new(400, "global", "parseError", "Parse Error")
    }

    pub(crate) fn unauthenticated() -> Self {
        ApiError::new(
            401,
            "global",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .at("header", "Authorization")
    }

    pub(crate) fn insufficient_scopes() -> Self {
        ApiError::new(403, "global", "insufficientPermissions", "Request had insufficient authentication scopes.")
    }

    pub(crate) fn insufficient_file_permissions() -> Self {
        ApiError::new(
            403,
            "global",
            "insufficientFilePermissions",
            "The user does not have sufficient permissions for this file.",
        )
    }

    pub(crate) fn field_not_writable(message: impl Into<String>) -> Self {
        ApiError::new(403, "global", "fieldNotWritable", message)
    }

    pub(crate) fn service_account_quota() -> Self {
        ApiError::new(
            403,
            "usageLimits",
            "storageQuotaExceeded",
            "Service Accounts do not have storage quota. Leverage shared drives \
             (https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth delegation \
             (http://support.google.com/a/answer/7281227) instead.",
        )
    }

    /// The 750 GB a day upload cap. It has no reason of its own: Google answers with the per-minute rate
    /// limit's reason and this exact short message (README.md, rule "daily-cap").
    pub(crate) fn upload_limit() -> Self {
        ApiError::new(403, "usageLimits", "userRateLimitExceeded", "User rate limit exceeded.")
    }

    /// The owner's storage is full (README.md, rule "storage-quota").
    pub(crate) fn storage_quota() -> Self {
        ApiError::new(403, "usageLimits", "storageQuotaExceeded", "The user's Drive storage quota has been exceeded.")
    }

    /// A shared drive holds as many items as it may (README.md, rule "shared-drive-items").
    pub(crate) fn shared_drive_file_limit() -> Self {
        ApiError::new(
            403,
            "global",
            "teamDriveFileLimitExceeded",
            "The file limit for this shared drive has been exceeded.",
        )
    }

    /// A folder (not a root) holds as many items as it may (README.md, rule "folder-children").
    pub(crate) fn folder_children_limit() -> Self {
        ApiError::new(
            403,
            "global",
            "numChildrenInNonRootLimitExceeded",
            "The limit for this folder's number of children (files and folders) has been exceeded.",
        )
    }

    pub(crate) fn upload_too_large() -> Self {
        ApiError::new(
            413,
            "global",
            "uploadTooLarge",
            "The request is too large for a simple or multipart upload (limit 5 MB). Use a resumable upload \
             (uploadType=resumable) instead.",
        )
    }

    pub(crate) fn rate_limited(kind: RateLimit) -> Self {
        match kind {
            RateLimit::TooManyRequests => ApiError::new(429, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
            // The per-minute limit: same reason as the daily cap, a much longer message (rule "rate-limits").
            RateLimit::UserRateLimit => ApiError::new(
                403,
                "usageLimits",
                "userRateLimitExceeded",
                "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota. You may consider \
                 re-evaluating expected per-user traffic to the API and adjust project quota limits accordingly. You \
                 may monitor aggregate quota usage and adjust limits in the API Console: \
                 https://console.developers.google.com/apis/api/drive.googleapis.com/quotas?project=104270653281",
            ),
            RateLimit::RateLimit => ApiError::new(403, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
        }
    }

    /// The error an injected chunk failure answers with: the reason Google's "Resolve errors" guide pairs with it.
    pub(crate) fn injected(status: u16) -> Self {
        match status {
            403 => ApiError::rate_limited(RateLimit::UserRateLimit),
            429 => ApiError::rate_limited(RateLimit::TooManyRequests),
            500 => ApiError::new(500, "global", "backendError", "Backend Error"),
            502 => ApiError::new(502, "global", "badGateway", "Bad Gateway"),
            503 => ApiError::new(503, "global", "backendError", "Service Unavailable"),
            504 => ApiError::new(504, "global", "backendError", "Gateway Timeout"),
            other => ApiError::new(other, "global", "backendError", "Injected failure"),
        }
    }
}

/// The canonical gRPC status name Google puts next to each HTTP code.
fn status_name(code: u16) -> &'static str {
    match code {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut detail = json!({ "domain": self.domain, "reason": self.reason, "message": self.message });
        if let Some((location_type, location)) = &self.location {
            detail["locationType"] = json!(location_type);
            detail["location"] = json!(location);
        }
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [detail],
                "status": status_name(self.code),
            }
        });
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(body)).into_response();
        if self.code == 401 {
            // Google names the failed scheme, as RFC 6750 asks.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""),
            );
        }
        response
    }
}

/// Google's front-end page for a PUT or POST without `Content-Length` or `Transfer-Encoding`: HTML, not the
/// API's JSON envelope, since no API saw the request.
pub(crate) fn length_required() -> Response {
    const PAGE: &str = "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  \
                        <title>Error 411 (Length Required)!!1</title>\n  \
                        <p><b>411.</b> <ins>That\u{2019}s an error.</ins>\n  \
                        <p>POST requests require a <code>Content-length</code> header.  \
                        <ins>That\u{2019}s all we know.</ins>\n";
    let mut response = (StatusCode::LENGTH_REQUIRED, PAGE).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=UTF-8"));
    response.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

/// An OAuth 2.0 token endpoint error (RFC 6749 section 5.2), which is not the Drive envelope.
pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}
