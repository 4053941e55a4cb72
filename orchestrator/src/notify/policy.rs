//! Who hears what. Beyond its kind and where it goes, a channel says which events it hears
//! (failure, recovery, stale, drill, restore), which apps (one app, the apps carrying one of its
//! tags, or every app), whether it gets a daily or weekly summary and at which hour, and the
//! language and time zone it is told in.
//!
//! The failure policy itself lives in the notifier: a failure is told once per failing streak,
//! reminded every `NOTIFY_REMINDER_HOURS` while it lasts, and its end is told as a recovery.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::channel::FieldErrors;
use crate::catalogue::{Lang, Msg};

/// A summary of a channel's apps, sent at its hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Summary {
    /// None.
    #[default]
    Off,
    /// Every day.
    Daily,
    /// Every Monday.
    Weekly,
}

impl Summary {
    /// As stored, in forms and in the API ("" is off).
    pub fn as_str(self) -> &'static str {
        match self {
            Summary::Off => "",
            Summary::Daily => "daily",
            Summary::Weekly => "weekly",
        }
    }

    /// From a form, the API or the database; `None` for an unknown word.
    pub fn parse(text: &str) -> Option<Summary> {
        match text.trim() {
            "" | "none" | "off" => Some(Summary::Off),
            "daily" => Some(Summary::Daily),
            "weekly" => Some(Summary::Weekly),
            _ => None,
        }
    }

    /// How far back its figures reach (failures in the period).
    pub fn period_ms(self) -> i64 {
        match self {
            Summary::Weekly => 7 * 86_400_000,
            _ => 86_400_000,
        }
    }

    /// The period a summary made at `now` in `zone` is for, once its hour has come: the local
    /// day ("2026-12-07"), or the ISO week ("2026-W50") from its Monday; `None` before the hour
    /// (or on another weekday than Monday, for a weekly one).
    pub fn due_period(self, hour: u8, zone: &TimeZone, now: Timestamp) -> Option<String> {
        let local = now.to_zoned(zone.clone());
        if local.hour() < hour as i8 {
            return None;
        }
        match self {
            Summary::Off => None,
            Summary::Daily => Some(local.strftime("%Y-%m-%d").to_string()),
            Summary::Weekly if local.weekday() == jiff::civil::Weekday::Monday => {
                Some(local.strftime("%G-W%V").to_string())
            }
            Summary::Weekly => None,
        }
    }
}

/// A channel's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Told when a restore drill fails, cannot be made, or is overdue.
    pub on_drill: bool,
    /// Told when a restore starts, succeeds or fails.
    pub on_restore: bool,
    /// Its summary.
    pub summary: Summary,
    /// The hour the summary is sent at, in `time_zone`.
    pub summary_hour: u8,
    /// The language it is told in.
    pub language: Lang,
    /// The zone of its summary hour.
    pub time_zone: String,
    /// Only apps carrying one of these (empty: every app, or its one app).
    pub tags: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            on_drill: true,
            on_restore: false,
            summary: Summary::Off,
            summary_hour: 8,
            language: Lang::En,
            time_zone: "UTC".into(),
            tags: Vec::new(),
        }
    }
}

impl Policy {
    /// Whether an app carrying `app_tags` is one of its apps (its one app is checked apart).
    pub fn hears_tags(&self, app_tags: &[String]) -> bool {
        self.tags.is_empty() || self.tags.iter().any(|t| app_tags.contains(t))
    }

    /// The zone, as jiff knows it (UTC if it has gone from the system's database).
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }
}

/// The policy fields of a channel's form or API body, as typed.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput<'a> {
    /// Drill events (checkbox).
    pub on_drill: bool,
    /// Restore events (checkbox).
    pub on_restore: bool,
    /// "" | daily | weekly.
    pub summary: &'a str,
    /// 0 to 23.
    pub summary_hour: &'a str,
    /// en | es.
    pub language: &'a str,
    /// An IANA zone.
    pub time_zone: &'a str,
    /// Tags, separated by commas or spaces.
    pub tags: &'a str,
}

impl PolicyInput<'_> {
    /// Checks every field, adding what is wrong to `errors`.
    pub fn validate(&self, errors: &mut FieldErrors) -> Policy {
        let d = Policy::default();
        let summary = Summary::parse(self.summary).unwrap_or_else(|| {
            errors.insert("summary", Msg::new("channel_field.summary").with("text", self.summary.trim()));
            Summary::Off
        });
        let summary_hour = match self.summary_hour.trim() {
            "" => d.summary_hour,
            h => h.parse::<u8>().ok().filter(|h| *h < 24).unwrap_or_else(|| {
                errors.insert("summary_hour", Msg::new("channel_field.summary_hour").with("text", h));
                d.summary_hour
            }),
        };
        let language = match self.language.trim() {
            "" => Lang::En,
            code => match code {
                "en" | "es" => Lang::parse(code).unwrap_or(Lang::En),
                _ => {
                    errors.insert("language", Msg::new("channel_field.language").with("text", code));
                    Lang::En
                }
            },
        };
        let time_zone = match self.time_zone.trim() {
            "" => "UTC".to_owned(),
            zone if TimeZone::get(zone).is_ok() => zone.to_owned(),
            zone => {
                errors.insert("time_zone", Msg::new("channel_field.time_zone").with("text", zone));
                "UTC".to_owned()
            }
        };
        let tags = match crate::registry::labels::tags("tags", &[self.tags]) {
            Ok(tags) => tags,
            Err(broken) => {
                let list: Vec<Msg> = broken.into_iter().map(|e| e.msg).collect();
                errors.insert("tags", Msg::new("channel_field.tags").with_msgs("problems", list));
                Vec::new()
            }
        };
        Policy {
            on_drill: self.on_drill,
            on_restore: self.on_restore,
            summary,
            summary_hour,
            language,
            time_zone,
            tags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_due_from_its_hour_in_its_zone_once_per_period() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        // 07:30 UTC on Monday 2026-12-07 is 08:30 in Madrid.
        let now: Timestamp = "2026-12-07T07:30:00Z".parse().unwrap();
        assert_eq!(Summary::Daily.due_period(8, &madrid, now).as_deref(), Some("2026-12-07"));
        assert_eq!(Summary::Daily.due_period(9, &madrid, now), None);
        assert_eq!(Summary::Daily.due_period(8, &TimeZone::UTC, now), None);
        assert_eq!(Summary::Weekly.due_period(8, &madrid, now).as_deref(), Some("2026-W50"));
        let tuesday: Timestamp = "2026-12-08T09:00:00Z".parse().unwrap();
        assert_eq!(Summary::Weekly.due_period(8, &madrid, tuesday), None);
        assert_eq!(Summary::Off.due_period(0, &madrid, now), None);
    }

    #[test]
    fn bad_policy_fields_are_named() {
        let mut errors = FieldErrors::new();
        let input = PolicyInput {
            summary: "hourly",
            summary_hour: "24",
            language: "fr",
            time_zone: "Mars/Olympus",
            tags: "ok, Bad!",
            ..Default::default()
        };
        input.validate(&mut errors);
        let fields: Vec<&str> = errors.keys().copied().collect();
        assert_eq!(fields, ["language", "summary", "summary_hour", "tags", "time_zone"]);
    }

    #[test]
    fn tags_pick_apps() {
        let policy = Policy { tags: vec!["odoo".into()], ..Default::default() };
        assert!(policy.hears_tags(&["db".into(), "odoo".into()]));
        assert!(!policy.hears_tags(&["db".into()]));
        assert!(Policy::default().hears_tags(&[]));
    }
}
