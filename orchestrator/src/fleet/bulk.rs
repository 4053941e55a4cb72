//! Bulk actions: pause, resume, Test now, set the schedule, set the retention, add or remove
//! tags, set the group — on apps named one by one or on every app a filter picks.
//!
//! What the operator typed (the action, its schedule, retention, tags or group, the names) is
//! validated first, for the whole batch: a bad value refuses the batch, naming the field,
//! before any app changes. Then each app is changed on its own, through the registry (which
//! validates the app as a whole, as a single edit does) or the queue's Test now path, and gets
//! its own audit entry; the report says per app what was done, or why not.

use crate::backup::retention::Policy;
use crate::catalogue::Msg;
use crate::fleet::filter::AppFilter;
use crate::registry::input::{AppInput, FieldError};
use crate::registry::{App, Registry, RegistryError, labels};
use crate::schedule::cron::CronSchedule;

/// The actions, as named in the API, the form and the CLI.
pub const ACTIONS: [&str; 8] =
    ["pause", "resume", "test_now", "set_schedule", "set_retention", "add_tags", "remove_tags", "set_group"];

/// A validated action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop scheduled backups.
    Pause,
    /// Schedule backups again.
    Resume,
    /// Queue one manual run per app (Test now).
    TestNow,
    /// Replace the schedule (cron, in each app's time zone).
    SetSchedule(String),
    /// Replace the whole retention.
    SetRetention(Policy),
    /// Add these tags.
    AddTags(Vec<String>),
    /// Remove these tags.
    RemoveTags(Vec<String>),
    /// Put the apps in this group (`None` = no group).
    SetGroup(Option<String>),
}

impl Action {
    /// Its name (one of [`ACTIONS`]).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::TestNow => "test_now",
            Action::SetSchedule(_) => "set_schedule",
            Action::SetRetention(_) => "set_retention",
            Action::AddTags(_) => "add_tags",
            Action::RemoveTags(_) => "remove_tags",
            Action::SetGroup(_) => "set_group",
        }
    }
}

/// An action as asked for, before validation: `action` is one of [`ACTIONS`], and the fields it
/// needs are given.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    /// Which action.
    pub action: String,
    /// For `set_schedule`: the cron expression.
    pub schedule: Option<String>,
    /// For `set_retention`: keep the N newest (default 7).
    pub keep_last: Option<u32>,
    /// For `set_retention`: one per day for N days (default 0).
    pub keep_daily: Option<u32>,
    /// For `set_retention`: one per week for N weeks (default 0).
    pub keep_weekly: Option<u32>,
    /// For `set_retention`: one per month for N months (default 0).
    pub keep_monthly: Option<u32>,
    /// For `set_retention`: everything newer than N days (default 0).
    pub keep_within_days: Option<u32>,
    /// For `add_tags` and `remove_tags`.
    pub tags: Vec<String>,
    /// For `set_group`: the group; blank removes it.
    pub group: Option<String>,
}

impl ActionInput {
    /// The least role the action needs: pausing, resuming and Test now are an operator's; every
    /// edit is an admin's.
    pub fn needs(&self) -> crate::users::Role {
        match self.action.trim() {
            "pause" | "resume" | "test_now" | "run" => crate::users::Role::Operator,
            _ => crate::users::Role::Admin,
        }
    }
}

impl ActionInput {
    /// The action, or every field error (none of the apps is touched then).
    pub fn validate(&self) -> Result<Action, Vec<FieldError>> {
        let one = |field: &str, msg: Msg| vec![FieldError::new(field, msg)];
        let action = self.action.trim().to_ascii_lowercase().replace('-', "_");
        match action.as_str() {
            "pause" => Ok(Action::Pause),
            "resume" => Ok(Action::Resume),
            "test_now" | "run" => Ok(Action::TestNow),
            "set_schedule" => {
                let schedule = self.schedule.as_deref().map(str::trim).unwrap_or("");
                if schedule.is_empty() {
                    return Err(one("schedule", Msg::new("field.schedule.required")));
                }
                // The time zone does not change whether an expression parses.
                CronSchedule::parse(schedule, "UTC").map_err(|e| one("schedule", e.0))?;
                Ok(Action::SetSchedule(schedule.to_owned()))
            }
            "set_retention" => {
                let policy = Policy {
                    keep_last: self.keep_last.unwrap_or(7),
                    keep_daily: self.keep_daily.unwrap_or(0),
                    keep_weekly: self.keep_weekly.unwrap_or(0),
                    keep_monthly: self.keep_monthly.unwrap_or(0),
                    keep_within_days: self.keep_within_days.unwrap_or(0),
                };
                let problems = policy.problems();
                if problems.is_empty() {
                    Ok(Action::SetRetention(policy))
                } else {
                    Err(problems.into_iter().map(|(field, p)| FieldError::new(field, p)).collect())
                }
            }
            "add_tags" | "remove_tags" => {
                let tags = labels::tags("tags", &self.tags)?;
                if tags.is_empty() {
                    return Err(one("tags", Msg::new("field.tags.required")));
                }
                Ok(if action == "add_tags" { Action::AddTags(tags) } else { Action::RemoveTags(tags) })
            }
            "set_group" => {
                Ok(Action::SetGroup(labels::group(self.group.as_deref().unwrap_or("")).map_err(|e| vec![e])?))
            }
            other => Err(one(
                "action",
                Msg::new("field.action.unknown").with("given", other).with("known", ACTIONS.join(", ")),
            )),
        }
    }
}

/// Which apps a bulk action applies to.
#[derive(Debug, Clone)]
pub enum Target {
    /// These apps, by name.
    Apps(Vec<String>),
    /// Every app the filter picks (an empty filter picks every app).
    Filter(AppFilter),
}

/// What happened to one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Changed (or its run queued).
    Changed,
    /// Already as asked.
    Unchanged,
    /// Refused or failed; the detail says why.
    Failed,
}

impl Done {
    /// `changed`, `unchanged` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Done::Changed => "changed",
            Done::Unchanged => "unchanged",
            Done::Failed => "failed",
        }
    }
}

/// One app's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The app.
    pub app: String,
    /// What happened.
    pub done: Done,
    /// What was done, or why not.
    pub detail: String,
    /// The run queued by Test now.
    pub run_id: Option<i64>,
}

/// The outcome of a bulk action, per app in the order they were taken.
#[derive(Debug, Clone)]
pub struct Report {
    /// The action.
    pub action: Action,
    /// Per app.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// How many apps ended `done`.
    pub fn count(&self, done: Done) -> usize {
        self.outcomes.iter().filter(|o| o.done == done).count()
    }
}

/// The apps `target` names; unknown names refuse the batch (field `apps`), and so does an empty
/// list of names.
pub async fn resolve(registry: &Registry, target: &Target, stale_intervals: u32) -> Result<Vec<App>, RegistryError> {
    match target {
        Target::Apps(names) => {
            let mut names: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
            names.dedup();
            if names.is_empty() {
                return Err(RegistryError::Invalid(vec![FieldError::new("apps", Msg::new("field.apps.none"))]));
            }
            let mut apps = Vec::with_capacity(names.len());
            let mut unknown = Vec::new();
            for name in names {
                match registry.get(name).await {
                    Ok(app) if !apps.iter().any(|a: &App| a.id == app.id) => apps.push(app),
                    Ok(_) => {}
                    Err(RegistryError::NotFound(_)) => unknown.push(name.to_owned()),
                    Err(e) => return Err(e),
                }
            }
            if !unknown.is_empty() {
                return Err(RegistryError::Invalid(vec![FieldError::new(
                    "apps",
                    Msg::new("field.apps.unknown").with("names", unknown.join(", ")),
                )]));
            }
            Ok(apps)
        }
        Target::Filter(filter) => {
            let selection = crate::fleet::filter::select(registry.db(), filter, stale_intervals).await?;
            let mut apps = Vec::with_capacity(selection.apps.len());
            for picked in selection.apps {
                apps.push(registry.get_by_id(picked.id).await?);
            }
            Ok(apps)
        }
    }
}

/// Validates `input` and `target` for the whole batch, then applies the action to each app,
/// auditing each change as `actor`.
pub async fn run(
    registry: &Registry,
    actor: &str,
    target: &Target,
    input: &ActionInput,
    stale_intervals: u32,
) -> Result<Report, RegistryError> {
    let action = input.validate().map_err(RegistryError::Invalid)?;
    let apps = resolve(registry, target, stale_intervals).await?;
    let mut outcomes = Vec::with_capacity(apps.len());
    for app in &apps {
        outcomes.push(apply_one(registry, actor, app, &action).await);
    }
    Ok(Report { action, outcomes })
}

/// The change `action` makes to `app`, with its audit action and detail; `None` when the app is
/// already as asked.
fn change(app: &App, action: &Action) -> Option<(AppInput, &'static str, Msg)> {
    let edit = |input: AppInput, detail: Msg| Some((input, "app.update", detail));
    let bulk = || Msg::new("audit_detail.bulk");
    match action {
        Action::Pause => {
            app.enabled.then(|| (AppInput { enabled: Some(false), ..Default::default() }, "app.pause", bulk()))
        }
        Action::Resume => {
            (!app.enabled).then(|| (AppInput { enabled: Some(true), ..Default::default() }, "app.resume", bulk()))
        }
        Action::TestNow => None,
        Action::SetSchedule(schedule) if *schedule == app.schedule => None,
        Action::SetSchedule(schedule) => edit(
            AppInput { schedule: Some(schedule.clone()), ..Default::default() },
            Msg::new("audit_detail.bulk_schedule").with("schedule", schedule),
        ),
        Action::SetRetention(policy) if *policy == app.retention => None,
        Action::SetRetention(p) => edit(
            AppInput {
                keep_last: Some(p.keep_last),
                keep_daily: Some(p.keep_daily),
                keep_weekly: Some(p.keep_weekly),
                keep_monthly: Some(p.keep_monthly),
                keep_within_days: Some(p.keep_within_days),
                ..Default::default()
            },
            Msg::new("audit_detail.bulk_retention")
                .with("last", p.keep_last)
                .with("daily", p.keep_daily)
                .with("weekly", p.keep_weekly)
                .with("monthly", p.keep_monthly)
                .with("within", p.keep_within_days),
        ),
        Action::AddTags(tags) | Action::RemoveTags(tags) => {
            let adding = matches!(action, Action::AddTags(_));
            let mut new: Vec<String> = app.tags.iter().filter(|t| adding || !tags.contains(t)).cloned().collect();
            if adding {
                new.extend(tags.iter().filter(|t| !app.tags.contains(t)).cloned());
            }
            new.sort();
            if new == app.tags {
                return None;
            }
            let sign = if adding { "+" } else { "-" };
            let words: Vec<String> = tags.iter().map(|t| format!("{sign}{t}")).collect();
            edit(
                AppInput { tags: Some(new), ..Default::default() },
                Msg::new("audit_detail.bulk_tags").with("tags", words.join(" ")),
            )
        }
        Action::SetGroup(group) if *group == app.group => None,
        Action::SetGroup(group) => edit(
            AppInput { group: Some(group.clone().unwrap_or_default()), ..Default::default() },
            match group {
                Some(group) => Msg::new("audit_detail.bulk_group").with("group", group),
                None => Msg::new("audit_detail.bulk_no_group"),
            },
        ),
    }
}

async fn apply_one(registry: &Registry, actor: &str, app: &App, action: &Action) -> Outcome {
    let db = registry.db();
    let outcome = |done: Done, detail: String| Outcome { app: app.name.clone(), done, detail, run_id: None };
    if *action == Action::TestNow {
        return match crate::jobs::queue::run_now(db, app, None).await {
            Ok(run) => {
                let detail = crate::catalogue::Msg::new("audit_detail.run_bulk").with("id", run.id);
                crate::audit::record_said(db, actor, "run.start", Some(&app.name), &detail).await;
                Outcome { run_id: Some(run.id), ..outcome(Done::Changed, format!("run {} queued", run.id)) }
            }
            Err(e) => outcome(Done::Failed, e.to_string()),
        };
    }
    let Some((input, audit_action, detail)) = change(app, action) else {
        return outcome(Done::Unchanged, "already as asked".to_owned());
    };
    match registry.edit(&app.name, &input).await {
        Ok(_) => {
            crate::audit::record_said(db, actor, audit_action, Some(&app.name), &detail).await;
            outcome(Done::Changed, detail.to_string())
        }
        Err(e) => outcome(Done::Failed, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(action: &str) -> ActionInput {
        ActionInput { action: action.into(), ..Default::default() }
    }

    #[test]
    fn actions_validate_with_the_fields_they_need() {
        assert_eq!(input("pause").validate(), Ok(Action::Pause));
        assert_eq!(input("Test-Now").validate(), Ok(Action::TestNow));
        let schedule = ActionInput { schedule: Some(" 0 4 * * * ".into()), ..input("set_schedule") };
        assert_eq!(schedule.validate(), Ok(Action::SetSchedule("0 4 * * *".into())));
        let tags = ActionInput { tags: vec!["Odoo, prod".into()], ..input("add_tags") };
        assert_eq!(tags.validate(), Ok(Action::AddTags(vec!["odoo".into(), "prod".into()])));
        let group = ActionInput { group: Some(" ".into()), ..input("set_group") };
        assert_eq!(group.validate(), Ok(Action::SetGroup(None)));
        let retention = ActionInput { keep_daily: Some(7), ..input("set_retention") };
        let Ok(Action::SetRetention(p)) = retention.validate() else { panic!("retention refused") };
        assert_eq!((p.keep_last, p.keep_daily), (7, 7));
    }

    #[test]
    fn bad_input_names_the_field() {
        let field = |i: ActionInput| i.validate().unwrap_err()[0].field.clone();
        assert_eq!(field(input("explode")), "action");
        assert_eq!(field(input("set_schedule")), "schedule");
        assert_eq!(field(ActionInput { schedule: Some("0 3 * *".into()), ..input("set_schedule") }), "schedule");
        assert_eq!(field(ActionInput { keep_last: Some(0), ..input("set_retention") }), "keep_last");
        assert_eq!(field(input("add_tags")), "tags");
        assert_eq!(field(ActionInput { tags: vec!["no way".into(), "x!".into()], ..input("remove_tags") }), "tags");
        assert_eq!(field(ActionInput { group: Some("a/b".into()), ..input("set_group") }), "group");
    }
}
