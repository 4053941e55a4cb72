//! Drive's daily upload budget: `GDRIVE_DAILY_UPLOAD_LIMIT` and `GDRIVE_DAILY_UPLOAD_WINDOW`.
//! Read whatever the destination; only a Drive destination has a budget (`backup::budget`).

use std::time::Duration;

use super::{Env, parse_size};

/// Google's limit: 750 GB uploaded per user in a rolling 24 hours.
pub const GOOGLE_DAILY_LIMIT: u64 = 750_000_000_000;

/// How much one Google account may upload per window before runs wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSettings {
    /// Bytes per window; `None` turns our own count off (Drive's answer at its cap still makes
    /// runs wait).
    pub limit: Option<u64>,
    /// The rolling window.
    pub window: Duration,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings { limit: Some(GOOGLE_DAILY_LIMIT), window: Duration::from_secs(24 * 3600) }
    }
}

impl BudgetSettings {
    /// Reads both settings; problems go to `errors`, with what to write instead.
    pub fn from_env(env: &Env, errors: &mut Vec<String>) -> Self {
        let mut settings = BudgetSettings::default();
        if let Some(text) = env.get("GDRIVE_DAILY_UPLOAD_LIMIT") {
            match parse_limit(&text) {
                Some(limit) => settings.limit = limit,
                None => errors.push(format!(
                    "GDRIVE_DAILY_UPLOAD_LIMIT={text:?}: give a size such as 750GB (Google's limit) or 500GiB, or 0 or \"off\" to not count uploads"
                )),
            }
        }
        if let Some(text) = env.get("GDRIVE_DAILY_UPLOAD_WINDOW") {
            match parse_window(&text) {
                Some(window) => settings.window = window,
                None => errors.push(format!(
                    "GDRIVE_DAILY_UPLOAD_WINDOW={text:?}: give a duration above 0 such as 24h (Google's window), 90m or 30s"
                )),
            }
        }
        settings
    }
}

/// `Some(None)` for "off" or 0.
fn parse_limit(text: &str) -> Option<Option<u64>> {
    if text.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    parse_size(text).map(|n| (n > 0).then_some(n))
}

/// A positive duration such as `24h`, `90m`, `30s` or `1h 30m`.
fn parse_window(text: &str) -> Option<Duration> {
    let d: jiff::SignedDuration = text.parse().ok()?;
    Duration::try_from(d).ok().filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (BudgetSettings, Vec<String>) {
        let mut errors = Vec::new();
        let settings = BudgetSettings::from_env(&Env::from_pairs(pairs.iter().copied()), &mut errors);
        (settings, errors)
    }

    #[test]
    fn the_default_is_googles_750_gb_per_24_hours() {
        let (settings, errors) = read(&[]);
        assert!(errors.is_empty());
        assert_eq!(settings.limit, Some(750 * 1000 * 1000 * 1000));
        assert_eq!(settings.window, Duration::from_secs(86_400));
    }

    #[test]
    fn limits_take_the_size_syntax_and_zero_or_off_turn_counting_off() {
        let cases = [("750GB", Some(750_000_000_000)), ("1MiB", Some(1 << 20)), ("0", None), ("off", None)];
        for (text, limit) in cases {
            let (settings, errors) = read(&[("GDRIVE_DAILY_UPLOAD_LIMIT", text)]);
            assert!(errors.is_empty(), "{text}: {errors:?}");
            assert_eq!(settings.limit, limit, "{text}");
        }
        let (settings, errors) = read(&[("GDRIVE_DAILY_UPLOAD_WINDOW", "5s")]);
        assert!(errors.is_empty());
        assert_eq!(settings.window, Duration::from_secs(5));
        assert_eq!(read(&[("GDRIVE_DAILY_UPLOAD_WINDOW", "1h 30m")]).0.window, Duration::from_secs(5400));
    }

    #[test]
    fn bad_values_are_reported_together_with_what_to_write() {
        let (_, errors) = read(&[("GDRIVE_DAILY_UPLOAD_LIMIT", "lots"), ("GDRIVE_DAILY_UPLOAD_WINDOW", "0s")]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("GDRIVE_DAILY_UPLOAD_LIMIT=\"lots\"") && errors[0].contains("750GB"));
        assert!(errors[1].contains("GDRIVE_DAILY_UPLOAD_WINDOW=\"0s\"") && errors[1].contains("24h"));
        let (_, errors) = read(&[("GDRIVE_DAILY_UPLOAD_WINDOW", "-5m")]);
        assert_eq!(errors.len(), 1, "a negative window is refused: {errors:?}");
        let (_, errors) = read(&[("GDRIVE_DAILY_UPLOAD_WINDOW", "tomorrow")]);
        assert_eq!(errors.len(), 1);
    }
}
