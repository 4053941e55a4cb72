//! **Connect Google Drive**: the OAuth 2.0 web-server flow for people without a service account
//! (a `@gmail.com` account, a small Workspace), and the account it connects.
//!
//! The operator presses Connect: we keep a one-time `state` and a PKCE verifier, and send the
//! browser to Google's consent page (`access_type=offline`, scope `drive.file` unless the
//! operator needs folders made by someone else). Google sends the browser back to
//! `/oauth/google/callback` with a code; we check the state, trade the code for a refresh token,
//! ask Drive whose account it is, and keep the refresh token sealed like app tokens. With
//! `STORAGE=gdrive` and no `GDRIVE_CREDENTIALS`, that account is what every Drive call uses.
//!
//! When Google refuses the refresh token (revoked, or expired after 7 days while the OAuth client
//! is in "Testing"), the account is marked as needing a reconnect: runs wait instead of each
//! failing, and the channels hear it once.
//!
//! Everything lives in the `settings` table, so every replica sees the same account.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::catalogue::Msg;
use crate::config::storage::DriveOAuthSettings;
use crate::db::entities::setting;
use crate::db::now_ms;
use crate::secrets::SecretBox;
use crate::storage::destination::Destination;
use crate::storage::gdrive::{ConnectedUser, GdriveHandle};

/// Only files this app creates (or is given): Google's recommended scope, and the default.
pub const SCOPE_FILE: &str = "https://www.googleapis.com/auth/drive.file";
/// Every file of the account: needed to write into a folder someone else made.
pub const SCOPE_FULL: &str = "https://www.googleapis.com/auth/drive";

const ACCOUNT_KEY: &str = "gdrive.account";
const PENDING_KEY: &str = "gdrive.pending";
const CLIENT_KEY: &str = "gdrive.oauth_client";
/// How long a Connect may take between our redirect and Google's callback.
const PENDING_FOR_MS: i64 = 10 * 60 * 1000;

/// Why connecting failed, for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The operator's side: nothing to connect with, a stale or forged callback, a refusal.
    #[error("{0}")]
    Refused(String),
    /// Google or the database failed.
    #[error("{0}")]
    Failed(String),
}

impl From<sea_orm::DbErr> for ConnectError {
    fn from(e: sea_orm::DbErr) -> Self {
        ConnectError::Failed(format!("database error: {e}"))
    }
}

/// The OAuth client the flow runs with.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// Client id.
    pub client_id: String,
    client_secret: SecretString,
    /// Where the browser is sent for consent.
    pub auth_uri: String,
    /// Where codes and refresh tokens are traded.
    pub token_uri: String,
    /// `settings` (environment) or `uploaded` (a client JSON uploaded on the page).
    pub source: &'static str,
}

/// The connected account, as shown (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The account's email.
    pub email: String,
    /// The scope granted.
    pub scope: String,
    /// The OAuth client it was authorized for.
    pub client_id: String,
    /// When it was connected (ms).
    pub connected_at: i64,
    /// Why it must be reconnected, when Google refused it.
    pub problem: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    email: String,
    scope: String,
    client_id: String,
    refresh_token: String,
    connected_at: i64,
    #[serde(default)]
    problem: Option<String>,
}

impl StoredAccount {
    fn shown(&self) -> Account {
        Account {
            email: self.email.clone(),
            scope: self.scope.clone(),
            client_id: self.client_id.clone(),
            connected_at: self.connected_at,
            problem: self.problem.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Pending {
    state_hash: String,
    verifier: String,
    scope: String,
    redirect_uri: String,
    at: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredClient {
    client_id: String,
    client_secret: String,
    auth_uri: Option<String>,
    token_uri: Option<String>,
}

#[derive(Deserialize)]
struct ClientFile {
    web: Option<ClientSection>,
    installed: Option<ClientSection>,
}

#[derive(Deserialize)]
struct ClientSection {
    client_id: String,
    client_secret: String,
    auth_uri: Option<String>,
    token_uri: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    refresh_token: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

async fn read(db: &DatabaseConnection, key: &str) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(setting::Entity::find_by_id(key.to_owned()).one(db).await?.map(|r| r.value))
}

async fn write(db: &DatabaseConnection, key: &str, value: String) -> Result<(), sea_orm::DbErr> {
    setting::Entity::insert(setting::ActiveModel { key: Set(key.to_owned()), value: Set(value) })
        .on_conflict(OnConflict::column(setting::Column::Key).update_column(setting::Column::Value).to_owned())
        .exec(db)
        .await
        .map(|_| ())
}

async fn remove(db: &DatabaseConnection, key: &str) -> Result<(), sea_orm::DbErr> {
    setting::Entity::delete_by_id(key.to_owned()).exec(db).await.map(|_| ())
}

fn hash(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// PKCE's S256 challenge of a verifier (RFC 7636, section 4.2).
fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The connection between the Destination page, the runs and the Drive service.
#[derive(Debug, Clone)]
pub struct GoogleAccount {
    db: DatabaseConnection,
    secrets: Arc<SecretBox>,
    settings: DriveOAuthSettings,
    drive: GdriveHandle,
    http: reqwest::Client,
    /// `connected_at` of the account the Drive service uses now (0: none), to notice another
    /// replica's connect.
    applied: Arc<AtomicI64>,
}

impl GoogleAccount {
    /// For a Drive destination started without credentials; `None` otherwise.
    pub fn new(
        db: DatabaseConnection,
        secrets: Arc<SecretBox>,
        settings: DriveOAuthSettings,
        destination: &Destination,
    ) -> Option<Self> {
        let drive = destination.drive().filter(|d| d.connectable())?.clone();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .timeout(std::time::Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS builds");
        Some(GoogleAccount { db, secrets, settings, drive, http, applied: Arc::new(AtomicI64::new(0)) })
    }

    /// The OAuth client: from the settings, else the uploaded client JSON.
    pub async fn client(&self) -> Result<Option<OAuthClient>, ConnectError> {
        if let (Some(id), Some(secret)) = (&self.settings.client_id, &self.settings.client_secret) {
            return Ok(Some(OAuthClient {
                client_id: id.clone(),
                client_secret: secret.clone(),
                auth_uri: self.settings.auth_uri.clone(),
                token_uri: self.settings.token_uri.clone(),
                source: "settings",
            }));
        }
        let Some(text) = read(&self.db, CLIENT_KEY).await? else { return Ok(None) };
        let stored: StoredClient =
            serde_json::from_str(&text).map_err(|e| ConnectError::Failed(format!("the stored OAuth client: {e}")))?;
        let secret = self.secrets.open(&stored.client_secret).map_err(|e| ConnectError::Failed(e.to_string()))?;
        Ok(Some(OAuthClient {
            client_id: stored.client_id,
            client_secret: secret,
            // The settings name the endpoints when set (tests, proxies); else the file's.
            auth_uri: stored
                .auth_uri
                .filter(|_| self.settings.auth_uri == crate::config::storage::GOOGLE_AUTH_URI)
                .unwrap_or_else(|| self.settings.auth_uri.clone()),
            token_uri: stored
                .token_uri
                .filter(|_| self.settings.token_uri == crate::storage::gdrive::GOOGLE_TOKEN_URI)
                .unwrap_or_else(|| self.settings.token_uri.clone()),
            source: "uploaded",
        }))
    }

    /// Keeps an OAuth client JSON as the Google Cloud console downloads it (type "Web
    /// application"), its secret sealed.
    pub async fn upload_client(&self, json: &str) -> Result<String, ConnectError> {
        let file: ClientFile = serde_json::from_str(json.trim()).map_err(|e| {
            ConnectError::Refused(format!(
                "that is not an OAuth client JSON file ({e}): in the Google Cloud console, open APIs & Services, Credentials, your OAuth client of type Web application, and download its JSON"
            ))
        })?;
        let section = match (file.web, file.installed) {
            (Some(web), _) => web,
            (None, Some(_)) => {
                return Err(ConnectError::Refused(
                    "this OAuth client is of type Desktop app: create one of type Web application, with the callback URL shown on this page as an authorized redirect URI".into(),
                ));
            }
            (None, None) => {
                return Err(ConnectError::Refused(
                    "the file has no \"web\" section: download the JSON of an OAuth client of type Web application"
                        .into(),
                ));
            }
        };
        if section.client_id.trim().is_empty() || section.client_secret.trim().is_empty() {
            return Err(ConnectError::Refused("the file has an empty client_id or client_secret".into()));
        }
        let stored = StoredClient {
            client_id: section.client_id.trim().to_owned(),
            client_secret: self.secrets.seal(&SecretString::from(section.client_secret.trim().to_owned())),
            auth_uri: section.auth_uri,
            token_uri: section.token_uri,
        };
        write(&self.db, CLIENT_KEY, serde_json::to_string(&stored).expect("serializes")).await?;
        Ok(stored.client_id)
    }

    /// The connected account, if any.
    pub async fn account(&self) -> Result<Option<Account>, sea_orm::DbErr> {
        Ok(self.stored().await?.map(|s| s.shown()))
    }

    async fn stored(&self) -> Result<Option<StoredAccount>, sea_orm::DbErr> {
        let Some(text) = read(&self.db, ACCOUNT_KEY).await? else { return Ok(None) };
        Ok(serde_json::from_str(&text).ok())
    }

    /// Starts a connect: remembers a fresh state and PKCE verifier, and returns the consent
    /// page's URL to send the browser to.
    pub async fn begin(&self, redirect_uri: &str, full_scope: bool) -> Result<String, ConnectError> {
        let client = self.client().await?.ok_or_else(|| {
            ConnectError::Refused(
                "no OAuth client is configured: set GDRIVE_OAUTH_CLIENT_ID and GDRIVE_OAUTH_CLIENT_SECRET, or upload the client JSON on this page".into(),
            )
        })?;
        let state = random(32);
        let verifier = random(48);
        let challenge = pkce_challenge(&verifier);
        let scope = if full_scope { SCOPE_FULL } else { SCOPE_FILE };
        let pending = Pending {
            state_hash: hash(&state),
            verifier: self.secrets.seal(&SecretString::from(verifier)),
            scope: scope.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            at: now_ms(),
        };
        write(&self.db, PENDING_KEY, serde_json::to_string(&pending).expect("serializes")).await?;
        let mut url = reqwest::Url::parse(&client.auth_uri)
            .map_err(|e| ConnectError::Failed(format!("GDRIVE_AUTH_URI is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("access_type", "offline")
            // Asks again even when granted before, so Google sends a new refresh token.
            .append_pair("prompt", "consent")
            .append_pair("include_granted_scopes", "true")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Ends a connect from Google's callback: checks the state, trades the code for a refresh
    /// token, learns the account's email, keeps it sealed and uses it from now on.
    pub async fn finish(
        &self,
        code: Option<&str>,
        state: Option<&str>,
        error: Option<&str>,
    ) -> Result<Account, ConnectError> {
        let pending: Option<Pending> = read(&self.db, PENDING_KEY).await?.and_then(|t| serde_json::from_str(&t).ok());
        let stale = || {
            ConnectError::Refused("this answer from Google does not match a Connect started here, or it came too late (10 minutes): press Connect Google Drive again".into())
        };
        let (Some(pending), Some(state)) = (pending, state) else { return Err(stale()) };
        if !crate::http::auth::same(&pending.state_hash, &hash(state)) || now_ms() - pending.at > PENDING_FOR_MS {
            return Err(stale());
        }
        // One answer per Connect, whatever it says.
        remove(&self.db, PENDING_KEY).await?;
        if let Some(error) = error {
            let what = match error {
                "access_denied" => "access was not granted on Google's consent page".to_owned(),
                other => format!("Google answered {other}"),
            };
            return Err(ConnectError::Refused(format!("Google Drive was not connected: {what}")));
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ConnectError::Refused("Google sent no code: press Connect Google Drive again".into()))?;
        let client = self
            .client()
            .await?
            .ok_or_else(|| ConnectError::Refused("the OAuth client is no longer configured".into()))?;
        let verifier = self.secrets.open(&pending.verifier).map_err(|e| ConnectError::Failed(e.to_string()))?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose_secret()),
            ("redirect_uri", pending.redirect_uri.as_str()),
            ("code_verifier", verifier.expose_secret()),
        ];
        let resp = self.http.post(&client.token_uri).form(&form).send().await.map_err(|e| {
            ConnectError::Failed(format!("could not reach Google's token endpoint {}: {e}", client.token_uri))
        })?;
        let status = resp.status();
        let body =
            resp.bytes().await.map_err(|e| ConnectError::Failed(format!("the token endpoint cut its answer: {e}")))?;
        if !status.is_success() {
            let (error, description) = match serde_json::from_slice::<TokenError>(&body) {
                Ok(e) => (e.error, e.error_description.unwrap_or_default()),
                Err(_) => (format!("HTTP {status}"), String::new()),
            };
            let advice = match error.as_str() {
                "invalid_client" => "the OAuth client ID or secret was refused: check them",
                "redirect_uri_mismatch" => {
                    "add the callback URL shown on this page to the OAuth client's authorized redirect URIs"
                }
                _ => "press Connect Google Drive again",
            };
            return Err(ConnectError::Refused(format!("Google refused the code ({error}: {description}): {advice}")));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| ConnectError::Failed(format!("the token endpoint answered something unexpected: {e}")))?;
        let refresh_token = answer.refresh_token.ok_or_else(|| {
            ConnectError::Refused("Google sent no refresh token: remove this app's access at https://myaccount.google.com/permissions and connect again".into())
        })?;
        let scope = answer.scope.unwrap_or(pending.scope);
        if !scope.split_whitespace().any(|s| s == SCOPE_FILE || s == SCOPE_FULL) {
            return Err(ConnectError::Refused(format!(
                "Google Drive access was not granted (granted: {scope}): tick the Google Drive box on the consent page"
            )));
        }
        let files_only = !scope.split_whitespace().any(|s| s == SCOPE_FULL);
        let user = |email: Option<String>| ConnectedUser {
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
            refresh_token: SecretString::from(refresh_token.clone()),
            email,
            files_only,
        };
        // Ask Drive whose account it is, with the new credentials; on failure, back to before.
        self.drive.connect(Some(user(None))).await;
        let about = match self.drive.about().await {
            Ok(about) => about,
            Err(e) => {
                self.applied.store(-1, Ordering::SeqCst);
                let _ = self.sync().await;
                return Err(ConnectError::Failed(format!("Drive refused the new account: {}", e.message())));
            }
        };
        let stored = StoredAccount {
            email: about.email.clone(),
            scope,
            client_id: client.client_id.clone(),
            refresh_token: self.secrets.seal(&SecretString::from(refresh_token.clone())),
            connected_at: now_ms(),
            problem: None,
        };
        write(&self.db, ACCOUNT_KEY, serde_json::to_string(&stored).expect("serializes")).await?;
        self.drive.connect(Some(user(Some(about.email)))).await;
        self.applied.store(stored.connected_at, Ordering::SeqCst);
        Ok(stored.shown())
    }

    /// Revokes the refresh token at Google and forgets the account (Drive calls then say Drive
    /// is not connected). The account is forgotten even when Google cannot be reached; the
    /// answer then says so, for the operator to remove the access by hand.
    pub async fn disconnect(&self) -> Result<Option<String>, sea_orm::DbErr> {
        let warning = match self.stored().await? {
            Some(stored) => self.revoke(&stored).await.err(),
            None => None,
        };
        remove(&self.db, ACCOUNT_KEY).await?;
        self.drive.connect(None).await;
        self.applied.store(0, Ordering::SeqCst);
        Ok(warning)
    }

    /// Google's revocation endpoint ("Revoking a token": `POST https://oauth2.googleapis.com/revoke`
    /// with the token in a form body), beside the token endpoint.
    async fn revoke(&self, stored: &StoredAccount) -> Result<(), String> {
        let manual = "remove this app's access at https://myaccount.google.com/permissions";
        let token = self.secrets.open(&stored.refresh_token).map_err(|e| format!("{e}: {manual}"))?;
        let token_uri = match self.client().await {
            Ok(Some(client)) => client.token_uri,
            _ => self.settings.token_uri.clone(),
        };
        let revoke_uri = match token_uri.strip_suffix("/token") {
            Some(base) => format!("{base}/revoke"),
            None => "https://oauth2.googleapis.com/revoke".to_owned(),
        };
        let resp = self
            .http
            .post(&revoke_uri)
            .form(&[("token", token.expose_secret())])
            .send()
            .await
            .map_err(|e| format!("could not reach Google to revoke the access ({e}): {manual}"))?;
        let status = resp.status();
        // 400 invalid_token: already revoked or expired, which is what we wanted.
        if status.is_success() || status == reqwest::StatusCode::BAD_REQUEST {
            return Ok(());
        }
        Err(format!("Google answered HTTP {status} to the revocation: {manual}"))
    }

    /// Makes the Drive service use the stored account (another replica may have connected
    /// one), and says whether runs may upload: `Err` with the reason they must wait.
    pub async fn sync(&self) -> Result<(), Msg> {
        let stored = self.stored().await.map_err(|e| crate::backup::reason::database(&e))?;
        let version = stored.as_ref().map_or(0, |s| s.connected_at);
        if self.applied.swap(version, Ordering::SeqCst) != version {
            let user = match &stored {
                None => None,
                Some(s) => {
                    let client =
                        self.client().await.map_err(|e| Msg::new("reason.google.unusable").quoting("detail", e))?;
                    let token = self
                        .secrets
                        .open(&s.refresh_token)
                        .map_err(|e| Msg::new("reason.google.unusable").quoting("detail", e))?;
                    client.filter(|c| c.client_id == s.client_id).map(|c| ConnectedUser {
                        client_id: c.client_id,
                        client_secret: c.client_secret,
                        refresh_token: token,
                        email: Some(s.email.clone()),
                        files_only: !s.scope.split_whitespace().any(|s| s == SCOPE_FULL),
                    })
                }
            };
            self.drive.connect(user).await;
        }
        match stored {
            None => Err(Msg::new("reason.google.connect")),
            Some(s) => match s.problem {
                Some(problem) => Err(Msg::new("reason.google.reconnect").quoting("detail", problem)),
                None => Ok(()),
            },
        }
    }

    /// Why Google last refused the connected account's refresh token, if it did since it was
    /// connected.
    pub fn refused(&self) -> Option<String> {
        self.drive.refused()
    }

    /// Google refused the account's refresh token: runs wait until it is reconnected. True the
    /// first time (the caller alerts once).
    pub async fn mark_broken(&self, reason: &str) -> Result<bool, sea_orm::DbErr> {
        let Some(mut stored) = self.stored().await? else { return Ok(false) };
        if stored.problem.is_some() {
            return Ok(false);
        }
        stored.problem = Some(reason.to_owned());
        write(&self.db, ACCOUNT_KEY, serde_json::to_string(&stored).expect("serializes")).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
