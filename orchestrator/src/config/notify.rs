//! Settings of notifications: links, retries, when an app counts as stale, and how often a
//! failing or stale app is reminded about.

use std::time::Duration;

use super::Env;

/// What notifications read.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// `PUBLIC_URL`: the address operators reach the UI at, for links in notifications
    /// (default: the address `serve` listens on).
    pub public_url: Option<String>,
    /// `NOTIFY_MAX_ATTEMPTS` (default 6): tries of one notification before it is given up.
    pub max_attempts: i32,
    /// `NOTIFY_RETRY_SECS` (default 30): first pause before a retry, doubling up to an hour.
    pub retry_delay: Duration,
    /// `NOTIFY_TIMEOUT_SECS` (default 10): how long one webhook, ping or SMTP exchange may take.
    pub timeout: Duration,
    /// `ALERT_CHECK_SECS` (default 60): how often `serve` looks for stale apps.
    pub check_every: Duration,
    /// `STALE_AFTER_INTERVALS` (default 2): an app is stale when its newest verified copy is
    /// older than this many times the longest gap of its schedule.
    pub stale_after_intervals: u32,
    /// `NOTIFY_REMINDER_HOURS` (default 24; 0 = never): while an app keeps failing or stays
    /// stale, its channels are reminded this often.
    pub reminder_every: Option<Duration>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            public_url: None,
            max_attempts: 6,
            retry_delay: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            check_every: Duration::from_secs(60),
            stale_after_intervals: 2,
            reminder_every: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

impl NotifySettings {
    /// Reads them; every problem at once.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let d = NotifySettings::default();
        let public_url = env.get("PUBLIC_URL").map(|u| u.trim().trim_end_matches('/').to_owned());
        if let Some(url) = &public_url {
            match reqwest::Url::parse(url) {
                Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.password().is_none() => {}
                _ => errors.push(format!(
                    "PUBLIC_URL={url:?}: give the http(s) address operators open the UI at, e.g. https://backups.internal"
                )),
            }
        }
        let max_attempts: i32 = env.number("NOTIFY_MAX_ATTEMPTS", d.max_attempts, &mut errors);
        if !(1..=50).contains(&max_attempts) {
            errors.push(format!("NOTIFY_MAX_ATTEMPTS={max_attempts}: use 1 to 50"));
        }
        let mut secs = |name: &str, default: Duration, max: u64| {
            let n: u64 = env.number(name, default.as_secs(), &mut errors);
            if n == 0 || n > max {
                errors.push(format!("{name}={n}: use 1 to {max} seconds"));
            }
            Duration::from_secs(n.clamp(1, max))
        };
        let retry_delay = secs("NOTIFY_RETRY_SECS", d.retry_delay, 3600);
        let timeout = secs("NOTIFY_TIMEOUT_SECS", d.timeout, 300);
        let check_every = secs("ALERT_CHECK_SECS", d.check_every, 3600);
        let stale_after_intervals: u32 = env.number("STALE_AFTER_INTERVALS", d.stale_after_intervals, &mut errors);
        if !(1..=100).contains(&stale_after_intervals) {
            errors.push(format!("STALE_AFTER_INTERVALS={stale_after_intervals}: use 1 to 100"));
        }
        let reminder_hours: u64 = env.number("NOTIFY_REMINDER_HOURS", 24, &mut errors);
        if reminder_hours > 24 * 30 {
            errors.push(format!("NOTIFY_REMINDER_HOURS={reminder_hours}: use 1 to 720 hours, or 0 for no reminders"));
        }
        let reminder_every = (reminder_hours > 0).then(|| Duration::from_secs(reminder_hours.min(720) * 3600));
        if errors.is_empty() {
            Ok(NotifySettings {
                public_url,
                max_attempts,
                retry_delay,
                timeout,
                check_every,
                stale_after_intervals,
                reminder_every,
            })
        } else {
            Err(errors)
        }
    }
}
