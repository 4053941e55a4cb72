//! What every handler of the UI and the API shares.

use std::sync::Arc;

use crate::config::web::WebSettings;
use crate::http::auth::admin::Admin;
use crate::http::auth::throttle::Throttle;
use crate::startup::Context;

/// The shared state, cheap to clone.
pub type Web = Arc<WebState>;

/// The shared state.
#[derive(Debug)]
pub struct WebState {
    /// Database, registry, runner.
    pub ctx: Context,
    /// Web settings.
    pub settings: WebSettings,
    /// When and where the orchestrator backs itself up (its page and its button).
    pub self_backup: crate::config::self_backup::SelfBackupSettings,
    /// Who may sign in.
    pub admin: Admin,
    /// The organisation's identity provider, when `OIDC_ISSUER` is set.
    pub oidc: Option<crate::http::auth::oidc::Provider>,
    /// Sign-in throttling.
    pub throttle: Throttle,
    /// The demo app's name, when running `serve --demo` (labelled in the UI).
    pub demo_app: Option<String>,
    /// Attempts of a queued run (`MAX_ATTEMPTS`), to say "attempt 2 of 3".
    pub max_attempts: i32,
}
