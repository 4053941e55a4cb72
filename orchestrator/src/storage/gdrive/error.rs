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
    /// The shared drive or the folder holds as many items as Drive allows.
    ItemLimit,
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
    /// Drive refused the request itself as malformed (400, 411, 413, ...): a defect of this program,
    /// not of the setup; retrying sends the same request again.
    Rejected,
}

/// Every kind, in declaration order, with its metric label.
const KINDS: [(Kind, &str); 12] = [
    (Kind::Unauthorized, "unauthorized"),
    (Kind::RateLimited, "rate_limited"),
    (Kind::Transient, "transient"),
    (Kind::UploadCap, "upload_cap"),
    (Kind::Quota, "quota"),
    (Kind::ItemLimit, "item_limit"),
    (Kind::NotFound, "not_found"),
    (Kind::SessionGone, "session_gone"),
    (Kind::Refused, "refused"),
    (Kind::Credentials, "credentials"),
    (Kind::Exists, "exists"),
    (Kind::Rejected, "rejected"),
];

/// Drive errors met by this process, by kind (for `/metrics`).
static ERRORS: [std::sync::atomic::AtomicU64; KINDS.len()] =
    [const { std::sync::atomic::AtomicU64::new(0) }; KINDS.len()];

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
            // Google's front end answers some refusals (411) with an HTML page, not the API's JSON.
            Err(_) if body.trim_ascii_start().starts_with(b"<") => (String::new(), String::new()),
            Err(_) => (String::new(), String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned()),
        };
        let said = if message.is_empty() {
            let name = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
            format!("HTTP {status} {}", name.unwrap_or_default()).trim_end().to_owned()
        } else {
            format!("{status} {reason}: {message}")
        };
        let lower = message.to_ascii_lowercase();
        // The 750 GB daily upload cap has no reason of its own: Google sends the per-minute limit's
        // reason with this exact short message (the per-minute limit's message is much longer).
        let daily_cap = reason == "userRateLimitExceeded" && message.trim() == "User rate limit exceeded.";
        let (kind, advice) = match (status, reason.as_str()) {
            (401, _) => (Kind::Unauthorized, "the access token was refused".to_owned()),
            (403, "uploadLimitExceeded" | "dailyLimitExceeded") => (Kind::UploadCap, upload_cap_advice()),
            (403, _) if daily_cap || lower.contains("upload limit") => (Kind::UploadCap, upload_cap_advice()),
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
            (403, "teamDriveFileLimitExceeded") => (
                Kind::ItemLimit,
                "the shared drive holds as many files and folders as Drive allows (400,000, trashed ones included): empty its trash, move old backups out, or use another shared drive".to_owned(),
            ),
            (403, "numChildrenInNonRootLimitExceeded") => (
                Kind::ItemLimit,
                "the folder holds as many files and folders as Drive allows (500,000): remove old files from it or use another folder".to_owned(),
            ),
            (404, _) => (Kind::NotFound, format!("not found, or not shared with {principal}")),
            (403, _) => (
                Kind::Refused,
                format!(
                    "{principal} may not do this: share the folder with {principal} as an Editor (Content manager in a shared drive)"
                ),
            ),
            (500.., _) => (Kind::Transient, "Drive failed on its side".to_owned()),
            _ => (
                Kind::Rejected,
                "Drive rejected the request as malformed: this is a defect of the orchestrator, not of the Drive setup; please report it".to_owned(),
            ),
        };
        DriveError::new(kind, format!("{what}: {advice} (Drive said {said})"))
    }
}

fn upload_cap_advice() -> String {
    "the account reached Google's daily upload limit (750 GB per user per day, across My Drive and shared drives); retrying now cannot help: uploads resume once the limit resets (within 24 hours), or use another account".to_owned()
}

impl std::fmt::Display for DriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<DriveError> for opendal::Error {
    fn from(e: DriveError) -> Self {
        use opendal::ErrorKind as K;
        // PermissionDenied only for what sharing or an account's rights decide; a malformed request
        // is our defect and says so.
        let kind = match e.kind {
            Kind::NotFound => K::NotFound,
            Kind::RateLimited | Kind::UploadCap => K::RateLimited,
            Kind::Unauthorized | Kind::Refused | Kind::Quota | Kind::ItemLimit => K::PermissionDenied,
            Kind::Credentials => K::ConfigInvalid,
            Kind::Exists => K::ConditionNotMatch,
            Kind::Transient | Kind::SessionGone | Kind::Rejected => K::Unexpected,
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
        assert_eq!(google(403, "teamDriveFileLimitExceeded", "x").kind, Kind::ItemLimit);
        assert_eq!(google(403, "numChildrenInNonRootLimitExceeded", "x").kind, Kind::ItemLimit);
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

    #[test]
    fn the_daily_cap_is_told_apart_from_the_per_minute_limit_by_its_exact_message() {
        let cap = google(403, "userRateLimitExceeded", "User rate limit exceeded.");
        assert_eq!(cap.kind, Kind::UploadCap);
        assert!(!cap.is_retryable());
        assert!(cap.message.contains("750 GB") && cap.message.contains("resets"), "{}", cap.message);
        let minute = google(
            403,
            "userRateLimitExceeded",
            "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.",
        );
        assert_eq!(minute.kind, Kind::RateLimited);
        assert!(minute.is_retryable());
        // The run tells them apart through opendal: the cap defers it, the per-minute limit is retried.
        assert!(crate::storage::gdrive::is_upload_cap(&cap.into()));
        assert!(!crate::storage::gdrive::is_upload_cap(&minute.into()));
        assert!(!crate::storage::gdrive::is_upload_cap(&google(403, "storageQuotaExceeded", "x").into()));
    }

    #[test]
    fn quota_and_item_limits_are_never_retried_and_say_what_to_do() {
        for (reason, advice) in [
            ("storageQuotaExceeded", "shared drive"),
            ("teamDriveFileLimitExceeded", "400,000"),
            ("numChildrenInNonRootLimitExceeded", "500,000"),
        ] {
            let e = google(403, reason, "x");
            assert!(!e.is_retryable(), "{reason}");
            assert!(e.message.contains(advice), "{reason}: {}", e.message);
            assert!(!opendal::Error::from(e).is_temporary());
        }
    }

    #[test]
    fn an_unexpected_refusal_such_as_411_is_reported_as_what_it_is() {
        let page = b"<!DOCTYPE html>\n<html lang=en>\n  <title>Error 411 (Length Required)!!1</title>\n  <p>POST requests require a <code>Content-length</code> header.";
        let e = DriveError::from_answer(411, page, "uploading x", "bot@x.iam.gserviceaccount.com", true);
        assert_eq!(e.kind, Kind::Rejected);
        assert!(!e.is_retryable());
        assert!(e.message.contains("HTTP 411 Length Required"), "{}", e.message);
        assert!(e.message.contains("defect of the orchestrator"), "{}", e.message);
        assert!(!e.message.contains("share the folder") && !e.message.contains("<"), "{}", e.message);
        let e = opendal::Error::from(e);
        assert_eq!(e.kind(), opendal::ErrorKind::Unexpected, "not a sharing problem");
        assert!(!e.is_temporary());
        assert_eq!(google(400, "badRequest", "Invalid Value").kind, Kind::Rejected);
        assert_eq!(opendal::Error::from(google(403, "forbidden", "x")).kind(), opendal::ErrorKind::PermissionDenied);
    }
}
