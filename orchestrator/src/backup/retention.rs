//! Retention: which stored copies of one app's backups to delete once a new backup is verified.
//!
//! This module owns the decision only. [`plan`] is a pure function of the listed copies, the
//! [`Policy`], the current time and a time zone; it performs no IO and reads no clock, so the
//! [`Plan`] it returns doubles as the dry run the CLI previews. Deleting is the caller's job.
//!
//! The semantics follow restic's `forget`: every rule votes independently and a copy survives if
//! ANY rule keeps it. Whatever the policy, the plan must never:
//! - delete a file that is not ours (its appProperties do not name this app) — it may be a
//!   user's file or another app's backup sharing the folder;
//! - delete a copy whose checksum was not verified — it may be an upload still in progress, and
//!   cleaning failed uploads belongs to whoever owns uploads, not to retention;
//! - delete the newest verified copy of ours — a bad policy must not leave an app with no backup;
//! - delete a pinned copy — an operator said to keep it; it does not use a slot of any rule either;
//! - delete an adopted copy (a file we did not write, made the app's by an operator) unless the
//!   operator asked for it to count — until then it uses no slot either;
//! - count or delete a damaged copy (its size or checksum is not what was stored, as a listing or
//!   an audit found): it is kept for the operator to look at and uses no slot, so the app keeps
//!   one more good copy. A lost copy is not listed at all, so it uses no slot either: retention
//!   never deletes a good copy because another went bad.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::catalogue::Msg;

/// Values above this are almost certainly typos (e.g. a duration pasted into a count).
const ABSURD: u32 = 10_000;

/// How many copies to keep. Every rule keeps copies on its own; a copy is kept if any rule keeps
/// it. `keep_last` is at least 1 (see [`Policy::problems`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// Keep the N newest copies.
    pub keep_last: u32,
    /// Keep the newest copy of each of the last N calendar days that have copies.
    pub keep_daily: u32,
    /// Keep the newest copy of each of the last N ISO weeks that have copies.
    pub keep_weekly: u32,
    /// Keep the newest copy of each of the last N calendar months that have copies.
    pub keep_monthly: u32,
    /// Keep every copy created in the last D days (24-hour days before `now`); 0 disables.
    pub keep_within_days: u32,
}

impl Policy {
    /// Keep only the `n` newest copies.
    pub const fn keep_last(n: u32) -> Policy {
        Policy { keep_last: n, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_within_days: 0 }
    }

    /// What is wrong with this policy, one message per problem; empty when it is usable.
    pub fn problems(&self) -> Vec<(&'static str, Msg)> {
        let mut problems = Vec::new();
        if self.keep_last == 0 {
            problems.push(("keep_last", Msg::new("retention.keep_last_zero")));
        }
        let counts = [
            ("keep_last", "retention.name.keep_last", self.keep_last),
            ("keep_daily", "retention.name.keep_daily", self.keep_daily),
            ("keep_weekly", "retention.name.keep_weekly", self.keep_weekly),
            ("keep_monthly", "retention.name.keep_monthly", self.keep_monthly),
            ("keep_within_days", "retention.name.keep_within_days", self.keep_within_days),
        ];
        for (field, name, value) in counts {
            if value > ABSURD {
                problems.push((
                    field,
                    Msg::new("retention.too_big")
                        .with_msg("name", Msg::new(name))
                        .with("max", ABSURD)
                        .with("value", value),
                ));
            }
        }
        problems
    }
}

/// A file found in the app's destination folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// The storage's id of the file.
    pub id: String,
    /// When the backup was taken.
    pub created: Timestamp,
    /// Its appProperties say it belongs to this app.
    pub ours: bool,
    /// Its checksum was verified after upload.
    pub verified: bool,
    /// An operator pinned it: never deleted, never counted by the rules.
    pub pinned: bool,
    /// Adopted from a file we did not write, without asking for it to count: never deleted,
    /// never counted by the rules (an adopted copy that counts is an ordinary copy here).
    pub adopted: bool,
    /// Found damaged (see [`crate::backup::inventory`]): never deleted, never counted.
    pub damaged: bool,
}

/// Why a copy is kept. The order is the order reasons are listed in a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Among the `keep_last` newest.
    Last,
    /// Newest of one of the `keep_daily` most recent days.
    Daily,
    /// Newest of one of the `keep_weekly` most recent ISO weeks.
    Weekly,
    /// Newest of one of the `keep_monthly` most recent months.
    Monthly,
    /// Created within `keep_within_days` of now.
    Within,
    /// The newest verified copy of ours, kept whatever the policy.
    Newest,
    /// Not this app's file: retention never touches it.
    NotOurs,
    /// Not verified (failed or in-progress upload): not retention's to delete.
    Unverified,
    /// Dated after now (clock skew): kept until time catches up.
    Future,
    /// Pinned by an operator: kept outside the rules.
    Pinned,
    /// Adopted, not counted: kept outside the rules.
    Adopted,
    /// Damaged: kept for the operator, outside the rules.
    Damaged,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Last => "last",
            Reason::Daily => "daily",
            Reason::Weekly => "weekly",
            Reason::Monthly => "monthly",
            Reason::Within => "within",
            Reason::Newest => "newest",
            Reason::NotOurs => "not ours",
            Reason::Unverified => "unverified",
            Reason::Future => "future",
            Reason::Pinned => "pinned",
            Reason::Adopted => "adopted",
            Reason::Damaged => "damaged",
        })
    }
}

/// The outcome of [`plan`]: every listed copy lands in exactly one of the two lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Ids to keep, newest first, each with every reason that keeps it (in [`Reason`] order).
    pub keep: Vec<(String, Vec<Reason>)>,
    /// Ids to delete, newest first.
    pub delete: Vec<String>,
}

impl fmt::Display for Plan {
    /// One line per copy, for CLI previews: `keep <id> (last, daily)` or `delete <id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, reasons) in &self.keep {
            write!(f, "keep {id} (")?;
            for (i, reason) in reasons.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{reason}")?;
            }
            writeln!(f, ")")?;
        }
        for id in &self.delete {
            writeln!(f, "delete {id}")?;
        }
        Ok(())
    }
}

/// Decides which of one app's `copies` to keep and which to delete under `policy`, with calendar
/// buckets (days, ISO weeks, months) taken in `tz`. Pure: `now` is the only notion of time.
pub fn plan(copies: &[Copy], policy: &Policy, now: Timestamp, tz: &TimeZone) -> Plan {
    // Newest first, ties broken by id, so the plan does not depend on the listing's order.
    let mut order: Vec<&Copy> = copies.iter().collect();
    order.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));

    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); order.len()];
    // Indexes into `order` of the copies the rules count, and the only ones that may be deleted.
    let mut counted: Vec<usize> = Vec::new();
    for (i, copy) in order.iter().enumerate() {
        if !copy.ours {
            reasons[i].push(Reason::NotOurs);
        } else if copy.pinned {
            // Outside the rules: a pinned copy must not push an unpinned one out of keep_last.
            reasons[i].push(Reason::Pinned);
        } else if copy.damaged {
            // A bad copy must not push a good one out: the app keeps one more good copy.
            reasons[i].push(Reason::Damaged);
        } else if copy.adopted {
            // Years of copies made by a script must not push the app's own copies out.
            reasons[i].push(Reason::Adopted);
        } else if !copy.verified {
            reasons[i].push(Reason::Unverified);
        } else if copy.created > now {
            // Counting it would let a skewed clock push real copies out of keep_last.
            reasons[i].push(Reason::Future);
        } else {
            counted.push(i);
        }
    }

    for &i in counted.iter().take(as_count(policy.keep_last)) {
        reasons[i].push(Reason::Last);
    }

    let local: Vec<DateTime> = order.iter().map(|copy| tz.to_datetime(copy.created)).collect();
    let buckets = Buckets { counted: &counted, local: &local };
    buckets.keep_newest_of_each(policy.keep_daily, Reason::Daily, &mut reasons, |dt| dt.date());
    buckets.keep_newest_of_each(policy.keep_weekly, Reason::Weekly, &mut reasons, |dt| {
        // The ISO year, not the calendar year: 2024-12-31 belongs to week 1 of 2025.
        let week = dt.date().iso_week_date();
        (week.year(), week.week())
    });
    buckets.keep_newest_of_each(policy.keep_monthly, Reason::Monthly, &mut reasons, |dt| (dt.year(), dt.month()));

    if policy.keep_within_days > 0 {
        // A fixed span of 24-hour days: a DST change must not widen or narrow the window.
        let span = SignedDuration::from_hours(i64::from(policy.keep_within_days) * 24);
        let cutoff = now.checked_sub(span).unwrap_or(Timestamp::MIN);
        for &i in counted.iter().filter(|&&i| order[i].created >= cutoff) {
            reasons[i].push(Reason::Within);
        }
    }

    // Holds even for a policy that failed validation (keep_last 0): an app always keeps a backup.
    if let Some(&newest) = counted.first() {
        reasons[newest].push(Reason::Newest);
    }

    let mut plan = Plan::default();
    for (copy, reasons) in order.iter().zip(reasons) {
        if reasons.is_empty() {
            plan.delete.push(copy.id.clone());
        } else {
            plan.keep.push((copy.id.clone(), reasons));
        }
    }
    // Storage ids should be unique, but if a listing ever repeats one, deleting "the old copy"
    // would delete the kept one too: keeping wins.
    let kept: HashSet<&str> = plan.keep.iter().map(|(id, _)| id.as_str()).collect();
    plan.delete.retain(|id| !kept.contains(id.as_str()));
    plan
}

/// The counted copies with their local date-times, shared by the calendar rules.
struct Buckets<'a> {
    counted: &'a [usize],
    local: &'a [DateTime],
}

impl Buckets<'_> {
    /// Keeps the newest counted copy of each bucket until `n` buckets have been kept. Only
    /// buckets with copies are consumed, as in restic: a week without backups does not use up
    /// one of the `keep_daily` days.
    fn keep_newest_of_each<K: Ord>(
        &self,
        n: u32,
        reason: Reason,
        reasons: &mut [Vec<Reason>],
        bucket: impl Fn(DateTime) -> K,
    ) {
        let n = as_count(n);
        // A set rather than "differs from the previous copy's bucket": where a time zone moves
        // clocks back across midnight, local dates are not monotonic in time.
        let mut seen = BTreeSet::new();
        for &i in self.counted {
            if seen.len() == n {
                break;
            }
            if seen.insert(bucket(self.local[i])) {
                reasons[i].push(reason);
            }
        }
    }
}

fn as_count(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(id, created as RFC 3339, ours, verified)`.
    type Row = (&'static str, &'static str, bool, bool);

    fn ours(id: &'static str, at: &'static str) -> Row {
        (id, at, true, true)
    }

    fn foreign(id: &'static str, at: &'static str) -> Row {
        (id, at, false, true)
    }

    fn unverified(id: &'static str, at: &'static str) -> Row {
        (id, at, true, false)
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("bad timestamp {s}: {e}"))
    }

    fn copies(rows: &[Row]) -> Vec<Copy> {
        rows.iter()
            .map(|&(id, at, ours, verified)| Copy {
                id: id.to_owned(),
                created: ts(at),
                ours,
                verified,
                pinned: false,
                adopted: false,
                damaged: false,
            })
            .collect()
    }

    fn zone(name: &str) -> TimeZone {
        if name == "UTC" {
            return TimeZone::UTC;
        }
        // Needs the system tz database. Mexico City has had no DST since 2022, so without the
        // database a fixed UTC-6 offset gives the same answers for the dates used here.
        TimeZone::get(name).unwrap_or_else(|_| {
            assert_eq!(name, "America/Mexico_City", "no tz database and no fallback for {name}");
            TimeZone::fixed(jiff::tz::offset(-6))
        })
    }

    fn policy(last: u32, daily: u32, weekly: u32, monthly: u32, within_days: u32) -> Policy {
        Policy {
            keep_last: last,
            keep_daily: daily,
            keep_weekly: weekly,
            keep_monthly: monthly,
            keep_within_days: within_days,
        }
    }

    struct Case {
        name: &'static str,
        copies: Vec<Row>,
        policy: Policy,
        now: &'static str,
        tz: &'static str,
        expect_delete: Vec<&'static str>,
    }

    fn five_daily() -> Vec<Row> {
        vec![
            ours("a", "2024-05-01T10:00:00Z"),
            ours("b", "2024-05-02T10:00:00Z"),
            ours("c", "2024-05-03T10:00:00Z"),
            ours("d", "2024-05-04T10:00:00Z"),
            ours("e", "2024-05-05T10:00:00Z"),
        ]
    }

    fn within_window() -> Vec<Row> {
        vec![
            ours("jun10", "2024-06-10T01:00:00Z"),
            ours("jun09", "2024-06-09T12:00:00Z"),
            ours("jun08", "2024-06-08T12:00:00Z"),
            ours("edge", "2024-06-07T12:00:00Z"),
            ours("edge-1s", "2024-06-07T11:59:59Z"),
            ours("jun01", "2024-06-01T12:00:00Z"),
        ]
    }

    fn across_local_midnight() -> Vec<Row> {
        vec![
            // 23:30 on March 9 in Mexico City, already March 10 in UTC.
            ours("mx-mar09-2330", "2024-03-10T05:30:00Z"),
            ours("mx-mar09-1200", "2024-03-09T18:00:00Z"),
            ours("mx-mar08-1200", "2024-03-08T18:00:00Z"),
        ]
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                name: "keep last 3 of 5 deletes the two oldest",
                copies: five_daily(),
                policy: Policy::keep_last(3),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["b", "a"],
            },
            Case {
                name: "keep last larger than the count deletes nothing",
                copies: five_daily(),
                policy: Policy::keep_last(10),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec![],
            },
            Case {
                name: "keep last 1 deletes all but the newest",
                copies: five_daily(),
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["d", "c", "b", "a"],
            },
            Case {
                name: "foreign files are never deleted and never counted",
                copies: [
                    five_daily(),
                    vec![
                        foreign("x-newest", "2024-05-06T09:00:00Z"),
                        foreign("y-middle", "2024-05-03T11:00:00Z"),
                        foreign("z-oldest", "2024-04-01T00:00:00Z"),
                    ],
                ]
                .concat(),
                policy: Policy::keep_last(2),
                now: "2024-05-07T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["c", "b", "a"],
            },
            Case {
                name: "unverified copies are never deleted and never counted",
                copies: vec![
                    unverified("u-newest", "2024-05-05T10:00:00Z"),
                    ours("d", "2024-05-04T10:00:00Z"),
                    ours("c", "2024-05-03T10:00:00Z"),
                    ours("b", "2024-05-02T10:00:00Z"),
                    ours("a", "2024-05-01T10:00:00Z"),
                    unverified("v-oldest", "2024-04-30T10:00:00Z"),
                ],
                policy: Policy::keep_last(2),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["b", "a"],
            },
            Case {
                name: "two copies in the same second are ordered by id descending",
                copies: vec![ours("a", "2024-05-01T10:00:00Z"), ours("b", "2024-05-01T10:00:00Z")],
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["a"],
            },
            Case {
                name: "three copies in the same second keep the highest ids",
                copies: vec![
                    ours("b", "2024-05-01T10:00:00Z"),
                    ours("c", "2024-05-01T10:00:00Z"),
                    ours("a", "2024-05-01T10:00:00Z"),
                    ours("z-older", "2024-05-01T09:59:59Z"),
                ],
                policy: Policy::keep_last(2),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["a", "z-older"],
            },
            Case {
                name: "a copy dated exactly now is counted, not treated as future",
                copies: vec![ours("now", "2024-05-06T00:00:00Z"), ours("before", "2024-05-05T00:00:00Z")],
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["before"],
            },
            Case {
                name: "keep daily keeps the newest copy of each day",
                copies: vec![
                    ours("d1-08", "2024-06-01T08:00:00Z"),
                    ours("d1-12", "2024-06-01T12:00:00Z"),
                    ours("d1-18", "2024-06-01T18:00:00Z"),
                    ours("d2-09", "2024-06-02T09:00:00Z"),
                    ours("d2-21", "2024-06-02T21:00:00Z"),
                    ours("d3-07", "2024-06-03T07:00:00Z"),
                ],
                policy: policy(1, 3, 0, 0, 0),
                now: "2024-06-04T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["d2-09", "d1-12", "d1-08"],
            },
            Case {
                name: "keep daily skips days without copies",
                copies: vec![
                    ours("jun10-late", "2024-06-10T20:00:00Z"),
                    ours("jun10-early", "2024-06-10T02:00:00Z"),
                    ours("jun07", "2024-06-07T02:00:00Z"),
                    ours("jun03", "2024-06-03T02:00:00Z"),
                    ours("may20", "2024-05-20T02:00:00Z"),
                ],
                policy: policy(1, 3, 0, 0, 0),
                now: "2024-06-11T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["jun10-early", "may20"],
            },
            Case {
                name: "keep daily larger than the number of days keeps one copy per day",
                copies: vec![
                    ours("d2-late", "2024-06-02T20:00:00Z"),
                    ours("d2-early", "2024-06-02T02:00:00Z"),
                    ours("d1-late", "2024-06-01T20:00:00Z"),
                    ours("d1-early", "2024-06-01T02:00:00Z"),
                ],
                policy: policy(1, 30, 0, 0, 0),
                now: "2024-06-03T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["d2-early", "d1-early"],
            },
            Case {
                name: "unverified copies do not use up daily buckets",
                copies: vec![
                    unverified("jun04-failed", "2024-06-04T02:00:00Z"),
                    ours("jun03", "2024-06-03T02:00:00Z"),
                    ours("jun02", "2024-06-02T02:00:00Z"),
                    ours("jun01", "2024-06-01T02:00:00Z"),
                ],
                policy: policy(1, 2, 0, 0, 0),
                now: "2024-06-05T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["jun01"],
            },
            Case {
                name: "keep weekly keeps the newest copy of each ISO week",
                copies: vec![
                    ours("w23-sun", "2024-06-09T12:00:00Z"),
                    ours("w23-mon", "2024-06-03T12:00:00Z"),
                    ours("w22-sun", "2024-06-02T12:00:00Z"),
                    ours("w22-wed", "2024-05-29T12:00:00Z"),
                    ours("w21-fri", "2024-05-24T12:00:00Z"),
                ],
                policy: policy(1, 0, 2, 0, 0),
                now: "2024-06-10T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["w23-mon", "w22-wed", "w21-fri"],
            },
            Case {
                name: "keep weekly treats the days of ISO week 53 of 2020 as one week across new year",
                copies: vec![
                    ours("2021-01-10-w01", "2021-01-10T12:00:00Z"),
                    ours("2021-01-04-w01", "2021-01-04T12:00:00Z"),
                    ours("2021-01-03-w53", "2021-01-03T12:00:00Z"),
                    ours("2020-12-31-w53", "2020-12-31T12:00:00Z"),
                    ours("2020-12-27-w52", "2020-12-27T12:00:00Z"),
                ],
                policy: policy(1, 0, 3, 0, 0),
                now: "2021-01-11T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["2021-01-04-w01", "2020-12-31-w53"],
            },
            Case {
                name: "keep weekly puts 2024-12-31 in ISO week 1 of 2025",
                copies: vec![
                    ours("2025-01-02-w01", "2025-01-02T12:00:00Z"),
                    ours("2024-12-31-w01", "2024-12-31T12:00:00Z"),
                    ours("2024-12-29-w52", "2024-12-29T12:00:00Z"),
                ],
                policy: policy(1, 0, 2, 0, 0),
                now: "2025-01-03T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["2024-12-31-w01"],
            },
            Case {
                name: "keep monthly keeps the newest copy of each month",
                copies: vec![
                    ours("mar31", "2024-03-31T12:00:00Z"),
                    ours("mar15", "2024-03-15T12:00:00Z"),
                    ours("mar01", "2024-03-01T12:00:00Z"),
                    ours("feb29", "2024-02-29T12:00:00Z"),
                    ours("feb10", "2024-02-10T12:00:00Z"),
                    ours("jan31", "2024-01-31T12:00:00Z"),
                    ours("dec31", "2023-12-31T12:00:00Z"),
                ],
                policy: policy(1, 0, 0, 3, 0),
                now: "2024-04-01T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["mar15", "mar01", "feb10", "dec31"],
            },
            Case {
                name: "keep monthly tells a December from the next January",
                copies: vec![
                    ours("2024-01-05", "2024-01-05T12:00:00Z"),
                    ours("2024-01-02", "2024-01-02T12:00:00Z"),
                    ours("2023-12-30", "2023-12-30T12:00:00Z"),
                    ours("2023-12-01", "2023-12-01T12:00:00Z"),
                    ours("2023-11-30", "2023-11-30T12:00:00Z"),
                ],
                policy: policy(1, 0, 0, 2, 0),
                now: "2024-01-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["2024-01-02", "2023-12-01", "2023-11-30"],
            },
            Case {
                name: "rules combine so a copy kept by any rule stays",
                copies: vec![
                    ours("mar20", "2024-03-20T12:00:00Z"),
                    ours("mar19", "2024-03-19T12:00:00Z"),
                    ours("mar18", "2024-03-18T12:00:00Z"),
                    ours("feb28", "2024-02-28T12:00:00Z"),
                    ours("feb01", "2024-02-01T12:00:00Z"),
                    ours("jan31", "2024-01-31T12:00:00Z"),
                ],
                policy: policy(2, 0, 0, 3, 0),
                now: "2024-03-21T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["mar18", "feb01"],
            },
            Case {
                name: "keep within days keeps copies at or after the cutoff",
                copies: within_window(),
                policy: policy(1, 0, 0, 0, 3),
                now: "2024-06-10T12:00:00Z",
                tz: "UTC",
                expect_delete: vec!["edge-1s", "jun01"],
            },
            Case {
                name: "keep within zero days is disabled",
                copies: within_window(),
                policy: policy(2, 0, 0, 0, 0),
                now: "2024-06-10T12:00:00Z",
                tz: "UTC",
                expect_delete: vec!["jun08", "edge", "edge-1s", "jun01"],
            },
            Case {
                name: "every copy older than the window is deleted except the newest",
                copies: vec![
                    ours("30d", "2024-05-11T12:00:00Z"),
                    ours("31d", "2024-05-10T12:00:00Z"),
                    ours("32d", "2024-05-09T12:00:00Z"),
                    ours("33d", "2024-05-08T12:00:00Z"),
                ],
                policy: policy(1, 0, 0, 0, 7),
                now: "2024-06-10T12:00:00Z",
                tz: "UTC",
                expect_delete: vec!["31d", "32d", "33d"],
            },
            Case {
                name: "days are bucketed in the configured time zone, not in UTC",
                copies: across_local_midnight(),
                policy: policy(1, 2, 0, 0, 0),
                now: "2024-03-11T00:00:00Z",
                tz: "America/Mexico_City",
                expect_delete: vec!["mx-mar09-1200"],
            },
            Case {
                name: "the same copies bucketed in UTC fall on different days",
                copies: across_local_midnight(),
                policy: policy(1, 2, 0, 0, 0),
                now: "2024-03-11T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["mx-mar08-1200"],
            },
            Case {
                name: "future dated copies are kept and not counted",
                copies: [five_daily(), vec![ours("f-future", "2024-05-10T00:00:00Z")]].concat(),
                policy: Policy::keep_last(2),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["c", "b", "a"],
            },
            Case {
                name: "a foreign copy dated in the future is kept",
                copies: vec![foreign("x-future", "2030-01-01T00:00:00Z"), ours("a", "2024-05-01T00:00:00Z")],
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec![],
            },
            Case {
                name: "no copies plan nothing",
                copies: vec![],
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec![],
            },
            Case {
                name: "only foreign copies delete nothing",
                copies: vec![
                    foreign("x", "2024-05-01T00:00:00Z"),
                    foreign("y", "2024-04-01T00:00:00Z"),
                    foreign("z", "2024-03-01T00:00:00Z"),
                ],
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec![],
            },
            Case {
                name: "only unverified copies delete nothing",
                copies: vec![unverified("u1", "2024-05-01T00:00:00Z"), unverified("u2", "2024-04-01T00:00:00Z")],
                policy: Policy::keep_last(1),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec![],
            },
            Case {
                name: "the only counted copy is kept even when the policy would keep nothing",
                copies: vec![
                    unverified("u-newer", "2024-06-09T00:00:00Z"),
                    foreign("x-newer", "2024-06-08T00:00:00Z"),
                    ours("old", "2024-01-01T00:00:00Z"),
                ],
                policy: policy(0, 0, 0, 0, 7),
                now: "2024-06-10T00:00:00Z",
                tz: "UTC",
                expect_delete: vec![],
            },
            Case {
                name: "the newest counted copy is kept even with an invalid keep last of zero",
                copies: vec![
                    unverified("u-newest", "2024-05-05T00:00:00Z"),
                    ours("b", "2024-05-02T00:00:00Z"),
                    ours("a", "2024-05-01T00:00:00Z"),
                ],
                policy: policy(0, 0, 0, 0, 0),
                now: "2024-05-06T00:00:00Z",
                tz: "UTC",
                expect_delete: vec!["a"],
            },
        ]
    }

    /// What must hold for any input, checked on every case on top of its expected deletions.
    fn invariant_violations(copies: &[Copy], plan: &Plan, now: Timestamp) -> Vec<String> {
        let mut problems = Vec::new();
        let mut listed: Vec<&str> =
            plan.keep.iter().map(|(id, _)| id.as_str()).chain(plan.delete.iter().map(String::as_str)).collect();
        listed.sort_unstable();
        let mut given: Vec<&str> = copies.iter().map(|c| c.id.as_str()).collect();
        given.sort_unstable();
        if listed != given {
            problems.push(format!("copies not listed exactly once: {listed:?} vs {given:?}"));
        }
        for copy in copies.iter().filter(|c| plan.delete.contains(&c.id)) {
            if !copy.ours || !copy.verified || copy.created > now {
                problems.push(format!("deletes {} which is not a counted copy", copy.id));
            }
        }
        let newest = copies
            .iter()
            .filter(|c| c.ours && c.verified && c.created <= now)
            .max_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        if let Some(newest) = newest
            && plan.delete.contains(&newest.id)
        {
            problems.push(format!("deletes the newest copy {}", newest.id));
        }
        problems
    }

    #[test]
    fn table_of_cases_deletes_exactly_what_is_expected() {
        let cases = cases();
        assert!(cases.len() >= 24, "only {} cases", cases.len());
        let mut failures = Vec::new();
        for case in &cases {
            let list = copies(&case.copies);
            let now = ts(case.now);
            let got = plan(&list, &case.policy, now, &zone(case.tz));
            if got.delete != case.expect_delete {
                failures
                    .push(format!("{}: deleted {:?}, expected {:?}\n{got}", case.name, got.delete, case.expect_delete));
            }
            for problem in invariant_violations(&list, &got, now) {
                failures.push(format!("{}: {problem}", case.name));
            }
            let mut reversed = list.clone();
            reversed.reverse();
            if plan(&reversed, &case.policy, now, &zone(case.tz)) != got {
                failures.push(format!("{}: reversing the input changes the plan", case.name));
            }
        }
        assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    }

    /// One backup a day at 02:00 UTC from 2024-01-01 (a Monday) to 2024-07-18 (a Thursday).
    fn two_hundred_daily_backups() -> Vec<Copy> {
        let first = jiff::civil::date(2024, 1, 1);
        (0..200)
            .map(|day| {
                let date = first + jiff::Span::new().days(day);
                Copy {
                    id: date.to_string(),
                    created: date.at(2, 0, 0, 0).to_zoned(TimeZone::UTC).unwrap().timestamp(),
                    ours: true,
                    verified: true,
                    pinned: false,
                    adopted: false,
                    damaged: false,
                }
            })
            .collect()
    }

    #[test]
    fn grandfather_father_son_over_200_days_keeps_exactly_the_expected_set() {
        let list = two_hundred_daily_backups();
        assert_eq!(list.last().map(|c| c.id.as_str()), Some("2024-07-18"));
        let plan = plan(&list, &policy(2, 7, 4, 6, 0), ts("2024-07-18T12:00:00Z"), &TimeZone::UTC);
        use Reason::*;
        let expected: Vec<(&str, Vec<Reason>)> = vec![
            ("2024-07-18", vec![Last, Daily, Weekly, Monthly, Newest]),
            ("2024-07-17", vec![Last, Daily]),
            ("2024-07-16", vec![Daily]),
            ("2024-07-15", vec![Daily]),
            // Sunday: the newest copy of ISO week 28.
            ("2024-07-14", vec![Daily, Weekly]),
            ("2024-07-13", vec![Daily]),
            ("2024-07-12", vec![Daily]),
            ("2024-07-07", vec![Weekly]),
            ("2024-06-30", vec![Weekly, Monthly]),
            ("2024-05-31", vec![Monthly]),
            ("2024-04-30", vec![Monthly]),
            ("2024-03-31", vec![Monthly]),
            // 2024 is a leap year.
            ("2024-02-29", vec![Monthly]),
        ];
        let kept: Vec<(&str, Vec<Reason>)> = plan.keep.iter().map(|(id, r)| (id.as_str(), r.clone())).collect();
        assert_eq!(kept, expected);
        assert_eq!(plan.delete.len(), 200 - expected.len());
        assert_eq!(plan.delete.first().map(String::as_str), Some("2024-07-11"));
        assert_eq!(plan.delete.last().map(String::as_str), Some("2024-01-01"));
    }

    #[test]
    fn shuffled_input_gives_the_same_plan() {
        let mut list = two_hundred_daily_backups();
        list.truncate(40);
        // Ties, foreign, unverified and future copies are where an order dependence would hide.
        list.extend(copies(&[
            ours("tie-a", "2024-01-20T02:00:00Z"),
            ours("tie-z", "2024-01-20T02:00:00Z"),
            foreign("x", "2024-01-15T00:00:00Z"),
            unverified("u", "2024-02-09T00:00:00Z"),
            ours("future", "2024-03-01T00:00:00Z"),
        ]));
        let (policy, now) = (policy(3, 5, 2, 1, 2), ts("2024-02-09T12:00:00Z"));
        let expected = plan(&list, &policy, now, &TimeZone::UTC);
        assert!(!expected.delete.is_empty());
        let n = list.len();
        assert_eq!(n, 45, "the steps below must stay coprime with the number of copies");
        for step in [1, 2, 4, 7, 11, 13] {
            for start in 0..n {
                // A step coprime with n visits every copy exactly once, in a scrambled order.
                let shuffled: Vec<Copy> = (0..n).map(|k| list[(start + k * step) % n].clone()).collect();
                assert_eq!(plan(&shuffled, &policy, now, &TimeZone::UTC), expected, "step {step}, start {start}");
            }
        }
    }

    #[test]
    fn every_kept_copy_says_why() {
        let list = copies(&[
            ours("future", "2024-06-11T00:00:00Z"),
            foreign("x", "2024-06-10T06:00:00Z"),
            unverified("u", "2024-06-10T05:00:00Z"),
            ours("new", "2024-06-10T04:00:00Z"),
            ours("yesterday", "2024-06-09T04:00:00Z"),
            ours("old", "2024-05-01T04:00:00Z"),
            ours("older", "2024-04-30T04:00:00Z"),
        ]);
        let plan = plan(&list, &policy(1, 0, 0, 2, 2), ts("2024-06-10T12:00:00Z"), &TimeZone::UTC);
        let expected = Plan {
            keep: vec![
                ("future".to_owned(), vec![Reason::Future]),
                ("x".to_owned(), vec![Reason::NotOurs]),
                ("u".to_owned(), vec![Reason::Unverified]),
                ("new".to_owned(), vec![Reason::Last, Reason::Monthly, Reason::Within, Reason::Newest]),
                ("yesterday".to_owned(), vec![Reason::Within]),
                ("old".to_owned(), vec![Reason::Monthly]),
            ],
            delete: vec!["older".to_owned()],
        };
        assert_eq!(plan, expected);
    }

    #[test]
    fn a_repeated_id_is_never_both_kept_and_deleted() {
        let list = copies(&[ours("same", "2024-05-02T00:00:00Z"), ours("same", "2024-05-01T00:00:00Z")]);
        let plan = plan(&list, &Policy::keep_last(1), ts("2024-05-06T00:00:00Z"), &TimeZone::UTC);
        assert_eq!(plan.keep.len(), 1);
        assert!(plan.delete.is_empty(), "{plan}");
    }

    #[test]
    fn a_pinned_copy_is_kept_and_uses_no_slot_even_when_newest_or_unverified() {
        let mut list = copies(&[
            ours("pinned-new", "2024-05-05T00:00:00Z"),
            ours("b", "2024-05-04T00:00:00Z"),
            ours("c", "2024-05-03T00:00:00Z"),
            ours("pinned-old", "2024-05-01T00:00:00Z"),
        ]);
        for copy in list.iter_mut().filter(|c| c.id.starts_with("pinned")) {
            copy.pinned = true;
        }
        let plan = plan(&list, &Policy::keep_last(1), ts("2024-05-06T00:00:00Z"), &TimeZone::UTC);
        use Reason::*;
        assert_eq!(
            plan.keep,
            vec![
                ("pinned-new".to_owned(), vec![Pinned]),
                ("b".to_owned(), vec![Last, Newest]),
                ("pinned-old".to_owned(), vec![Pinned]),
            ]
        );
        assert_eq!(plan.delete, vec!["c".to_owned()]);
    }

    #[test]
    fn an_adopted_copy_not_counted_is_kept_and_uses_no_slot_one_that_counts_is_ordinary() {
        let mut list = copies(&[
            ours("adopted-new", "2024-05-05T00:00:00Z"),
            ours("b", "2024-05-04T00:00:00Z"),
            ours("c", "2024-05-03T00:00:00Z"),
            ours("adopted-old", "2024-05-01T00:00:00Z"),
            ours("counted-old", "2024-04-30T00:00:00Z"),
        ]);
        for copy in list.iter_mut().filter(|c| c.id.starts_with("adopted")) {
            copy.adopted = true;
        }
        let plan = plan(&list, &Policy::keep_last(1), ts("2024-05-06T00:00:00Z"), &TimeZone::UTC);
        use Reason::*;
        assert_eq!(
            plan.keep,
            vec![
                ("adopted-new".to_owned(), vec![Adopted]),
                ("b".to_owned(), vec![Last, Newest]),
                ("adopted-old".to_owned(), vec![Adopted]),
            ]
        );
        assert_eq!(plan.delete, vec!["c".to_owned(), "counted-old".to_owned()]);
    }

    #[test]
    fn a_damaged_copy_is_neither_counted_nor_deleted_so_one_more_good_copy_is_kept() {
        let mut list = copies(&[
            ours("newest-damaged", "2024-05-05T00:00:00Z"),
            ours("b", "2024-05-04T00:00:00Z"),
            ours("c", "2024-05-03T00:00:00Z"),
            ours("old-damaged", "2024-05-02T00:00:00Z"),
            ours("d", "2024-05-01T00:00:00Z"),
        ]);
        for copy in list.iter_mut().filter(|c| c.id.ends_with("damaged")) {
            copy.damaged = true;
        }
        let plan = plan(&list, &Policy::keep_last(2), ts("2024-05-06T00:00:00Z"), &TimeZone::UTC);
        use Reason::*;
        assert_eq!(
            plan.keep,
            vec![
                ("newest-damaged".to_owned(), vec![Damaged]),
                ("b".to_owned(), vec![Last, Newest]),
                ("c".to_owned(), vec![Last]),
                ("old-damaged".to_owned(), vec![Damaged]),
            ]
        );
        assert_eq!(plan.delete, vec!["d".to_owned()], "two good copies are kept beside the damaged ones");
    }

    #[test]
    fn display_prints_one_line_per_copy() {
        let plan = Plan {
            keep: vec![
                ("new".to_owned(), vec![Reason::Last, Reason::Daily]),
                ("theirs".to_owned(), vec![Reason::NotOurs]),
            ],
            delete: vec!["old".to_owned(), "oldest".to_owned()],
        };
        assert_eq!(plan.to_string(), "keep new (last, daily)\nkeep theirs (not ours)\ndelete old\ndelete oldest\n");
        assert_eq!(Plan::default().to_string(), "");
    }

    fn said(problems: Vec<(&'static str, Msg)>) -> Vec<(&'static str, String)> {
        problems.into_iter().map(|(field, msg)| (field, msg.to_string())).collect()
    }

    #[test]
    fn policy_with_keep_last_zero_is_a_problem() {
        assert_eq!(
            said(Policy::keep_last(0).problems()),
            vec![("keep_last", "keep last must be at least 1 (got 0): the newest copy is always kept".to_owned())]
        );
    }

    #[test]
    fn policy_with_absurd_counts_names_each_one() {
        let problems = said(policy(1, 20_000, 0, 10_001, 0).problems());
        assert_eq!(
            problems,
            vec![
                ("keep_daily", "keep daily must be from 0 to 10000 (got 20000)".to_owned()),
                ("keep_monthly", "keep monthly must be from 0 to 10000 (got 10001)".to_owned())
            ]
        );
    }

    #[test]
    fn sensible_policy_has_no_problems() {
        assert!(policy(2, 7, 4, 6, 10_000).problems().is_empty());
        assert!(Policy::keep_last(1).problems().is_empty());
    }

    #[test]
    fn keep_last_constructor_keeps_nothing_else() {
        assert_eq!(Policy::keep_last(3), policy(3, 0, 0, 0, 0));
    }

    #[test]
    fn policy_round_trips_through_json() {
        let original = policy(2, 7, 4, 6, 30);
        let json = serde_json::to_string(&original).unwrap();
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), original);
    }
}
