//! Drive's answers turned into errors an operator can act on, each knowing whether trying again
//! can help.

use serde::Deserialize;

/// What kind of failure, which decides whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 401: the access token was refused; refresh it and try once more.
    Unauthorized,
    /// 429 or 403 rate limits: back off and retry within a budget.
    RateLimited,
    /// 5xx or a dropped connection: back off and retry.
    Transient,
    /// The account reached Drive's daily upload limit: retrying today is pointless.
    UploadCap,
    /// Storage quota: full, or a service account that has none.
    Quota,
    /// The file, folder or upload session does not exist for this account.
    NotFound,
    /// The upload session expired or was cancelled: the upload must start again.
    SessionGone,
    /// Any other refusal (403 forbidden, 400 bad request).
    Refused,
    /// The credentials themselves are unusable.
    Credentials,
    /// A file of that name exists and the write asked for a new one.
    Exists,
}

/// Every kind, in declaration order, with its metric label.
const KINDS: [(Kind, &str); 10] = [
    (Kind::Unauthorized, "unauthorized"),
    (Kind::RateLimited, "rate_limited"),
    (Kind::Transient, "transient"),
    (Kind::UploadCap, "upload_cap"),
    (Kind::Quota, "quota"),
    (Kind::NotFound, "not_found"),
    (Kind::SessionGone, "session_gone"),
    (Kind::Refused, "refused"),
    (Kind::Credentials, "credentials"),
    (Kind::Exists, "exists"),
];

/// Drive errors met by this process, by kind (for `/metrics`).
static ERRORS: [std::sync::atomic::AtomicU64; 10] = [const { std::sync::atomic::AtomicU64::new(0) }; 10];

/// How many Drive errors of each kind this process has met.
pub fn error_counts() -> Vec<(&'static str, u64)> {
    KINDS
        .iter()
        .map(|(kind, name)| (*name, ERRORS[*kind as usize].load(std::sync::atomic::Ordering::Relaxed)))
        .collect()
}

/// A failed Drive call, with a message that says what to do.
#[derive(Debug, Clone)]
pub(crate) struct DriveError {
    pub(crate) kind: Kind,
    pub(crate) message: String,
}

#[derive(Deserialize)]
struct GoogleError {
    error: GoogleErrorBody,
}

#[derive(Deserialize)]
struct GoogleErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<GoogleErrorItem>,
}

#[derive(Deserialize)]
struct GoogleErrorItem {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

impl DriveError {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        ERRORS[kind as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DriveError { kind, message: message.into() }
    }

    pub(crate) fn credentials(message: impl Into<String>) -> Self {
        DriveError::new(Kind::Credentials, message)
    }

    pub(crate) fn temporary(message: impl Into<String>) -> Self {
        DriveError::new(Kind::Transient, message)
    }

    pub(crate) fn transport(what: String, e: &reqwest::Error) -> Self {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        DriveError::new(Kind::Transient, format!("{what}: {text}"))
    }

    /// Worth trying again after a pause.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self.kind, Kind::RateLimited | Kind::Transient)
    }

    /// Reads Drive's error answer. `what` names the call ("uploading to folder X"), `principal`
    /// who made it, `service_account` whether that is a service account acting as itself.
    pub(crate) fn from_answer(status: u16, body: &[u8], what: &str, principal: &str, service_account: bool) -> Self {
        let (reason, message) = match serde_json::from_slice::<GoogleError>(body) {
            Ok(e) => {
                let first = e.error.errors.first();
                let reason = first.map(|i| i.reason.clone()).unwrap_or_default();
                let message = if e.error.message.is_empty() {
                    first.map(|i| i.message.clone()).unwrap_or_default()
                } else {
                    e.error.message
                };
                (reason, message)
            }
            Err(_) => (String::new(), String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned()),
        };
        let said = if message.is_empty() { format!("HTTP {status}") } else { format!("{status} {reason}: {message}") };
        let lower = message.to_ascii_lowercase();
        let (kind, advice) = match (status, reason.as_str()) {
            (401, _) => (Kind::Unauthorized, "the access token was refused".to_owned()),
            (403, "uploadLimitExceeded" | "dailyLimitExceeded") => (Kind::UploadCap, upload_cap_advice()),
            (403, _) if lower.contains("upload limit") => (Kind::UploadCap, upload_cap_advice()),
            (429, _) | (403, "rateLimitExceeded" | "userRateLimitExceeded") => {
                (Kind::RateLimited, "Drive is rate-limiting this account".to_owned())
            }
            (403, "storageQuotaExceeded") if service_account => (
                Kind::Quota,
                format!(
                    "the service account {principal} has no storage quota of its own: put the folder in a shared drive and add the service account as a member, or set GDRIVE_SUBJECT to a user for domain-wide delegation"
                ),
            ),
            (403, "storageQuotaExceeded" | "quotaExceeded") => {
                (Kind::Quota, format!("the Drive storage of {principal} is full: free space or buy more storage"))
            }
            (404, _) => (Kind::NotFound, format!("not found, or not shared with {principal}")),
            (403, _) => (
                Kind::Refused,
                format!(
                    "{principal} may not do this: share the folder with {principal} as an Editor (Content manager in a shared drive)"
                ),
            ),
            (500.., _) => (Kind::Transient, "Drive failed on its side".to_owned()),
            _ => (Kind::Refused, "Drive refused the request".to_owned()),
        };
        DriveError::new(kind, format!("{what}: {advice} (Drive said {said})"))
    }
}

fn upload_cap_advice() -> String {
    "the account reached Google's daily upload limit (750 GB per user per day); uploads can resume when the limit resets, or use another account".to_owned()
}

impl std::fmt::Display for DriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<DriveError> for opendal::Error {
    fn from(e: DriveError) -> Self {
        use opendal::ErrorKind as K;
        let kind = match e.kind {
            Kind::NotFound => K::NotFound,
            Kind::RateLimited => K::RateLimited,
            Kind::Unauthorized | Kind::Refused | Kind::Quota | Kind::UploadCap => K::PermissionDenied,
            Kind::Credentials => K::ConfigInvalid,
            Kind::Exists => K::ConditionNotMatch,
            Kind::Transient | Kind::SessionGone => K::Unexpected,
        };
        let error = opendal::Error::new(kind, e.message.clone());
        if e.is_retryable() || e.kind == Kind::SessionGone { error.set_temporary() } else { error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google(status: u16, reason: &str, message: &str) -> DriveError {
        let body = serde_json::json!({"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}});
        DriveError::from_answer(status, body.to_string().as_bytes(), "uploading", "bot@x.iam.gserviceaccount.com", true)
    }

    #[test]
    fn drive_answers_are_classified_by_status_and_reason() {
        assert_eq!(google(429, "rateLimitExceeded", "Too many").kind, Kind::RateLimited);
        assert_eq!(google(403, "userRateLimitExceeded", "User Rate Limit Exceeded").kind, Kind::RateLimited);
        assert_eq!(google(403, "rateLimitExceeded", "Rate Limit Exceeded").kind, Kind::RateLimited);
        assert_eq!(
            google(403, "uploadLimitExceeded", "The user has reached the daily upload limit").kind,
            Kind::UploadCap
        );
        assert_eq!(google(403, "userRateLimitExceeded", "You reached the daily upload limit").kind, Kind::UploadCap);
        assert_eq!(google(503, "backendError", "Backend Error").kind, Kind::Transient);
        assert_eq!(google(404, "notFound", "File not found: x.").kind, Kind::NotFound);
        assert_eq!(google(401, "authError", "Invalid Credentials").kind, Kind::Unauthorized);
        assert_eq!(google(403, "forbidden", "Forbidden").kind, Kind::Refused);
    }

    #[test]
    fn a_service_account_without_quota_is_told_what_to_do() {
        let e = google(403, "storageQuotaExceeded", "Service Accounts do not have storage quota.");
        assert_eq!(e.kind, Kind::Quota);
        assert!(e.message.contains("shared drive") && e.message.contains("GDRIVE_SUBJECT"), "{}", e.message);
        assert!(!e.is_retryable());
    }

    #[test]
    fn only_rate_limits_and_server_failures_are_retried() {
        assert!(google(500, "", "x").is_retryable());
        assert!(google(429, "rateLimitExceeded", "x").is_retryable());
        assert!(!google(403, "uploadLimitExceeded", "x").is_retryable());
        assert!(!google(404, "notFound", "x").is_retryable());
        let e: opendal::Error = google(503, "", "x").into();
        assert!(e.is_temporary());
        let e: opendal::Error = google(403, "storageQuotaExceeded", "x").into();
        assert!(!e.is_temporary());
    }
}
