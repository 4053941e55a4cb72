//! The night spread: when all apps want 03:00, each scheduled run may be given
//!
//! - a **window**: how long after its scheduled time it may still start. A run still waiting at
//!   the end of its window (behind a group limit, a busy queue, a stopped worker) is skipped with
//!   that reason instead of starting at 09:00 on top of the working day;
//! - a **jitter**: its start is moved by a pseudo-random delay up to the jitter, the same for one
//!   app and fire on every process (derived from both), never more than half the window, so that
//!   two hundred apps do not hit their database hosts in the same second;
//! - a **group limit** (set on the group): at most N backups of the group's apps run at once,
//!   across every process (see `backup::slots`).
//!
//! An app's own window or jitter wins over its group's; neither set means none. Manual runs
//! (Test now) have no window and no jitter: someone is waiting for them.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr, EntityTrait};

use crate::catalogue::Msg;
use crate::db::entities::app_group;
use crate::registry::input::FieldError;

/// The longest window: a day (a longer one would overlap the next night's run).
pub const MAX_WINDOW_SECS: i64 = 24 * 3600;
/// The longest jitter.
pub const MAX_JITTER_SECS: i64 = 12 * 3600;
/// The largest group limit.
pub const MAX_CONCURRENT: u32 = 1000;

/// Parses a duration as operators write it (`2h`, `90m`, `1h30m`, `45s`); empty, `off` or
/// `none` mean "not set". Errors name `field` and say what to write.
pub fn parse_span(field: &str, text: &str, max_secs: i64) -> Result<Option<i64>, FieldError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let invalid = || FieldError::new(field, Msg::new("field.span.invalid").with("given", text));
    let parsed: jiff::SignedDuration = text.parse().map_err(|_| invalid())?;
    if parsed.subsec_nanos() != 0 || parsed.is_negative() {
        return Err(invalid());
    }
    let secs = parsed.as_secs();
    if secs == 0 {
        return Ok(None);
    }
    if secs > max_secs {
        return Err(FieldError::new(
            field,
            Msg::new("field.span.too_long").with("given", text).with("max", format_span(max_secs)),
        ));
    }
    Ok(Some(secs))
}

/// A duration in whole seconds as [`parse_span`] reads it back: `2h`, `1h30m`, `45s`.
pub fn format_span(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Parses a group limit: a number from 1 to [`MAX_CONCURRENT`], or empty / `off` / `none` for no
/// limit.
pub fn parse_limit(field: &str, text: &str) -> Result<Option<u32>, FieldError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_CONCURRENT).contains(&n) => Ok(Some(n)),
        _ => {
            Err(FieldError::new(field, Msg::new("field.limit.invalid").with("given", text).with("max", MAX_CONCURRENT)))
        }
    }
}

/// One app's spread, its own settings laid over its group's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spread {
    /// Seconds after the scheduled time within which a run may start.
    pub window_secs: Option<i64>,
    /// Seconds over which starts are spread.
    pub jitter_secs: Option<i64>,
    /// The app's group and its limit, when it has one.
    pub limit: Option<(String, u32)>,
}

impl Spread {
    /// The spread of an app with these settings in `group` (its row, if the group has one).
    pub fn new(window_secs: Option<i64>, jitter_secs: Option<i64>, group: Option<&app_group::Model>) -> Spread {
        Spread {
            window_secs: window_secs.or_else(|| group.and_then(|g| g.window_secs)),
            jitter_secs: jitter_secs.or_else(|| group.and_then(|g| g.jitter_secs)),
            limit: group.and_then(|g| {
                let n = u32::try_from(g.max_concurrent?).ok().filter(|n| *n > 0)?;
                Some((g.name.clone(), n))
            }),
        }
    }

    /// The spread of `app`, reading its group's row.
    pub async fn of(db: &DatabaseConnection, app: &crate::registry::App) -> Result<Spread, DbErr> {
        let group = match &app.group {
            Some(name) => app_group::Entity::find_by_id(name.clone()).one(db).await?,
            None => None,
        };
        Ok(Spread::new(app.window_secs, app.jitter_secs, group.as_ref()))
    }

    /// How long after `fire_at` (ms) the run of `app_id` fired then starts: a delay below the
    /// jitter (and below half the window), the same on every process for that app and fire.
    pub fn delay(&self, app_id: i64, fire_at: i64) -> Duration {
        let Some(jitter) = self.jitter_secs.filter(|j| *j > 0) else {
            return Duration::ZERO;
        };
        let span_ms = match self.window_secs {
            Some(window) => (jitter * 1000).min(window * 1000 / 2),
            None => jitter * 1000,
        };
        if span_ms <= 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(mix(app_id as u64, fire_at as u64) % span_ms as u64)
    }

    /// The latest start (ms) of a run scheduled for `scheduled_for` (ms), if it has a window.
    pub fn latest_start(&self, scheduled_for: i64) -> Option<i64> {
        self.window_secs.map(|w| scheduled_for.saturating_add(w * 1000))
    }
}

/// A well-mixed 64-bit value of two inputs (SplitMix64's finalizer), so neighbouring app ids
/// and fire times land far apart in the jitter.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(29);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(max: Option<i32>, window: Option<i64>, jitter: Option<i64>) -> app_group::Model {
        app_group::Model {
            name: "db1".into(),
            max_concurrent: max,
            window_secs: window,
            jitter_secs: jitter,
            updated_at: 0,
        }
    }

    #[test]
    fn durations_read_as_operators_write_them_and_back() {
        assert_eq!(parse_span("window", "2h", MAX_WINDOW_SECS).unwrap(), Some(7200));
        assert_eq!(parse_span("window", "1h30m", MAX_WINDOW_SECS).unwrap(), Some(5400));
        assert_eq!(parse_span("window", "90m", MAX_WINDOW_SECS).unwrap(), Some(5400));
        assert_eq!(parse_span("window", "45s", MAX_WINDOW_SECS).unwrap(), Some(45));
        for off in ["", " off ", "none", "0s"] {
            assert_eq!(parse_span("window", off, MAX_WINDOW_SECS).unwrap(), None, "{off:?}");
        }
        for bad in ["soon", "2", "-1h", "1.5s", "2 hours later"] {
            let e = parse_span("window", bad, MAX_WINDOW_SECS).unwrap_err();
            assert_eq!(e.field, "window");
            assert!(e.msg.to_string().contains("2h, 90m"), "{bad:?}: {}", e.msg);
        }
        let long = parse_span("jitter", "13h", MAX_JITTER_SECS).unwrap_err();
        assert!(long.msg.to_string().contains("at most 12h"), "{}", long.msg);
        for secs in [45, 60, 5400, 7200, 86_400, 3661] {
            assert_eq!(parse_span("w", &format_span(secs), MAX_WINDOW_SECS).unwrap(), Some(secs));
        }
        assert_eq!(format_span(5400), "1h30m");
    }

    #[test]
    fn limits_are_a_number_or_off() {
        assert_eq!(parse_limit("max_concurrent", "2").unwrap(), Some(2));
        assert_eq!(parse_limit("max_concurrent", "off").unwrap(), None);
        for bad in ["0", "-1", "two", "1001"] {
            assert_eq!(parse_limit("max_concurrent", bad).unwrap_err().field, "max_concurrent", "{bad:?}");
        }
    }

    #[test]
    fn an_apps_own_settings_win_over_its_groups() {
        let g = group(Some(2), Some(7200), Some(600));
        let s = Spread::new(None, None, Some(&g));
        assert_eq!((s.window_secs, s.jitter_secs, s.limit.clone()), (Some(7200), Some(600), Some(("db1".into(), 2))));
        let s = Spread::new(Some(3600), Some(60), Some(&g));
        assert_eq!((s.window_secs, s.jitter_secs), (Some(3600), Some(60)));
        assert_eq!(Spread::new(None, None, None), Spread::default());
        assert_eq!(Spread::new(None, None, Some(&group(None, None, None))).limit, None);
    }

    #[test]
    fn the_jitter_spreads_starts_within_half_the_window_the_same_everywhere() {
        let s = Spread { window_secs: Some(600), jitter_secs: Some(3600), limit: None };
        let fire = 1_765_000_000_000;
        let delays: Vec<Duration> = (1..=200).map(|id| s.delay(id, fire)).collect();
        assert!(delays.iter().all(|d| *d < Duration::from_secs(300)), "capped at half the window");
        assert_eq!(delays, (1..=200).map(|id| s.delay(id, fire)).collect::<Vec<_>>(), "deterministic");
        let minutes: std::collections::BTreeSet<u64> = delays.iter().map(|d| d.as_secs() / 60).collect();
        assert_eq!(minutes.len(), 5, "spread over every minute of the five: {minutes:?}");
        assert_ne!(s.delay(1, fire), s.delay(1, fire + 86_400_000), "another night, another place");
        assert_eq!(Spread::default().delay(1, fire), Duration::ZERO);
        assert_eq!(s.latest_start(fire), Some(fire + 600_000));
        assert_eq!(Spread::default().latest_start(fire), None);
    }
}
