//! Settings of the web UI and the JSON API: the admin account, sessions and cookies.

use std::time::Duration;

use secrecy::SecretString;

use super::Env;

/// When the session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over TLS (`X-Forwarded-Proto: https` from the proxy in front).
    Auto,
    /// Always (the UI is only reached over https).
    Always,
    /// Never (plain http on a trusted network).
    Never,
}

/// What the web layer reads.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `ADMIN_USER` (default `admin`).
    pub admin_user: String,
    /// `ADMIN_PASSWORD`: the password, or its argon2 hash (`$argon2id$...`). Unset: a password is
    /// generated on first start, its hash stored in the database, and printed once.
    pub admin_password: Option<SecretString>,
    /// `SESSION_TTL_HOURS` (default 12): a session's absolute lifetime.
    pub session_ttl: Duration,
    /// `SESSION_IDLE_MINUTES` (default 120): a session unused this long ends.
    pub session_idle: Duration,
    /// `COOKIE_SECURE`: auto | always | never (default auto).
    pub cookie_secure: CookieSecure,
    /// `LOGIN_MAX_FAILURES` (default 5): failed sign-ins from one address or for one user before
    /// sign-in is refused for a while (doubling each time).
    pub login_max_failures: u32,
    /// `METRICS_TOKEN`: the bearer token Prometheus scrapes `/metrics` with; unset = no metrics.
    pub metrics_token: Option<SecretString>,
}

impl WebSettings {
    /// Reads them; every problem at once.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let admin_user = env.get("ADMIN_USER").unwrap_or_else(|| "admin".to_owned());
        if admin_user.len() > 64 || admin_user.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(format!("ADMIN_USER={admin_user:?}: use up to 64 characters without spaces"));
        }
        let admin_password = env.secret("ADMIN_PASSWORD").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let hours: u64 = env.number_in("SESSION_TTL_HOURS", 12, (1, 24 * 90), "hours", &mut errors);
        let idle_minutes: u64 = env.number_in("SESSION_IDLE_MINUTES", 120, (5, 24 * 60 * 90), "minutes", &mut errors);
        let cookie_secure = match env.get("COOKIE_SECURE").as_deref().unwrap_or("auto") {
            "auto" => CookieSecure::Auto,
            "always" | "true" => CookieSecure::Always,
            "never" | "false" => CookieSecure::Never,
            other => {
                errors.push(format!("COOKIE_SECURE={other:?}: use auto, always or never"));
                CookieSecure::Auto
            }
        };
        let login_max_failures = env.number_in("LOGIN_MAX_FAILURES", 5u32, (1, 1000), "failed sign-ins", &mut errors);
        let metrics_token = env.secret("METRICS_TOKEN").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if errors.is_empty() {
            Ok(WebSettings {
                admin_user,
                admin_password,
                session_ttl: Duration::from_secs(hours * 3600),
                session_idle: Duration::from_secs(idle_minutes * 60),
                cookie_secure,
                login_max_failures,
                metrics_token,
            })
        } else {
            Err(errors)
        }
    }
}
