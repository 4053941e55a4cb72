//! Settings of the web UI and the JSON API: the admin account, sessions, cookies and the proxies
//! in front.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

use super::Env;
use crate::users::Role;

/// When the session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over TLS (`X-Forwarded-Proto: https` from a proxy of
    /// `TRUSTED_PROXIES`).
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
    /// `TRUSTED_PROXIES`: the proxies in front whose `X-Forwarded-For` and `X-Forwarded-Proto`
    /// are believed (default none: the peer is the client).
    pub trusted_proxies: TrustedProxies,
    /// Sign-in with the organisation's identity provider, when `OIDC_ISSUER` is set.
    pub oidc: Option<OidcSettings>,
    /// `LOCAL_SIGN_IN`: on | off (default on). Off hides the password form and refuses
    /// `POST /login`; it needs `oidc`, or nobody could sign in.
    pub local_sign_in: bool,
}

/// Addresses and CIDR ranges of proxies, e.g. `10.0.0.1, 172.16.0.0/12, fd00::/8`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// Reads a comma-separated list; the error names the first entry that is neither an
    /// address nor a range.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpRange::parse(entry).ok_or_else(|| {
                    format!(
                        "TRUSTED_PROXIES: {entry:?} is neither an IP address nor a CIDR range: give addresses or ranges separated by commas, e.g. 10.0.0.1, 172.16.0.0/12, fd00::/8"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of them (an IPv4 address seen as `::ffff:a.b.c.d` counts as itself).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// No proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One address (a range of one) or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    fn parse(entry: &str) -> Option<IpRange> {
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) => {
                (address, Some(prefix.parse::<u8>().ok()?))
            }
            Some(_) => return None,
            None => (entry, None),
        };
        let network = address.parse::<IpAddr>().ok()?.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(IpRange { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let masked = |bits: u128, width: u8| {
            if self.prefix == 0 { 0 } else { bits >> (width - self.prefix) }
        };
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(net).into(), 32) == masked(u32::from(ip).into(), 32),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), 128) == masked(u128::from(ip), 128),
            _ => false,
        }
    }
}

/// The OpenID Connect client: who the provider is and who we are to it.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `OIDC_ISSUER`: https (http only for localhost), without a trailing slash.
    pub issuer: String,
    /// `OIDC_CLIENT_ID`.
    pub client_id: String,
    /// `OIDC_CLIENT_SECRET` (or `_FILE`); unset = a public client (PKCE alone).
    pub client_secret: Option<SecretString>,
    /// `OIDC_ROLE_CLAIM`: the claim whose value (a string or an array of strings) names the role.
    pub role_claim: Option<String>,
    /// `OIDC_DEFAULT_ROLE`: the role of a person without a user and without a role claim; unset =
    /// they are refused.
    pub default_role: Option<Role>,
}

/// An issuer we may talk to: https, or plain http to this machine only (a provider in a test or
/// on a laptop), since the ID token's keys come from there.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "OIDC_ISSUER={issuer:?}: give the provider's https address, as in its \
             /.well-known/openid-configuration, e.g. https://accounts.google.com \
             (http only for localhost or 127.0.0.1)"
        )
    };
    let (scheme, rest) = issuer.split_once("://").ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let ok = !host.is_empty()
        && !authority.contains('@')
        && !issuer.contains(['?', '#'])
        && !issuer.chars().any(|c| c.is_whitespace() || c.is_control())
        && match scheme {
            "https" => true,
            "http" => matches!(host, "localhost" | "127.0.0.1" | "[::1]"),
            _ => false,
        };
    if ok { Ok(()) } else { Err(bad()) }
}

impl OidcSettings {
    /// Reads them: `None` when no `OIDC_*` setting is given; every problem into `errors`.
    fn from_env(env: &Env, errors: &mut Vec<String>) -> Option<Self> {
        let issuer = env.get("OIDC_ISSUER").map(|i| i.trim_end_matches('/').to_owned());
        let client_id = env.get("OIDC_CLIENT_ID");
        let client_secret = env.secret("OIDC_CLIENT_SECRET").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let role_claim = env.get("OIDC_ROLE_CLAIM");
        let default_role = env.get("OIDC_DEFAULT_ROLE");
        let Some(issuer) = issuer else {
            let stray: Vec<&str> = [
                ("OIDC_CLIENT_ID", client_id.is_some()),
                ("OIDC_CLIENT_SECRET", client_secret.is_some()),
                ("OIDC_ROLE_CLAIM", role_claim.is_some()),
                ("OIDC_DEFAULT_ROLE", default_role.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
            if !stray.is_empty() {
                errors.push(format!(
                    "{} set without OIDC_ISSUER: set OIDC_ISSUER to the identity provider's address, or unset them",
                    stray.join(", ")
                ));
            }
            return None;
        };
        let before = errors.len();
        if let Err(e) = check_issuer(&issuer) {
            errors.push(e);
        }
        if client_id.is_none() {
            errors.push(
                "OIDC_CLIENT_ID is missing: give the client id the identity provider gave this orchestrator".to_owned(),
            );
        }
        if let Some(claim) = &role_claim
            && (claim.len() > 128 || claim.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            errors.push(format!("OIDC_ROLE_CLAIM={claim:?}: give the name of one claim, e.g. roles or groups"));
        }
        let default_role = default_role.and_then(|r| {
            Role::parse(&r).or_else(|| {
                errors.push(format!("OIDC_DEFAULT_ROLE={r:?}: use viewer, operator, restorer or admin, or unset it"));
                None
            })
        });
        (errors.len() == before).then(|| OidcSettings {
            issuer,
            client_id: client_id.unwrap_or_default(),
            client_secret,
            role_claim,
            default_role,
        })
    }
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
        let trusted_proxies =
            TrustedProxies::parse(&env.get("TRUSTED_PROXIES").unwrap_or_default()).unwrap_or_else(|e| {
                errors.push(e);
                TrustedProxies::default()
            });
        let oidc = OidcSettings::from_env(env, &mut errors);
        let local_sign_in = match env.get("LOCAL_SIGN_IN").as_deref().unwrap_or("on") {
            "on" | "true" => true,
            "off" | "false" => false,
            other => {
                errors.push(format!("LOCAL_SIGN_IN={other:?}: use on or off"));
                true
            }
        };
        if !local_sign_in && oidc.is_none() && env.get("OIDC_ISSUER").is_none() {
            errors.push(
                "LOCAL_SIGN_IN=off needs sign-in through the identity provider (OIDC_ISSUER, OIDC_CLIENT_ID): \
                 otherwise nobody, not even the first admin, could sign in"
                    .to_owned(),
            );
        }
        if errors.is_empty() {
            Ok(WebSettings {
                admin_user,
                admin_password,
                session_ttl: Duration::from_secs(hours * 3600),
                session_idle: Duration::from_secs(idle_minutes * 60),
                cookie_secure,
                login_max_failures,
                metrics_token,
                trusted_proxies,
                oidc,
                local_sign_in,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_are_addresses_and_ranges_of_both_families() {
        let trusted = TrustedProxies::parse(" 10.0.0.1, 172.16.0.0/12,fd00::/8 ,::1,").unwrap();
        for inside in ["10.0.0.1", "172.16.0.1", "172.31.255.255", "fd12::7", "::1", "::ffff:10.0.0.1"] {
            assert!(trusted.contains(ip(inside)), "{inside}");
        }
        for outside in ["10.0.0.2", "172.32.0.1", "fe80::1", "127.0.0.1", "::2"] {
            assert!(!trusted.contains(ip(outside)), "{outside}");
        }
        assert!(TrustedProxies::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(!TrustedProxies::parse("0.0.0.0/0").unwrap().contains(ip("2001:db8::1")));
        assert!(TrustedProxies::parse("10.1.2.3/8").unwrap().contains(ip("10.200.0.1")), "host bits are ignored");
        assert!(TrustedProxies::parse("::ffff:192.168.1.1").unwrap().contains(ip("192.168.1.1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_bad_trusted_proxy_is_named() {
        for bad in ["10.0.0.300", "10.0.0.0/33", "fd00::/129", "proxy.internal", "10.0.0.0/", "/8", "10.0.0.0/-1", "*"]
        {
            let error = TrustedProxies::parse(&format!("10.0.0.1, {bad}")).unwrap_err();
            assert!(error.starts_with(&format!("TRUSTED_PROXIES: {bad:?} is neither")), "{error}");
        }
        let env = Env::from_pairs([("TRUSTED_PROXIES", "10.0.0.1, nonsense")]);
        let errors = WebSettings::from_env(&env).unwrap_err();
        assert!(errors.iter().any(|e| e.contains("\"nonsense\"")), "{errors:?}");
        let env = Env::from_pairs([("TRUSTED_PROXIES", "10.0.0.0/8")]);
        assert!(WebSettings::from_env(&env).unwrap().trusted_proxies.contains(ip("10.9.8.7")));
        assert!(WebSettings::from_env(&Env::from_pairs([("ADMIN_USER", "admin")])).unwrap().trusted_proxies.is_empty());
    }

    fn read(pairs: &[(&str, &str)]) -> Result<WebSettings, String> {
        WebSettings::from_env(&Env::from_pairs(pairs.iter().copied())).map_err(|e| e.join("\n"))
    }

    #[test]
    fn without_oidc_settings_only_passwords_sign_in() {
        let web = read(&[]).unwrap();
        assert!(web.oidc.is_none());
        assert!(web.local_sign_in);
    }

    #[test]
    fn a_complete_oidc_client_is_read() {
        let web = read(&[
            ("OIDC_ISSUER", "https://id.example.org/realms/staff/"),
            ("OIDC_CLIENT_ID", "backups"),
            ("OIDC_CLIENT_SECRET", "s3cret"),
            ("OIDC_ROLE_CLAIM", "roles"),
            ("OIDC_DEFAULT_ROLE", "Viewer"),
            ("LOCAL_SIGN_IN", "off"),
        ])
        .unwrap();
        let oidc = web.oidc.unwrap();
        assert_eq!(oidc.issuer, "https://id.example.org/realms/staff");
        assert_eq!(oidc.client_id, "backups");
        assert!(oidc.client_secret.is_some());
        assert_eq!(oidc.role_claim.as_deref(), Some("roles"));
        assert_eq!(oidc.default_role, Some(Role::Viewer));
        assert!(!web.local_sign_in);
    }

    #[test]
    fn plain_http_issuers_are_only_accepted_on_this_machine() {
        for ok in ["https://accounts.google.com", "http://127.0.0.1:4444", "http://localhost:8080/realms/x"] {
            assert!(check_issuer(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://id.example.org",
            "http://127.0.0.1.example.org",
            "http://localhost@evil.example",
            "ftp://id.example.org",
            "id.example.org",
            "https://",
            "https://id.example.org/?x=1",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_oidc_problem_is_reported_at_once() {
        let errors = read(&[
            ("OIDC_ISSUER", "http://id.example.org"),
            ("OIDC_ROLE_CLAIM", "two words"),
            ("OIDC_DEFAULT_ROLE", "owner"),
            ("LOCAL_SIGN_IN", "maybe"),
        ])
        .unwrap_err();
        for part in
            ["OIDC_ISSUER=", "OIDC_CLIENT_ID is missing", "OIDC_ROLE_CLAIM=", "OIDC_DEFAULT_ROLE=", "LOCAL_SIGN_IN="]
        {
            assert!(errors.contains(part), "{part} in {errors}");
        }
    }

    #[test]
    fn oidc_details_without_an_issuer_are_refused() {
        let errors = read(&[("OIDC_CLIENT_ID", "backups"), ("OIDC_DEFAULT_ROLE", "viewer")]).unwrap_err();
        assert!(errors.contains("OIDC_CLIENT_ID, OIDC_DEFAULT_ROLE set without OIDC_ISSUER"), "{errors}");
    }

    #[test]
    fn turning_passwords_off_needs_the_identity_provider() {
        let errors = read(&[("LOCAL_SIGN_IN", "off")]).unwrap_err();
        assert!(errors.contains("LOCAL_SIGN_IN=off needs"), "{errors}");
        // A broken OIDC setting is reported for itself, not twice.
        let errors = read(&[("LOCAL_SIGN_IN", "off"), ("OIDC_ISSUER", "https://id.example.org")]).unwrap_err();
        assert!(!errors.contains("LOCAL_SIGN_IN=off needs"), "{errors}");
        assert!(errors.contains("OIDC_CLIENT_ID is missing"), "{errors}");
    }
}
