//! Access tokens for the Drive API: from a service-account key (JWT bearer grant, optionally
//! impersonating a user through domain-wide delegation) or an OAuth authorized-user file
//! (refresh-token grant). Tokens are cached until shortly before they expire.
//!
//! Never logs a token, a private key or a refresh token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::DriveError;

/// The scope the orchestrator asks for: full Drive access, needed to write into folders that the
/// operator (not this app) created.
pub(crate) const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";
/// Google's token endpoint, used unless the credentials or GDRIVE_TOKEN_URI say otherwise.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// What every Drive call says while no account is connected and no credentials are set.
pub(crate) const NOT_CONNECTED: &str = "Google Drive is not connected: connect an account on the Destination page (Connect Google Drive), or set GDRIVE_CREDENTIALS";
/// A token is renewed this long before Google says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// Parsed credentials.
pub(crate) enum Credentials {
    ServiceAccount {
        client_email: String,
        private_key: SecretString,
        private_key_id: Option<String>,
        token_uri: String,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
        token_uri: String,
        /// The account's email, when known (a connected account).
        email: Option<String>,
        /// Granted only `drive.file`: Drive shows it the files and folders this app made, and no others.
        files_only: bool,
    },
}

/// Why the Google credentials cannot be used, and what to give instead.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CredentialsError(String);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ServiceAccount { client_email, .. } => write!(f, "ServiceAccount({client_email})"),
            Credentials::AuthorizedUser { client_id, .. } => write!(f, "AuthorizedUser(client {client_id})"),
        }
    }
}

#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
    token_uri: Option<String>,
}

impl Credentials {
    /// Parses a Google credentials JSON document (service account key or authorized user).
    /// `token_uri` overrides the one in the file.
    pub(crate) fn parse(json: &str, token_uri: Option<&str>) -> Result<Self, CredentialsError> {
        let file: CredentialsFile = serde_json::from_str(json)
            .map_err(|e| CredentialsError(format!("GDRIVE_CREDENTIALS is not a Google credentials JSON file: {e}")))?;
        let missing = |field: &str, kind: &str| {
            CredentialsError(format!("GDRIVE_CREDENTIALS: the {kind} file has no \"{field}\""))
        };
        match file.kind.as_deref() {
            Some("service_account") => {
                let kind = "service account";
                Ok(Credentials::ServiceAccount {
                    client_email: file.client_email.ok_or_else(|| missing("client_email", kind))?,
                    private_key: file.private_key.ok_or_else(|| missing("private_key", kind))?.into(),
                    private_key_id: file.private_key_id,
                    token_uri: token_uri
                        .map(str::to_owned)
                        .or(file.token_uri)
                        .unwrap_or_else(|| GOOGLE_TOKEN_URI.into()),
                })
            }
            Some("authorized_user") => {
                let kind = "authorized user";
                Ok(Credentials::AuthorizedUser {
                    client_id: file.client_id.ok_or_else(|| missing("client_id", kind))?,
                    client_secret: file.client_secret.ok_or_else(|| missing("client_secret", kind))?.into(),
                    refresh_token: file.refresh_token.ok_or_else(|| missing("refresh_token", kind))?.into(),
                    token_uri: token_uri
                        .map(str::to_owned)
                        .or(file.token_uri)
                        .unwrap_or_else(|| GOOGLE_TOKEN_URI.into()),
                    email: None,
                    files_only: false,
                })
            }
            other => Err(CredentialsError(format!(
                "GDRIVE_CREDENTIALS has type {other:?}: use a service account key (\"service_account\") or an OAuth authorized user file (\"authorized_user\")"
            ))),
        }
    }

    /// Who the credentials act as, for messages ("share the folder with ...").
    pub(crate) fn principal(&self, subject: Option<&str>) -> String {
        match (self, subject) {
            (_, Some(subject)) => subject.to_owned(),
            (Credentials::ServiceAccount { client_email, .. }, None) => client_email.clone(),
            (Credentials::AuthorizedUser { email: Some(email), .. }, None) => email.clone(),
            (Credentials::AuthorizedUser { email: None, .. }, None) => "the OAuth user".to_owned(),
        }
    }

    /// Limited to `drive.file`: a folder made by hand in Drive is invisible to it.
    pub(crate) fn files_only(&self) -> bool {
        matches!(self, Credentials::AuthorizedUser { files_only: true, .. })
    }

    pub(crate) fn is_service_account(&self) -> bool {
        matches!(self, Credentials::ServiceAccount { .. })
    }
}

#[derive(Debug, Clone)]
struct Cached {
    token: SecretString,
    renew_at: Instant,
}

/// Hands out access tokens, fetching a new one when the cached one is near its end. Without
/// credentials (Drive not connected yet), every call fails saying how to connect it; a connected
/// account replaces the credentials while the service runs.
#[derive(Debug)]
pub(crate) struct TokenSource {
    credentials: std::sync::RwLock<Option<Arc<Credentials>>>,
    subject: Option<String>,
    http: reqwest::Client,
    cached: tokio::sync::Mutex<Option<Cached>>,
    /// Why Google refused a connected account's refresh token, since it was connected.
    refused: std::sync::Mutex<Option<String>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

impl TokenSource {
    pub(crate) fn new(credentials: Option<Credentials>, subject: Option<String>, http: reqwest::Client) -> Self {
        TokenSource {
            credentials: std::sync::RwLock::new(credentials.map(Arc::new)),
            subject,
            http,
            cached: tokio::sync::Mutex::new(None),
            refused: std::sync::Mutex::new(None),
        }
    }

    /// The credentials in use; `None` while Drive is not connected.
    pub(crate) fn credentials(&self) -> Option<Arc<Credentials>> {
        self.credentials.read().expect("credentials lock").clone()
    }

    /// Uses other credentials from now on (a connected account, or none); the cached token goes.
    pub(crate) async fn replace(&self, credentials: Option<Credentials>) {
        let mut cached = self.cached.lock().await;
        *self.credentials.write().expect("credentials lock") = credentials.map(Arc::new);
        *cached = None;
        *self.refused.lock().expect("refusal lock") = None;
    }

    /// Why Google refused the connected account's refresh token, if it did.
    pub(crate) fn refused(&self) -> Option<String> {
        self.refused.lock().expect("refusal lock").clone()
    }

    pub(crate) fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// A valid access token, from the cache when it has more than a few minutes left.
    pub(crate) async fn token(&self) -> Result<SecretString, DriveError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token, after Drive refused it (revoked, or expired early).
    pub(crate) async fn invalidate(&self, refused: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.expose_secret() == refused.expose_secret()) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, DriveError> {
        let credentials = self.credentials().ok_or_else(|| DriveError::credentials(NOT_CONNECTED))?;
        let (token_uri, form): (&str, Vec<(&str, String)>) = match credentials.as_ref() {
            Credentials::ServiceAccount { client_email, private_key, private_key_id, token_uri } => {
                let now = jiff::Timestamp::now().as_second().max(0) as u64;
                let claims = Claims {
                    iss: client_email,
                    scope: DRIVE_SCOPE,
                    aud: token_uri,
                    iat: now,
                    exp: now + 3600,
                    sub: self.subject.as_deref(),
                };
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                header.kid = private_key_id.clone();
                let key =
                    jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|e| {
                        DriveError::credentials(format!(
                            "the service account's private_key is not a valid RSA key: {e}"
                        ))
                    })?;
                let assertion = jsonwebtoken::encode(&header, &claims, &key).map_err(|e| {
                    DriveError::credentials(format!("could not sign the service account token request: {e}"))
                })?;
                (
                    token_uri,
                    vec![
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".into()),
                        ("assertion", assertion),
                    ],
                )
            }
            Credentials::AuthorizedUser { client_id, client_secret, refresh_token, token_uri, .. } => (
                token_uri,
                vec![
                    ("grant_type", "refresh_token".into()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.expose_secret().to_owned()),
                    ("refresh_token", refresh_token.expose_secret().to_owned()),
                ],
            ),
        };
        let started = Instant::now();
        let resp =
            self.http.post(token_uri).form(&form).send().await.map_err(|e| {
                DriveError::transport(format!("could not reach Google's token endpoint {token_uri}"), &e)
            })?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| DriveError::transport(format!("the token endpoint {token_uri} cut its answer"), &e))?;
        if !status.is_success() {
            let error = self.refusal(&credentials, status.as_u16(), &body);
            if status.is_client_error()
                && matches!(credentials.as_ref(), Credentials::AuthorizedUser { email: Some(_), .. })
            {
                *self.refused.lock().expect("refusal lock") = Some(error.message.clone());
            }
            return Err(error);
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| DriveError::credentials(format!("the token endpoint answered something unexpected: {e}")))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        // Renew well before the end, but never sooner than half the lifetime (short test tokens).
        let margin = EXPIRY_MARGIN.min(lifetime / 2);
        Ok(Cached { token: answer.access_token.into(), renew_at: started + lifetime - margin })
    }

    fn refusal(&self, credentials: &Credentials, status: u16, body: &[u8]) -> DriveError {
        let (code, description) = match serde_json::from_slice::<TokenError>(body) {
            Ok(e) => (e.error, e.error_description.unwrap_or_default()),
            Err(_) => (format!("HTTP {status}"), String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()),
        };
        if status >= 500 {
            return DriveError::temporary(format!("Google's token endpoint failed ({code}): {description}"));
        }
        let advice = match (credentials, code.as_str(), &self.subject) {
            (Credentials::ServiceAccount { .. }, "unauthorized_client", Some(subject)) => format!(
                "domain-wide delegation is not allowed for this service account to act as {subject}: authorize its client ID for the Drive scope in the Google Workspace admin console, or unset GDRIVE_SUBJECT"
            ),
            (Credentials::ServiceAccount { .. }, _, _) => {
                "the service account key was refused: it may have been deleted or disabled; create a new key and update GDRIVE_CREDENTIALS".to_owned()
            }
            (Credentials::AuthorizedUser { .. }, "invalid_client", _) => {
                "the OAuth client ID or secret was refused: check GDRIVE_CREDENTIALS".to_owned()
            }
            (Credentials::AuthorizedUser { email: Some(_), .. }, _, _) => {
                "the connected account's authorization was revoked or expired (an OAuth client in \"Testing\" loses it after 7 days): reconnect Google Drive on the Destination page".to_owned()
            }
            (Credentials::AuthorizedUser { .. }, _, _) => {
                "the refresh token was refused: it was revoked or expired; authorize again and update GDRIVE_CREDENTIALS".to_owned()
            }
        };
        DriveError::credentials(format!("Google refused the credentials ({code}: {description}): {advice}"))
    }
}
