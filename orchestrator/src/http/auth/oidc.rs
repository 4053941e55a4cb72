//! Sign-in through the organisation's identity provider: OpenID Connect's authorization code flow
//! with PKCE, `state` and `nonce`. The provider is discovered from its issuer; its ID token is
//! verified (signature against its published keys, issuer, audience, nonce, expiry) before any
//! claim is read. What the flow must remember between the two legs travels in a sealed cookie, so
//! any process of a deployment can finish what another began.
//!
//! This module says who the provider vouches for and which role its claim names; it never decides
//! who may sign in (see `crate::http::ui::oidc`) and never keeps tokens.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenFields,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::catalogue::Msg;
use crate::config::web::OidcSettings;
use crate::secrets::SecretBox;
use crate::users::Role;

/// The cookie that carries the flow between its two legs.
pub const FLOW_COOKIE: &str = "oidc_flow";

/// How long a person has at the provider before the flow expires: ten minutes.
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// Every claim besides the standard ones, to find the role claim by its configured name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(flatten)]
    claims: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for Extra {}

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        Extra,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type OidcClient = Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Our own HTTP client, lent to openidconnect. Redirects are not followed: a provider that
/// answers discovery or the token request with a redirect is misconfigured, and following it
/// could carry the client secret elsewhere.
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

/// Why a request to the provider failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The largest answer read from the provider (discovery, keys, tokens, userinfo).
const MAX_ANSWER: usize = 1 << 20;

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let mut answer = self
                .0
                .request(parts.method, &url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(format!("{url}: {e}")))?;
            let status = answer.status();
            let headers = std::mem::take(answer.headers_mut());
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await.map_err(|e| HttpError(format!("{url}: {e}")))? {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(HttpError(format!("{url}: the answer is larger than {MAX_ANSWER} bytes")));
                }
                body.extend_from_slice(&chunk);
            }
            let mut response = HttpResponse::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            Ok(response)
        })
    }
}

/// What the flow remembers between sending the browser to the provider and its return.
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    state: String,
    verifier: String,
    nonce: String,
    next: String,
    /// Milliseconds since the epoch after which the flow is refused.
    until: i64,
}

/// The way to the provider: where to send the browser and the sealed flow cookie's value.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization address, with our parameters.
    pub url: String,
    /// The value of [`FLOW_COOKIE`].
    pub cookie: String,
}

/// Whom the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Their verified e-mail, lowercased.
    pub email: String,
    /// The role their role claim names, when `OIDC_ROLE_CLAIM` is set and names one.
    pub role: Option<Role>,
    /// Where they were going.
    pub next: String,
}

/// The organisation's identity provider.
#[derive(Debug)]
pub struct Provider {
    settings: OidcSettings,
    http: Http,
    /// The provider's discovery document and when it was read.
    discovered: tokio::sync::Mutex<Option<(std::time::Instant, CoreProviderMetadata)>>,
}

/// How long a discovery document (endpoints and signing keys) is used before it is read again.
/// An ID token signed with a key it does not list makes it read again at once: keys rotate.
const DISCOVERY_TTL: Duration = Duration::from_secs(10 * 60);

fn log(what: &str, e: impl std::fmt::Display) {
    tracing::warn!(error = %e, "sign-in through the identity provider: {what}");
}

impl Provider {
    /// A provider client for these settings.
    pub fn new(settings: OidcSettings) -> Result<Provider, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the HTTP client of the identity provider: {e}"))?;
        Ok(Provider { settings, http: Http(http), discovered: tokio::sync::Mutex::new(None) })
    }

    /// Its settings.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider's discovery document: the one read in the last [`DISCOVERY_TTL`] unless
    /// `fresh`, and whether it was read just now.
    async fn metadata(&self, fresh: bool) -> Result<(CoreProviderMetadata, bool), Msg> {
        let mut discovered = self.discovered.lock().await;
        if !fresh && let Some((at, metadata)) = discovered.as_ref().filter(|(at, _)| at.elapsed() < DISCOVERY_TTL) {
            tracing::debug!(
                age_secs = at.elapsed().as_secs(),
                "the identity provider's discovery document, as read before"
            );
            return Ok((metadata.clone(), false));
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| {
            log("issuer", e);
            Msg::new("oidc.unreachable")
        })?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| {
            log("discovery", e);
            Msg::new("oidc.unreachable")
        })?;
        *discovered = Some((std::time::Instant::now(), metadata.clone()));
        Ok((metadata, true))
    }

    /// The client, from the discovery document (read again when `fresh`).
    async fn client(&self, redirect_uri: &str, fresh: bool) -> Result<(OidcClient, bool), Msg> {
        let (metadata, read_now) = self.metadata(fresh).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| {
            log("redirect address (set PUBLIC_URL)", e);
            Msg::new("oidc.unreachable")
        })?;
        let secret = self.settings.client_secret.as_ref().map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        let client =
            OidcClient::from_provider_metadata(metadata, ClientId::new(self.settings.client_id.clone()), secret)
                .set_redirect_uri(redirect);
        Ok((client, read_now))
    }

    /// Where to send the browser, and the flow to keep in its cookie.
    pub async fn start(
        &self,
        secrets: &SecretBox,
        redirect_uri: &str,
        next: String,
        now_ms: i64,
    ) -> Result<Started, Msg> {
        let (client, _) = self.client(redirect_uri, false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let flow = Flow {
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            next,
            until: now_ms + FLOW_TTL.as_millis() as i64,
        };
        let plain = serde_json::to_string(&flow).map_err(|e| {
            log("flow", e);
            Msg::new("oidc.unreachable")
        })?;
        Ok(Started { url: url.to_string(), cookie: secrets.seal(&SecretString::from(plain)) })
    }

    /// Checks the flow and the returned `state`, exchanges the code, verifies the ID token and
    /// reads who it names (from the userinfo endpoint when the token leaves the e-mail out).
    pub async fn finish(
        &self,
        secrets: &SecretBox,
        redirect_uri: &str,
        sealed: Option<&str>,
        code: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<Identity, Msg> {
        let flow: Flow = sealed
            .and_then(|sealed| secrets.open(sealed).ok())
            .and_then(|plain| serde_json::from_str(plain.expose_secret()).ok())
            .ok_or_else(|| Msg::new("oidc.expired"))?;
        if flow.until < now_ms || !crate::http::auth::same(&flow.state, state) {
            return Err(Msg::new("oidc.expired"));
        }
        let (client, read_now) = self.client(redirect_uri, false).await?;
        let refused = |what: &str, e: &dyn std::fmt::Display| {
            log(what, e);
            Msg::new("oidc.refused")
        };
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| refused("the provider has no token endpoint", &e))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| refused("exchanging the code", &e))?;
        let id_token = tokens.extra_fields().id_token().ok_or_else(|| refused("no ID token", &"none"))?;
        let nonce = Nonce::new(flow.nonce);
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // Signed with a key the document read earlier does not list: the keys rotated.
            Err(e) if !read_now => {
                log("verifying the ID token with the keys read earlier; reading them again", &e);
                let (again, _) = self.client(redirect_uri, true).await?;
                id_token
                    .claims(&again.id_token_verifier(), &nonce)
                    .map_err(|e| refused("verifying the ID token", &e))?
                    .clone()
            }
            Err(e) => return Err(refused("verifying the ID token", &e)),
        };
        let mut email = claims.email().map(|e| (e.as_str().to_owned(), claims.email_verified()));
        let claim = self.settings.role_claim.as_deref();
        let mut role = claim.and_then(|c| claims.additional_claims().claims.get(c)).and_then(role_in_claim);
        if email.is_none() || (claim.is_some() && role.is_none()) {
            let info = client
                .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| refused("the provider has no userinfo endpoint", &e))?;
            let info: openidconnect::UserInfoClaims<Extra, CoreGenderClaim> =
                info.request_async(&self.http).await.map_err(|e| refused("asking userinfo", &e))?;
            if email.is_none() {
                email = info.email().map(|e| (e.as_str().to_owned(), info.email_verified()));
            }
            if role.is_none() {
                role = claim.and_then(|c| info.additional_claims().claims.get(c)).and_then(role_in_claim);
            }
        }
        match email {
            None => Err(Msg::new("oidc.no_email")),
            Some((_, Some(false))) => Err(Msg::new("oidc.unverified")),
            Some((email, _)) => Ok(Identity { email: email.trim().to_ascii_lowercase(), role, next: flow.next }),
        }
    }
}

/// The role a role claim names: a role's name, or a list of them (the highest wins). Other
/// values (a provider's own groups) are ignored.
pub fn role_in_claim(value: &serde_json::Value) -> Option<Role> {
    match value {
        serde_json::Value::String(name) => Role::parse(name),
        serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str()).filter_map(Role::parse).max(),
        _ => None,
    }
}

/// What a sign-in through the provider does, given who is already a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Signs in the user of that e-mail, first setting their role when the claim names one.
    SignIn {
        /// Their user's name.
        user: String,
        /// Their new role, when it changes.
        role: Option<Role>,
    },
    /// Adds a user (no password) with this role, then signs them in.
    Create(Role),
    /// Nobody of that e-mail and no role for them: an admin must add them.
    Refuse,
}

/// Decides from the user found by e-mail (name and role), the role claim's role and
/// `OIDC_DEFAULT_ROLE`. The provider's role replaces the one an admin gave, but the first admin
/// stays an admin, and a claim that names no role leaves an existing user's role as it is.
pub fn decide(
    existing: Option<(&str, Role)>,
    claimed: Option<Role>,
    default_role: Option<Role>,
    first_admin: &str,
) -> Decision {
    match existing {
        Some((user, current)) => {
            let role = claimed.filter(|r| *r != current && user != first_admin);
            Decision::SignIn { user: user.to_owned(), role }
        }
        None => match claimed.or(default_role) {
            Some(role) => Decision::Create(role),
            None => Decision::Refuse,
        },
    }
}

/// A user name for someone the provider vouches for: their e-mail, with what names may not hold
/// replaced by `-`.
pub fn name_for(email: &str) -> String {
    email
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') { c } else { '-' })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_role_claim_names_a_role_or_lists_them_and_the_highest_wins() {
        let cases = [
            (json!("restorer"), Some(Role::Restorer)),
            (json!("Admin"), Some(Role::Admin)),
            (json!(["viewer", "operator"]), Some(Role::Operator)),
            (json!(["staff", "restorer", "viewer"]), Some(Role::Restorer)),
            (json!(["staff", "finance"]), None),
            (json!([]), None),
            (json!("owner"), None),
            (json!(3), None),
            (json!({"role": "admin"}), None),
            (json!(null), None),
        ];
        for (value, expected) in cases {
            assert_eq!(role_in_claim(&value), expected, "{value}");
        }
    }

    #[test]
    fn who_signs_in_and_with_which_role() {
        use Decision::*;
        let ana = Some(("ana", Role::Viewer));
        let cases = [
            // A known user: the claim sets their role; no claim keeps it.
            (ana, Some(Role::Restorer), None, SignIn { user: "ana".into(), role: Some(Role::Restorer) }),
            (ana, Some(Role::Viewer), None, SignIn { user: "ana".into(), role: None }),
            (ana, None, Some(Role::Operator), SignIn { user: "ana".into(), role: None }),
            // The first admin is never demoted by the provider.
            (Some(("admin", Role::Admin)), Some(Role::Viewer), None, SignIn { user: "admin".into(), role: None }),
            // Someone new: the claim's role, else the default, else refused.
            (None, Some(Role::Operator), Some(Role::Viewer), Create(Role::Operator)),
            (None, None, Some(Role::Viewer), Create(Role::Viewer)),
            (None, None, None, Refuse),
        ];
        for (existing, claimed, default_role, expected) in cases {
            assert_eq!(decide(existing, claimed, default_role, "admin"), expected, "{existing:?} {claimed:?}");
        }
    }

    #[test]
    fn new_users_are_named_after_their_e_mail() {
        assert_eq!(name_for("ana@example.org"), "ana@example.org");
        assert_eq!(name_for("ana+backups@example.org"), "ana-backups@example.org");
        assert_eq!(name_for(&format!("{}@example.org", "a".repeat(80))).len(), 64);
    }

    #[test]
    fn a_flow_cookie_opens_only_with_its_key_and_its_state() {
        let secrets = SecretBox::new(&SecretString::from("k".repeat(40))).unwrap();
        let flow = Flow { state: "s".into(), verifier: "v".into(), nonce: "n".into(), next: "/".into(), until: 10 };
        let sealed = secrets.seal(&SecretString::from(serde_json::to_string(&flow).unwrap()));
        let provider = Provider::new(OidcSettings {
            issuer: "http://127.0.0.1:9".into(),
            client_id: "c".into(),
            client_secret: None,
            role_claim: None,
            default_role: None,
        })
        .unwrap();
        let run = |sealed: Option<&str>, state: &str, now: i64| {
            let f = provider.finish(&secrets, "http://127.0.0.1/cb", sealed, "code", state, now);
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f).unwrap_err()
        };
        assert_eq!(run(None, "s", 0), Msg::new("oidc.expired"));
        assert_eq!(run(Some(&sealed), "other", 0), Msg::new("oidc.expired"));
        assert_eq!(run(Some(&sealed), "s", 11), Msg::new("oidc.expired"));
        assert_eq!(run(Some("v1.garbage"), "s", 0), Msg::new("oidc.expired"));
        // Past the cookie, the provider is asked (and here it is unreachable).
        assert_eq!(run(Some(&sealed), "s", 0), Msg::new("oidc.unreachable"));
    }
}
