//! Cron as users write it, on top of the `cron` crate.
//!
//! Users type Unix cron: 5 fields (`0 3 * * 1` = Mondays at 03:00), day of week 0-7 with 0 and 7
//! for Sunday, and `@hourly`-style macros. They may add a leading seconds field (6 fields). The
//! `cron` crate wants seconds first, numbers days of the week 1 (Sunday) to 7, and ANDs day of
//! month with day of week where Unix cron ORs them when both are restricted (`0 3 1 * 1` = the
//! 1st AND every Monday): such an expression becomes the union of two schedules.
//!
//! Fire times are computed on the app's local clock, then placed in time: a local time that does
//! not exist (spring forward) fires at the transition, one that occurs twice (fall back) fires
//! once, at its first occurrence — as cronie does.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::catalogue::Msg;

/// A parsed schedule in a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    time_zone_name: String,
    parts: Vec<cron::Schedule>,
    tz: TimeZone,
}

/// Why a schedule cannot be used: a text of the catalogue, for a form field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub Msg);

impl CronError {
    /// True when the English text mentions `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.0.to_string().contains(text)
    }
}

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl CronSchedule {
    /// Parses `expression` for the IANA time zone `time_zone` (e.g. `Europe/Madrid`, `UTC`).
    /// The error says what is wrong, for a form field.
    pub fn parse(expression: &str, time_zone: &str) -> Result<Self, CronError> {
        let tz = TimeZone::get(time_zone.trim())
            .map_err(|_| CronError(Msg::new("field.time_zone.unknown").with("zone", time_zone)))?;
        let expression = expression.trim();
        let expanded = match expression.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with('@') => {
                return Err(CronError(Msg::new("cron.unknown_macro").with("expression", expression)));
            }
            _ => expression.to_owned(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            0 => {
                return Err(CronError(Msg::new("cron.empty")));
            }
            n => {
                return Err(CronError(Msg::new("cron.field_count").with("n", n)));
            }
        };
        let (minute, hour, dom, month, dow) = (rest[0], rest[1], rest[2], rest[3], rest[4]);
        // Each field against its range in the operator's terms, every problem at once (the
        // library would speak of its own six-field form, one problem at a time).
        let problems: Vec<Msg> = [
            (fields.len() == 6).then(|| check_field(&Field::SECONDS, seconds)),
            Some(check_field(&Field::MINUTES, minute)),
            Some(check_field(&Field::HOURS, hour)),
            Some(check_field(&Field::DAYS_OF_MONTH, dom)),
            Some(check_field(&Field::MONTHS, month)),
        ]
        .into_iter()
        .flatten()
        .filter_map(Result::err)
        .collect();
        if !problems.is_empty() {
            return Err(CronError(Msg::new("cron.fields").with_msgs("problems", problems)));
        }
        let days = day_of_week(dow)?;
        // Vixie cron: a field starting with '*' is unrestricted.
        let dom_restricted = !dom.starts_with('*');
        let dow_restricted = !dow.starts_with('*');
        let days = if dow == "*" || dow == "?" { "*".to_owned() } else { days };
        let variants: Vec<(String, String)> = if dom_restricted && dow_restricted {
            vec![(dom.to_owned(), "*".to_owned()), ("*".to_owned(), days)]
        } else {
            vec![(dom.to_owned(), days)]
        };
        let mut parts = Vec::new();
        for (dom, dow) in variants {
            let text = format!("{seconds} {minute} {hour} {dom} {month} {dow}");
            let schedule = cron::Schedule::from_str(&text)
                .map_err(|e| CronError(Msg::new("cron.invalid").with("expression", expression).with("detail", e)))?;
            parts.push(schedule);
        }
        let schedule =
            CronSchedule { expression: expression.to_owned(), time_zone_name: time_zone.trim().to_owned(), parts, tz };
        if schedule.next_after(Timestamp::now()).is_none() {
            return Err(CronError(Msg::new("cron.never").with("expression", expression)));
        }
        Ok(schedule)
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone's name as given.
    pub fn time_zone(&self) -> &str {
        &self.time_zone_name
    }

    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let local = after.to_zoned(self.tz.clone()).datetime();
        self.parts.iter().filter_map(|part| self.next_of(part, local, after)).min()
    }

    fn next_of(&self, part: &cron::Schedule, local: DateTime, after: Timestamp) -> Option<Timestamp> {
        let start = to_naive(local)?;
        for candidate in part.after(&start).take(1000) {
            let civil = from_naive(candidate.naive_utc())?;
            let instant = self.place(civil)?;
            if instant > after {
                return Some(instant);
            }
        }
        None
    }

    /// The instant a local time means: a skipped time fires at the transition, a repeated one at
    /// its first occurrence.
    fn place(&self, civil: DateTime) -> Option<Timestamp> {
        let ambiguous = self.tz.to_ambiguous_timestamp(civil);
        match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
                offset.to_timestamp(civil).ok()
            }
            AmbiguousOffset::Gap { after, .. } => {
                // With the offset in force after the gap, the time lands before the transition;
                // the next transition is the moment the skipped time "happens".
                let early = after.to_timestamp(civil).ok()?;
                self.tz.following(early).next().map(|t| t.timestamp())
            }
        }
    }

    /// The next `n` fires after `after`.
    pub fn upcoming(&self, after: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            match self.next_after(at) {
                Some(t) => {
                    out.push(t);
                    at = t;
                }
                None => break,
            }
        }
        out
    }
}

/// Translates a Unix day-of-week field (0-7, names, ranges, lists, steps) to the `cron` crate's
/// numbering (1 = Sunday .. 7 = Saturday), as an explicit list.
/// A cron field's range and names, as operators read them.
struct Field {
    /// The key of its name, singular ("hour").
    one: &'static str,
    /// The key of its plural ("hours").
    many: &'static str,
    min: u32,
    max: u32,
    /// Names accepted for its values, from `min` on (months: JAN..DEC).
    names: &'static [&'static str],
}

impl Field {
    const SECONDS: Field = Field { one: "cron.unit.second", many: "cron.units.second", min: 0, max: 59, names: &[] };
    const MINUTES: Field = Field { one: "cron.unit.minute", many: "cron.units.minute", min: 0, max: 59, names: &[] };
    const HOURS: Field = Field { one: "cron.unit.hour", many: "cron.units.hour", min: 0, max: 23, names: &[] };
    const DAYS_OF_MONTH: Field =
        Field { one: "cron.unit.day_of_month", many: "cron.units.day_of_month", min: 1, max: 31, names: &[] };
    const MONTHS: Field = Field {
        one: "cron.unit.month",
        many: "cron.units.month",
        min: 1,
        max: 12,
        names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    };
}

/// Checks one field (`*`, `?`, values, ranges, steps, lists) against its range: the first
/// problem, in words ("hours go from 0 to 23, not 24").
fn check_field(field: &Field, text: &str) -> Result<(), Msg> {
    let said = |key: &'static str| {
        Msg::new(key)
            .with_msg("unit", Msg::new(field.one))
            .with_msg("units", Msg::new(field.many))
            .with("min", field.min)
            .with("max", field.max)
    };
    let value = |v: &str| -> Result<u32, Msg> {
        let lower = v.to_ascii_lowercase();
        if let Some(i) = field.names.iter().position(|n| *n == lower) {
            return Ok(field.min + i as u32);
        }
        match v.parse::<u32>() {
            Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
            Ok(n) => Err(said("cron.out_of_range").with("n", n)),
            Err(_) => Err(said("cron.not_a").with("value", v)),
        }
    };
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n >= 1 => {}
                _ => {
                    return Err(said("cron.bad_step").with("step", step).with("item", item));
                }
            }
        }
        match base {
            "*" | "?" => {}
            "" => return Err(said("cron.empty_item").with("text", text)),
            _ => match base.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(said("cron.backwards").with("range", base));
                    }
                }
                None => {
                    value(base)?;
                }
            },
        }
    }
    Ok(())
}

fn day_of_week(field: &str) -> Result<String, CronError> {
    let bad = |why: Msg| CronError(Msg::new("cron.day_of_week").with("field", field).with_msg("why", why));
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<usize>().map_err(|_| bad(Msg::new("cron.dow.step_nan")))?),
            None => (item, 1),
        };
        if step == 0 {
            return Err(bad(Msg::new("cron.dow.step_zero")));
        }
        let day = |s: &str| -> Result<usize, CronError> {
            let s = s.trim().to_ascii_lowercase();
            if let Some(i) = DAY_NAMES.iter().position(|n| *n == s) {
                return Ok(i);
            }
            match s.parse::<usize>() {
                Ok(n) if n <= 7 => Ok(n),
                _ => Err(bad(Msg::new("cron.dow.not_day").with("value", &s))),
            }
        };
        let (from, to) = match range {
            "*" | "?" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => (day(a)?, day(b)?),
                None if step > 1 => (day(r)?, 6),
                None => (day(r)?, day(r)?),
            },
        };
        if from > to {
            return Err(bad(Msg::new("cron.dow.backwards").with("range", range)));
        }
        for d in (from..=to).step_by(step) {
            days[d % 7] = true;
        }
    }
    let list: Vec<String> = (0..7).filter(|d| days[*d]).map(|d| (d + 1).to_string()).collect();
    if list.is_empty() {
        return Err(bad(Msg::new("cron.dow.none")));
    }
    Ok(list.join(","))
}

fn to_naive(dt: DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    let date = chrono::NaiveDate::from_ymd_opt(dt.year().into(), dt.month() as u32, dt.day() as u32)?;
    let time = chrono::NaiveTime::from_hms_opt(dt.hour() as u32, dt.minute() as u32, dt.second() as u32)?;
    Some(chrono::DateTime::from_naive_utc_and_offset(date.and_time(time), chrono::Utc))
}

fn from_naive(n: chrono::NaiveDateTime) -> Option<DateTime> {
    use chrono::{Datelike, Timelike};
    DateTime::new(
        i16::try_from(n.year()).ok()?,
        n.month() as i8,
        n.day() as i8,
        n.hour() as i8,
        n.minute() as i8,
        n.second() as i8,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fires(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
        let schedule = CronSchedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let after: Timestamp = after.parse().unwrap();
        schedule.upcoming(after, n).into_iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn out_of_range_fields_are_named_once_in_the_operators_terms() {
        let e = CronSchedule::parse("0 24 * * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("hours go from 0 to 23, not 24;"), "{e}");
        let e = CronSchedule::parse("61 25 * * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("minutes go from 0 to 59, not 61; hours go from 0 to 23, not 25;"), "{e}");
        assert_eq!(e.matches("minutes go").count(), 1, "{e}");
        assert!(!e.contains("less than"), "no word of the library's own form: {e}");
        let e = CronSchedule::parse("0 3 0 * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("days of the month go from 1 to 31, not 0"), "{e}");
        let e = CronSchedule::parse("0 3 * 13 *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("months go from 1 to 12, not 13"), "{e}");
        let e = CronSchedule::parse("0 5-2 * * *", "UTC").unwrap_err().to_string();
        assert!(e.contains("the hour range 5-2 runs backwards"), "{e}");
        let e = CronSchedule::parse("*/0 3 * * *", "UTC").unwrap_err().to_string();
        assert!(e.contains("the step \"0\""), "{e}");
        let e = CronSchedule::parse("x 3 * * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("\"x\" is not a minute"), "{e}");
        for good in ["0 23 * * *", "59 0 31 12 *", "*/15 8-18 * JAN-mar 1-5", "0,30 1,13 1-7 */2 *", "30 0 3 * * *"] {
            CronSchedule::parse(good, "UTC").unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn unix_day_of_week_numbers_mean_what_users_expect() {
        // 2026-11-22 is a Sunday.
        assert_eq!(
            fires("0 3 * * 1", "UTC", "2026-11-22T00:00:00Z", 2),
            ["2026-11-23T03:00:00Z", "2026-11-30T03:00:00Z"]
        );
        assert_eq!(fires("0 3 * * 0", "UTC", "2026-11-22T04:00:00Z", 1), ["2026-11-29T03:00:00Z"]);
        assert_eq!(fires("0 3 * * 7", "UTC", "2026-11-22T04:00:00Z", 1), ["2026-11-29T03:00:00Z"]);
        assert_eq!(fires("0 3 * * sat", "UTC", "2026-11-22T00:00:00Z", 1), ["2026-11-28T03:00:00Z"]);
        assert_eq!(
            fires("30 8 * * 1-5", "UTC", "2026-11-27T09:00:00Z", 3),
            ["2026-11-30T08:30:00Z", "2026-12-01T08:30:00Z", "2026-12-02T08:30:00Z"]
        );
        assert_eq!(
            fires("0 0 * * 5-7", "UTC", "2026-11-23T00:00:00Z", 3),
            ["2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z"]
        );
        assert_eq!(
            fires("0 0 * * */2", "UTC", "2026-11-22T01:00:00Z", 3),
            ["2026-11-24T00:00:00Z", "2026-11-26T00:00:00Z", "2026-11-28T00:00:00Z"]
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_are_ored_like_unix_cron() {
        // The 1st of the month OR any Monday.
        assert_eq!(
            fires("0 3 1 * 1", "UTC", "2026-11-24T00:00:00Z", 3),
            ["2026-11-30T03:00:00Z", "2026-12-01T03:00:00Z", "2026-12-07T03:00:00Z"]
        );
        // Every 10th day from the 1st: 1, 11, 21, 31.
        assert_eq!(
            fires("0 3 */10 * *", "UTC", "2026-11-22T00:00:00Z", 2),
            ["2026-12-01T03:00:00Z", "2026-12-11T03:00:00Z"]
        );
        // A field starting with '*' is unrestricted, so Vixie cron ANDs: those days that are Mondays.
        assert_eq!(fires("0 3 */10 * 1", "UTC", "2026-11-22T00:00:00Z", 1), ["2026-12-21T03:00:00Z"]);
    }

    #[test]
    fn steps_lists_and_month_ends() {
        assert_eq!(
            fires("*/15 * * * *", "UTC", "2026-11-22T10:07:00Z", 3),
            ["2026-11-22T10:15:00Z", "2026-11-22T10:30:00Z", "2026-11-22T10:45:00Z"]
        );
        assert_eq!(
            fires("0 9,17 * * *", "UTC", "2026-11-22T10:00:00Z", 2),
            ["2026-11-22T17:00:00Z", "2026-11-23T09:00:00Z"]
        );
        // The 31st skips months without one.
        assert_eq!(
            fires("0 0 31 * *", "UTC", "2026-11-01T00:00:00Z", 2),
            ["2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"]
        );
        assert_eq!(fires("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", 1), ["2028-02-29T00:00:00Z"]);
    }

    #[test]
    fn macros_and_seconds() {
        assert_eq!(fires("@daily", "UTC", "2026-11-22T10:00:00Z", 1), ["2026-11-23T00:00:00Z"]);
        assert_eq!(fires("@hourly", "UTC", "2026-11-22T10:00:00Z", 1), ["2026-11-22T11:00:00Z"]);
        assert_eq!(fires("@weekly", "UTC", "2026-11-22T10:00:00Z", 1), ["2026-11-29T00:00:00Z"]);
        assert_eq!(fires("@monthly", "UTC", "2026-11-22T10:00:00Z", 1), ["2026-12-01T00:00:00Z"]);
        assert_eq!(fires("@yearly", "UTC", "2026-11-22T10:00:00Z", 1), ["2027-01-01T00:00:00Z"]);
        assert_eq!(
            fires("*/10 * * * * *", "UTC", "2026-11-22T10:00:05Z", 3),
            ["2026-11-22T10:00:10Z", "2026-11-22T10:00:20Z", "2026-11-22T10:00:30Z"]
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        // Madrid is UTC+1 in winter, UTC+2 in summer.
        assert_eq!(fires("0 3 * * *", "Europe/Madrid", "2026-11-22T00:00:00Z", 1), ["2026-11-22T02:00:00Z"]);
        assert_eq!(fires("0 3 * * *", "Europe/Madrid", "2026-07-01T00:00:00Z", 1), ["2026-07-01T01:00:00Z"]);
        // Spring forward, 2026-03-29 in Madrid: 02:00 -> 03:00, so 02:30 does not exist and fires
        // at the transition (01:00Z).
        assert_eq!(
            fires("30 2 * * *", "Europe/Madrid", "2026-03-28T12:00:00Z", 3),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]
        );
        // Fall back, 2026-10-25 in Madrid: 03:00 -> 02:00, so 02:30 happens twice and fires once.
        assert_eq!(
            fires("30 2 * * *", "Europe/Madrid", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        // Every 30 minutes through the repeated hour: the repeated times fire once.
        let night = fires("*/30 * * * *", "Europe/Madrid", "2026-10-24T23:45:00Z", 4);
        assert_eq!(
            night,
            ["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"]
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let err = |e: &str, tz: &str| CronSchedule::parse(e, tz).unwrap_err();
        assert!(err("", "UTC").contains("empty"));
        assert!(err("0 3 * *", "UTC").contains("4 fields"));
        assert!(err("0 3 * * 8", "UTC").contains("day of week"));
        assert!(err("0 25 * * *", "UTC").contains("hours go from 0 to 23, not 25"));
        assert!(err("@often", "UTC").contains("unknown macro"));
        assert!(err("0 3 * * *", "Mars/Olympus").contains("unknown time zone"));
        assert!(err("0 0 30 2 *", "UTC").contains("never fires"));
        assert!(err("0 3 * * 5-1", "UTC").contains("backwards"));
    }
}
