//! Settings of the web UI and the JSON API: the admin account, sessions, cookies and the proxies
//! in front.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

use super::Env;

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
}
