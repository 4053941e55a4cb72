//! Integrity audits of `serve`: `AUDIT_SCHEDULE`, `AUDIT_SAMPLE_PERCENT`.

use super::Env;
use crate::schedule::cron::CronSchedule;

/// The default schedule: every Sunday at 04:30 UTC (after the night's backups).
pub const DEFAULT_SCHEDULE: &str = "30 4 * * 0";

/// When `serve` audits every app's copies, and how much it reads back.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// When (UTC); `None` when `AUDIT_SCHEDULE=off`.
    pub schedule: Option<CronSchedule>,
    /// The share of each app's copies read back whole at each scheduled audit, 0 to 100.
    pub sample_percent: u8,
    /// Days an app with a drill schedule may go without a passed drill; 0 = never told.
    pub drill_max_age_days: u32,
}

impl AuditSettings {
    /// Reads them; every bad value is reported.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let schedule = match env.get("AUDIT_SCHEDULE").as_deref().unwrap_or(DEFAULT_SCHEDULE) {
            "off" | "none" => None,
            expression => match CronSchedule::parse(expression, "UTC") {
                Ok(schedule) => Some(schedule),
                Err(e) => {
                    errors.push(format!(
                        "AUDIT_SCHEDULE={expression:?}: {e}; use a cron expression such as {DEFAULT_SCHEDULE:?} (UTC), or off"
                    ));
                    None
                }
            },
        };
        let sample_percent: u8 =
            env.number_in("AUDIT_SAMPLE_PERCENT", 0, (0, 100), "percent of each app's copies read back", &mut errors);
        let drill_max_age_days =
            env.number_in("DRILL_MAX_AGE_DAYS", 30, (0, 3650), "days (0: never tell)", &mut errors);
        if errors.is_empty() { Ok(AuditSettings { schedule, sample_percent, drill_max_age_days }) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_listings_only_by_default_and_bad_values_say_what_to_use() {
        let s = AuditSettings::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(s.schedule.as_ref().map(CronSchedule::expression), Some(DEFAULT_SCHEDULE));
        assert_eq!(s.sample_percent, 0);
        let s = AuditSettings::from_env(&Env::from_pairs([("AUDIT_SCHEDULE", "off"), ("AUDIT_SAMPLE_PERCENT", "10")]))
            .unwrap();
        assert!(s.schedule.is_none());
        assert_eq!(s.sample_percent, 10);
        let errors =
            AuditSettings::from_env(&Env::from_pairs([("AUDIT_SCHEDULE", "weekly"), ("AUDIT_SAMPLE_PERCENT", "150")]))
                .unwrap_err()
                .join("\n");
        assert!(errors.contains("AUDIT_SCHEDULE=\"weekly\"") && errors.contains("or off"), "{errors}");
        assert!(errors.contains("AUDIT_SAMPLE_PERCENT=150: use 0 to 100 percent"), "{errors}");
    }
}
