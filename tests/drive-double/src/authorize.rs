//! Google's authorization endpoint for the web-server flow (`GET /o/oauth2/v2/auth`) and the consent form it
//! shows (`POST /o/oauth2/v2/consent`): checks the request as Google does, then answers the consent page, or
//! (after `auto_consent`) the redirect the user's choice would give. Errors in the request itself are shown as
//! Google's error page and never redirected; only the user's answer goes back to the redirect URI (README.md,
//! rules "authorize-*").

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Consent;
use crate::consent_page;
use crate::grants::{AuthCode, CODE_TTL, Challenge, ChallengeMethod};
use crate::params::percent_encode;
use crate::state::{DRIVE_FILE_SCOPE, DRIVE_SCOPE, Inner, OAUTH_CLIENT_ID, Shared, random_id};

pub(crate) const AUTH_PATH: &str = "/o/oauth2/v2/auth";
pub(crate) const CONSENT_PATH: &str = "/o/oauth2/v2/consent";

const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const USERINFO_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// Scopes the double knows, and the name Google grants them under (`email` is granted as `userinfo.email`).
const SCOPES: &[(&str, &str)] = &[
    (DRIVE_SCOPE, DRIVE_SCOPE),
    (DRIVE_FILE_SCOPE, DRIVE_FILE_SCOPE),
    ("openid", "openid"),
    ("email", USERINFO_EMAIL),
    ("profile", USERINFO_PROFILE),
    (USERINFO_EMAIL, USERINFO_EMAIL),
    (USERINFO_PROFILE, USERINFO_PROFILE),
];

/// A checked authorization request.
pub(crate) struct AuthRequest {
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) client_id: String,
    redirect_uri: String,
    /// Granted names, without repeats, in the order asked.
    pub(crate) scopes: Vec<String>,
    state: Option<String>,
    offline: bool,
    prompt: Vec<String>,
    include_granted_scopes: bool,
    challenge: Option<Challenge>,
}

/// Why a request gets no consent screen.
enum Refusal {
    /// Google's error page, no redirect: the client or redirect URI cannot be trusted, or the request is malformed.
    Page { status: u16, error: &'static str, description: String },
    /// Back to the redirect URI (checked by then) with this `error=`.
    Redirect(&'static str),
}

fn page(status: u16, error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal::Page { status, error, description: description.into() }
}

fn missing(name: &str) -> Refusal {
    page(400, "invalid_request", format!("Missing required parameter: {name}"))
}

/// RFC 7636 section 4.2: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn well_formed_challenge(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl AuthRequest {
    fn parse(params: BTreeMap<String, String>, inner: &Inner) -> Result<AuthRequest, Refusal> {
        let get = |name: &str| params.get(name).map(String::as_str).filter(|value| !value.is_empty());
        let client_id = get("client_id").ok_or_else(|| missing("client_id"))?.to_owned();
        if client_id != OAUTH_CLIENT_ID {
            return Err(page(401, "invalid_client", "The OAuth client was not found."));
        }
        let redirect_uri = get("redirect_uri").ok_or_else(|| missing("redirect_uri"))?.to_owned();
        if !inner.oauth.redirect_uris.contains(&redirect_uri) {
            return Err(page(
                400,
                "redirect_uri_mismatch",
                format!(
                    "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. If \
                     you're the app developer, register the redirect URI in the Google Cloud Console. Request \
                     details: redirect_uri={redirect_uri}"
                ),
            ));
        }
        let state = params.get("state").cloned();
        let response_type = get("response_type").ok_or_else(|| missing("response_type"))?;
        if response_type != "code" {
            return Err(Refusal::Redirect("unsupported_response_type"));
        }

        let asked: Vec<&str> = get("scope").unwrap_or_default().split_whitespace().collect();
        if asked.is_empty() {
            return Err(missing("scope"));
        }
        let granted_name = |scope: &str| SCOPES.iter().find(|(name, _)| *name == scope).map(|(_, granted)| *granted);
        let (valid, invalid): (Vec<&str>, Vec<&str>) = asked.iter().partition(|scope| granted_name(scope).is_some());
        if !invalid.is_empty() {
            return Err(page(
                400,
                "invalid_scope",
                format!(
                    "Some requested scopes were invalid. {{valid=[{}], invalid=[{}]}}",
                    valid.join(", "),
                    invalid.join(", ")
                ),
            ));
        }
        let mut scopes: Vec<String> = Vec::new();
        for scope in asked.iter().filter_map(|scope| granted_name(scope)) {
            if !scopes.iter().any(|held| held == scope) {
                scopes.push(scope.to_owned());
            }
        }

        let offline = match get("access_type") {
            None | Some("online") => false,
            Some("offline") => true,
            Some(other) => return Err(page(400, "invalid_request", format!("Invalid access_type: {other}"))),
        };
        let prompt: Vec<String> = get("prompt").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        let known_prompt = prompt.iter().all(|value| matches!(value.as_str(), "none" | "consent" | "select_account"));
        // "none": "Must not be specified with other values."
        if !known_prompt || (prompt.len() > 1 && prompt.iter().any(|value| value == "none")) {
            return Err(page(400, "invalid_request", format!("Invalid prompt: {}", prompt.join(" "))));
        }
        let include_granted_scopes = match get("include_granted_scopes") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(page(400, "invalid_request", format!("Invalid include_granted_scopes: {other}")));
            }
        };
        let challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (None, None) => None,
            (None, Some(_)) => return Err(missing("code_challenge")),
            (Some(value), method) => {
                let method = match method {
                    // "defaults to plain if not present in the request that includes a code_challenge"
                    None | Some("plain") => ChallengeMethod::Plain,
                    Some("S256") => ChallengeMethod::S256,
                    Some(_) => return Err(page(400, "invalid_request", "Invalid code_challenge_method value.")),
                };
                if !well_formed_challenge(value) {
                    return Err(page(400, "invalid_request", "Invalid code_challenge."));
                }
                Some(Challenge { value: value.to_owned(), method })
            }
        };
        Ok(AuthRequest {
            client_id,
            redirect_uri,
            scopes,
            state,
            offline,
            prompt,
            include_granted_scopes,
            challenge,
            params,
        })
    }

    fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|prompt| prompt == value)
    }
}

/// `redirect_uri` with `pairs` and `state` added to its query.
fn redirect(redirect_uri: &str, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut location = redirect_uri.to_owned();
    let mut separator = if redirect_uri.contains('?') { '&' } else { '?' };
    for (name, value) in pairs.iter().copied().chain(state.map(|state| ("state", state))) {
        location.push(separator);
        location.push_str(&format!("{name}={}", percent_encode(value)));
        separator = '&';
    }
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => consent_page::error(400, "invalid_request", "Invalid redirect_uri.", &BTreeMap::new()),
    }
}

/// The user allowed: a single-use code for the redirect URI, with the granted scopes.
fn allow(inner: &mut Inner, request: &AuthRequest) -> Response {
    let user = inner.oauth.consenting_user.clone();
    let held = inner.oauth.consent(&user, &request.client_id, &request.scopes);
    let scopes: Vec<String> =
        if request.include_granted_scopes { held.into_iter().collect() } else { request.scopes.clone() };
    let refresh_token =
        request.offline && inner.oauth.refresh_token_due(&user, &request.client_id, request.prompts("consent"));
    let code = random_id("4/0A", 73);
    let expires_at = inner.now() + CODE_TTL;
    inner.oauth.codes.insert(
        code.clone(),
        AuthCode {
            client: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            user,
            scopes: scopes.clone(),
            refresh_token,
            challenge: request.challenge.clone(),
            expires_at,
            redeemed: None,
        },
    );
    redirect(&request.redirect_uri, &[("code", &code), ("scope", &scopes.join(" "))], request.state.as_deref())
}

fn deny(request: &AuthRequest) -> Response {
    redirect(&request.redirect_uri, &[("error", "access_denied")], request.state.as_deref())
}

fn refused(refusal: Refusal, params: &BTreeMap<String, String>) -> Response {
    match refusal {
        Refusal::Page { status, error, description } => consent_page::error(status, error, &description, params),
        Refusal::Redirect(error) => {
            let redirect_uri = params.get("redirect_uri").map(String::as_str).unwrap_or_default();
            redirect(redirect_uri, &[("error", error)], params.get("state").map(String::as_str))
        }
    }
}

/// `GET /o/oauth2/v2/auth`.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return consent_page::error(400, "invalid_request", "Invalid request.", &BTreeMap::new());
    };
    let mut inner = shared.lock();
    let request = match AuthRequest::parse(params.clone(), &inner) {
        Ok(request) => request,
        Err(refusal) => return refused(refusal, &params),
    };
    if request.prompts("none") {
        // No screen may be shown: only scopes the user already granted this client can be answered.
        let user = inner.oauth.consenting_user.clone();
        let held = inner.oauth.consented.get(&(user, request.client_id.clone()));
        let covered = held.is_some_and(|held| request.scopes.iter().all(|scope| held.contains(scope)));
        if !covered {
            return redirect(&request.redirect_uri, &[("error", "consent_required")], request.state.as_deref());
        }
        return allow(&mut inner, &request);
    }
    match inner.oauth.auto_consent {
        Some(Consent::Allow) => allow(&mut inner, &request),
        Some(Consent::Deny) => deny(&request),
        None => consent_page::consent(&request, &inner.oauth.consenting_user, CONSENT_PATH),
    }
}

/// `POST /o/oauth2/v2/consent`: the consent form, carrying the authorization request in hidden fields and the
/// user's choice in `decision`. The request is checked again, since anything may post this form.
pub(crate) async fn decide(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(mut params)) = form else {
        return consent_page::error(400, "invalid_request", "Invalid request.", &BTreeMap::new());
    };
    let decision = params.remove("decision");
    let mut inner = shared.lock();
    let request = match AuthRequest::parse(params.clone(), &inner) {
        Ok(request) => request,
        Err(refusal) => return refused(refusal, &params),
    };
    match decision.as_deref() {
        Some("allow") => allow(&mut inner, &request),
        Some("deny") => deny(&request),
        _ => consent_page::error(400, "invalid_request", "Missing required parameter: decision", &params),
    }
}
