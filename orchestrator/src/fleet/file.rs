//! The fleet as a file: every app's settings in one YAML document an operator keeps in git
//! (`orchestrator apps export > fleet.yaml`), and applying such a file to the registry
//! (`orchestrator apps apply -f fleet.yaml`) like a GitOps tool: a plan of adds, changes and
//! removals first, then — unless it is a dry run — exactly that.
//!
//! The file is the whole truth for the apps it names: a setting it leaves out takes its default.
//! Tokens are never in it, only where to read them: `token: {env: NAME}` or `token: {file: PATH}`
//! (the API takes environment references only: a file reference would let a caller read the
//! server's files). Every app is validated, its token read and (unless `no_check`) the app asked,
//! before anything changes; one problem anywhere and nothing is applied.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::catalogue::Msg;
use crate::db::entities::app_group;
use crate::registry::groups::{Group, GroupInput};
use crate::registry::input::{AppInput, FieldError, ValidApp};
use crate::registry::{App, Registry, RegistryError};
use crate::schedule::spread::format_span;

/// Where an app's token is read from; never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum TokenRef {
    /// An environment variable of the process applying the file.
    Env(String),
    /// A file (its first line); the command line only.
    File(String),
}

/// One app of the file. Left-out settings take their defaults.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetApp {
    /// Unique name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Where its token is read: `{env: NAME}` or `{file: PATH}`; never the token itself.
    pub token: serde_json::Value,
    /// Cron expression.
    pub schedule: String,
    /// IANA time zone (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Destination folder.
    pub folder: String,
    /// Keep the N newest (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// One per day for N days (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// One per week for N weeks (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// One per month for N months (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Everything newer than N days (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_days: Option<u32>,
    /// Backup type (default: the app's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<String>,
    /// high | normal | low (default normal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Scheduled (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// zstd | none | auto (default auto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<String>,
    /// true | false; left out = whenever recipients are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt: Option<bool>,
    /// The app's own age recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Restore drills' schedule (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_schedule: Option<String>,
    /// newest | random (default newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_copy: Option<String>,
    /// Its group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Its backup window (`2h`; default: its group's, or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Its jitter (`15m`; default: its group's, or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<String>,
}

/// A group's settings in the file: what it names is set, what it leaves out is off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetGroup {
    /// The group (the apps' `group`).
    pub name: String,
    /// Backups of its apps running at once, across every process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// The window its apps take unless they set their own (`2h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The jitter its apps take unless they set their own (`15m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<String>,
}

/// The file: `apps:` and the list, then the groups' settings (`groups:`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    /// The apps.
    pub apps: Vec<FleetApp>,
    /// The groups with settings; a group the file leaves out keeps its settings, unless pruned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<FleetGroup>,
}

/// Who applies the file, which decides where tokens may be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line: environment variables and files of the machine running it.
    Cli,
    /// The API: environment variables of the server only.
    Api,
}

/// How to apply.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Remove the registered apps the file does not name (their stored copies stay).
    pub prune: bool,
    /// Only say what would change.
    pub dry_run: bool,
    /// Do not ask the apps that are added or asked differently.
    pub no_check: bool,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Step {
    /// add | change | remove | unchanged.
    pub action: String,
    /// The app.
    pub app: String,
    /// For a change: what changes, as `field: old -> new` (a token only as "token: replaced").
    pub changes: Vec<String>,
}

/// One line of the plan for a group's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GroupStep {
    /// add | change | remove | unchanged.
    pub action: String,
    /// The group.
    pub group: String,
    /// For a change: what changes, as `field: old -> new`.
    pub changes: Vec<String>,
}

/// What applying does: the apps' steps, then the groups'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Adds, changes, removals, then the unchanged apps.
    pub apps: Vec<Step>,
    /// The same for the groups' settings.
    pub groups: Vec<GroupStep>,
}

/// A problem with one app of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppProblem {
    /// The app (or `#N` for an entry without a usable name).
    pub app: String,
    /// The field.
    pub field: String,
    /// What to fix.
    pub message: Msg,
}

/// Why a file was not applied.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The file cannot be read as a fleet file.
    #[error("the fleet file cannot be read: {0}")]
    Unreadable(String),
    /// Entries are wrong; nothing was applied.
    #[error("nothing was applied; fix these: {}", .0.iter().map(|p| format!("{}: {}: {}", p.app, p.field, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<AppProblem>),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The apps' settings as a fleet file, tokens by reference (`{env: BACKUP_TOKEN_<NAME>}`), and
/// the settings of the `groups` that have some.
pub fn export(apps: &[App], groups: &[Group]) -> FleetFile {
    let apps = apps
        .iter()
        .map(|app| FleetApp {
            name: app.name.clone(),
            url: app.url.clone(),
            token: serde_json::json!({ "env": env_name(&app.name) }),
            schedule: app.schedule.clone(),
            time_zone: Some(app.time_zone.clone()),
            folder: app.folder.clone(),
            keep_last: Some(app.retention.keep_last),
            keep_daily: Some(app.retention.keep_daily),
            keep_weekly: Some(app.retention.keep_weekly),
            keep_monthly: Some(app.retention.keep_monthly),
            keep_within_days: Some(app.retention.keep_within_days),
            backup_type: app.backup_type.clone(),
            priority: Some(app.priority.to_string()),
            enabled: Some(app.enabled),
            compress: Some(app.compress.as_str().to_owned()),
            encrypt: app.encrypt,
            recipients: app.recipients.iter().map(|r| r.as_str().to_owned()).collect(),
            drill_schedule: app.drill_schedule.clone(),
            drill_copy: Some(app.drill_copy.clone()),
            group: app.group.clone(),
            tags: app.tags.clone(),
            window: app.window_secs.map(format_span),
            jitter: app.jitter_secs.map(format_span),
        })
        .collect();
    let groups = groups
        .iter()
        .filter(|g| g.max_concurrent.is_some() || g.window.is_some() || g.jitter.is_some())
        .map(|g| FleetGroup {
            name: g.name.clone(),
            max_concurrent: g.max_concurrent,
            window: g.window.clone(),
            jitter: g.jitter.clone(),
        })
        .collect();
    FleetFile { apps, groups }
}

/// The variable an export names for an app's token: `BACKUP_TOKEN_` and its name in capitals.
pub fn env_name(app: &str) -> String {
    format!("BACKUP_TOKEN_{}", app.to_ascii_uppercase().replace(['-', '.'], "_"))
}

/// Reads a fleet file (YAML, or JSON, which is YAML too).
pub fn parse(text: &str) -> Result<FleetFile, FleetError> {
    serde_yaml::from_str(text).map_err(|e| FleetError::Unreadable(e.to_string()))
}

/// What the name of a variable a fleet sent through the API refers to must start with.
pub const API_ENV_PREFIX: &str = "BACKUP_TOKEN_";

/// The token an entry refers to, read now.
fn read_token(reference: &serde_json::Value, source: Source) -> Result<SecretString, Msg> {
    let parsed: TokenRef = match reference {
        serde_json::Value::String(_) => return Err(Msg::new("fleet.token.inline")),
        other => serde_json::from_value(other.clone()).map_err(|_| Msg::new("fleet.token.not_reference"))?,
    };
    let value = match parsed {
        // Through the API a reference names only a token's variable: any other would let a
        // caller send the server's own secrets (SECRET_KEY, DATABASE_URL) to an address of theirs.
        TokenRef::Env(name) if source == Source::Api && !name.starts_with(API_ENV_PREFIX) => {
            return Err(Msg::new("fleet.token.env_over_api").with("name", &name).with("prefix", API_ENV_PREFIX));
        }
        TokenRef::Env(name) => {
            std::env::var(&name).map_err(|_| Msg::new("fleet.token.env_unset").with("name", &name))?
        }
        TokenRef::File(_) if source == Source::Api => return Err(Msg::new("fleet.token.file_over_api")),
        TokenRef::File(path) => std::fs::read_to_string(&path)
            .map_err(|e| Msg::new("fleet.token.file_unreadable").with("path", &path).with("detail", e))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(Msg::new("fleet.token.empty"));
    }
    Ok(SecretString::from(value))
}

/// The registry's input for an entry: every setting given, left-out ones at their defaults.
fn input_of(app: &FleetApp, token: SecretString) -> AppInput {
    AppInput {
        name: Some(app.name.clone()),
        url: Some(app.url.clone()),
        token: Some(token),
        schedule: Some(app.schedule.clone()),
        time_zone: Some(app.time_zone.clone().unwrap_or_else(|| "UTC".into())),
        folder: Some(app.folder.clone()),
        keep_last: Some(app.keep_last.unwrap_or(7)),
        keep_daily: Some(app.keep_daily.unwrap_or(0)),
        keep_weekly: Some(app.keep_weekly.unwrap_or(0)),
        keep_monthly: Some(app.keep_monthly.unwrap_or(0)),
        keep_within_days: Some(app.keep_within_days.unwrap_or(0)),
        backup_type: Some(app.backup_type.clone().unwrap_or_default()),
        priority: Some(app.priority.clone().unwrap_or_else(|| "normal".into())),
        enabled: Some(app.enabled.unwrap_or(true)),
        compress: Some(app.compress.clone().unwrap_or_else(|| "auto".into())),
        encrypt: Some(app.encrypt),
        recipients: Some(app.recipients.clone()),
        drill_schedule: Some(app.drill_schedule.clone().unwrap_or_default()),
        drill_copy: Some(app.drill_copy.clone().unwrap_or_else(|| "newest".into())),
        group: Some(app.group.clone().unwrap_or_default()),
        tags: Some(app.tags.clone()),
        window: Some(app.window.clone().unwrap_or_default()),
        jitter: Some(app.jitter.clone().unwrap_or_default()),
    }
}

/// A validated app's settings as `(field, shown value)`, to compare two of them.
fn settings(v: &ValidApp) -> Vec<(&'static str, String)> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    vec![
        ("url", v.url.clone()),
        ("schedule", v.schedule.clone()),
        ("time_zone", v.time_zone.clone()),
        ("folder", v.folder.clone()),
        ("keep_last", v.retention.keep_last.to_string()),
        ("keep_daily", v.retention.keep_daily.to_string()),
        ("keep_weekly", v.retention.keep_weekly.to_string()),
        ("keep_monthly", v.retention.keep_monthly.to_string()),
        ("keep_within_days", v.retention.keep_within_days.to_string()),
        ("backup_type", opt(&v.backup_type)),
        ("priority", v.priority.to_string()),
        ("enabled", v.enabled.to_string()),
        ("compress", v.compress.as_str().to_owned()),
        ("encrypt", v.encrypt.map_or("auto".into(), |e| e.to_string())),
        ("recipients", v.recipients.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")),
        ("drill_schedule", opt(&v.drill_schedule)),
        ("drill_copy", v.drill_copy.clone()),
        ("group", opt(&v.group)),
        ("tags", format!("[{}]", v.tags.join(", "))),
        ("window", v.window_secs.map_or("-".into(), format_span)),
        ("jitter", v.jitter_secs.map_or("-".into(), format_span)),
    ]
}

/// What applying `file` does (and, unless a dry run, has done), step by step in the order taken:
/// adds, changes, removals, then the unchanged apps.
pub async fn apply(
    registry: &Registry,
    file: &FleetFile,
    options: ApplyOptions,
    source: Source,
    actor: &str,
) -> Result<Plan, FleetError> {
    let current: BTreeMap<String, App> = registry.list().await?.into_iter().map(|a| (a.name.clone(), a)).collect();
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // (step, input, ask the app)
    let mut planned: Vec<(Step, Option<AppInput>, bool)> = Vec::new();
    for (i, entry) in file.apps.iter().enumerate() {
        let label = if entry.name.trim().is_empty() { format!("#{}", i + 1) } else { entry.name.clone() };
        let mut problem = |field: &str, message: Msg| {
            problems.push(AppProblem { app: label.clone(), field: field.to_owned(), message })
        };
        if !seen.insert(entry.name.clone()) {
            problem("name", Msg::new("fleet.name.twice"));
            continue;
        }
        let token = match read_token(&entry.token, source) {
            Ok(token) => token,
            Err(message) => {
                problem("token", message);
                continue;
            }
        };
        let input = input_of(entry, token.clone());
        let desired = match input.validate(true) {
            Ok(valid) => valid,
            Err(errors) => {
                for FieldError { field, msg } in errors {
                    problem(&field, msg);
                }
                continue;
            }
        };
        match current.get(&entry.name) {
            None => {
                let step = Step { action: "add".into(), app: entry.name.clone(), changes: Vec::new() };
                planned.push((step, Some(input), true));
            }
            Some(app) => {
                let now = AppInput::default().over(app).validate(false).map_err(RegistryError::Invalid)?;
                let mut changes: Vec<String> = settings(&now)
                    .into_iter()
                    .zip(settings(&desired))
                    .filter(|(a, b)| a.1 != b.1)
                    .map(|((field, old), (_, new))| format!("{field}: {old} -> {new}"))
                    .collect();
                let new_token = token.expose_secret() != app.token.expose_secret();
                if new_token {
                    changes.push("token: replaced".into());
                }
                let asked_differently = now.url != desired.url || new_token || now.backup_type != desired.backup_type;
                let mut input = input;
                if !new_token && now.url == desired.url {
                    // The stored token stays; it is sent nowhere new.
                    input.token = None;
                }
                let action = if changes.is_empty() { "unchanged" } else { "change" };
                let step = Step { action: action.into(), app: entry.name.clone(), changes };
                planned.push((step, (action == "change").then_some(input), asked_differently));
            }
        }
    }
    let mut group_plan = plan_groups(registry.db(), file, options.prune, &mut problems).await?;
    if options.prune {
        for name in current.keys().filter(|n| !seen.contains(*n)) {
            let step = Step { action: "remove".into(), app: name.clone(), changes: Vec::new() };
            planned.push((step, None, false));
        }
    }
    if problems.is_empty() && !options.no_check {
        for (step, input, ask) in &planned {
            let (Some(input), true) = (input, *ask) else { continue };
            let url = input.url.clone().unwrap_or_default();
            let token = match (&input.token, current.get(&step.app)) {
                (Some(token), _) => Ok(token.clone()),
                (None, Some(app)) => crate::registry::token_for(app, &url, None),
                (None, None) => continue,
            };
            let token = match token {
                Ok(token) => token,
                Err(e) => {
                    problems.push(AppProblem { app: step.app.clone(), field: e.field, message: e.msg });
                    continue;
                }
            };
            let backup_type = input.backup_type.clone().filter(|t| !t.is_empty());
            if let Err(errors) = crate::registry::check::before_save(url.trim(), token, backup_type.as_deref()).await {
                for e in errors {
                    problems.push(AppProblem { app: step.app.clone(), field: e.field, message: e.msg });
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(FleetError::Invalid(problems));
    }
    let order = |action: &str| ["add", "change", "remove", "unchanged"].iter().position(|a| *a == action);
    planned.sort_by_key(|(step, _, _)| (order(&step.action), step.app.clone()));
    if !options.dry_run {
        for (step, input, _) in &planned {
            match (step.action.as_str(), input) {
                ("add", Some(input)) => {
                    registry.add(input).await?;
                    let detail = Msg::new("audit_detail.fleet_add");
                    crate::audit::record_said(registry.db(), actor, "app.create", Some(&step.app), &detail).await;
                }
                ("change", Some(input)) => {
                    registry.edit(&step.app, input).await?;
                    let detail = Msg::new("audit_detail.fleet_change").with("changes", step.changes.join("; "));
                    crate::audit::record_said(registry.db(), actor, "app.update", Some(&step.app), &detail).await;
                }
                ("remove", _) => {
                    registry.remove(&step.app).await?;
                    let detail = Msg::new("audit_detail.fleet_prune");
                    crate::audit::record_said(registry.db(), actor, "app.delete", Some(&step.app), &detail).await;
                }
                _ => {}
            }
        }
        for (step, input) in &group_plan {
            if step.action == "unchanged" {
                continue;
            }
            match crate::registry::groups::set(registry.db(), &step.group, input).await {
                Ok(_) => {
                    let detail = format!("from a fleet file: {}", step.changes.join("; "));
                    crate::audit::record(registry.db(), actor, "group.set", Some(&step.group), Some(&detail)).await;
                }
                Err(crate::registry::groups::SetError::Db(e)) => return Err(RegistryError::from(e).into()),
                Err(crate::registry::groups::SetError::Invalid(errors)) => {
                    return Err(RegistryError::Invalid(errors).into());
                }
            }
        }
    }
    group_plan.sort_by_key(|(step, _)| (order(&step.action), step.group.clone()));
    Ok(Plan {
        apps: planned.into_iter().map(|(step, _, _)| step).collect(),
        groups: group_plan.into_iter().map(|(step, _)| step).collect(),
    })
}

/// The steps that make the groups' settings those of `file` (each one's input, every value set:
/// what the file leaves out is off); with `prune`, the groups it does not list lose theirs.
async fn plan_groups(
    db: &sea_orm::DatabaseConnection,
    file: &FleetFile,
    prune: bool,
    problems: &mut Vec<AppProblem>,
) -> Result<Vec<(GroupStep, GroupInput)>, FleetError> {
    use sea_orm::EntityTrait;
    let stored: BTreeMap<String, app_group::Model> = app_group::Entity::find()
        .all(db)
        .await
        .map_err(RegistryError::from)?
        .into_iter()
        .map(|g| (g.name.clone(), g))
        .collect();
    let shown = |v: crate::registry::groups::Settings| {
        let span = |s: Option<i64>| s.map_or_else(|| "-".to_owned(), format_span);
        [
            ("max_concurrent", v.0.map_or_else(|| "-".to_owned(), |n| n.to_string())),
            ("window", span(v.1)),
            ("jitter", span(v.2)),
        ]
    };
    let mut plan = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for entry in &file.groups {
        let label = format!("group {}", entry.name);
        let mut problem = |field: &str, message: Msg| {
            problems.push(AppProblem { app: label.clone(), field: field.to_owned(), message })
        };
        let name = match crate::registry::labels::group(&entry.name) {
            Ok(Some(name)) => name,
            Ok(None) => {
                problem("name", Msg::new("field.group.name_required"));
                continue;
            }
            Err(e) => {
                problem("name", e.msg);
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            problem("name", Msg::new("fleet.name.twice"));
            continue;
        }
        let off = || "off".to_owned();
        let input = GroupInput {
            max_concurrent: Some(entry.max_concurrent.map_or_else(off, |n| n.to_string())),
            window: Some(entry.window.clone().unwrap_or_else(off)),
            jitter: Some(entry.jitter.clone().unwrap_or_else(off)),
        };
        let row = stored.get(&name);
        let desired = match crate::registry::groups::settings_of(row, &input) {
            Ok(desired) => desired,
            Err(errors) => {
                for FieldError { field, msg } in errors {
                    problem(&field, msg);
                }
                continue;
            }
        };
        let now = row.map_or((None, None, None), |r| (r.max_concurrent.map(i64::from), r.window_secs, r.jitter_secs));
        let changes: Vec<String> = shown(now)
            .into_iter()
            .zip(shown(desired))
            .filter(|(a, b)| a.1 != b.1)
            .map(|((field, old), (_, new))| format!("{field}: {old} -> {new}"))
            .collect();
        let action = match (row, changes.is_empty()) {
            (_, true) => "unchanged",
            (Some(_), false) => "change",
            (None, false) => "add",
        };
        plan.push((GroupStep { action: action.into(), group: name, changes }, input));
    }
    if prune {
        for (name, row) in stored.iter().filter(|(n, _)| !seen.contains(*n)) {
            let now = (row.max_concurrent.map(i64::from), row.window_secs, row.jitter_secs);
            let changes =
                shown(now).into_iter().filter(|(_, v)| v != "-").map(|(f, v)| format!("{f}: {v} -> -")).collect();
            let off = GroupInput {
                max_concurrent: Some("off".into()),
                window: Some("off".into()),
                jitter: Some("off".into()),
            };
            plan.push((GroupStep { action: "remove".into(), group: name.clone(), changes }, off));
        }
    }
    Ok(plan)
}

/// The plan in words, like a GitOps tool's: `+ add`, `~ change` with its changes, `- remove`,
/// then the counts.
pub fn describe(plan: &Plan, dry_run: bool) -> String {
    let steps = &plan.apps;
    let mut out = String::new();
    for step in steps {
        match step.action.as_str() {
            "add" => out.push_str(&format!("+ {} (add)\n", step.app)),
            "change" => {
                out.push_str(&format!("~ {} (change)\n", step.app));
                for change in &step.changes {
                    out.push_str(&format!("    {change}\n"));
                }
            }
            "remove" => out.push_str(&format!("- {} (remove; its stored copies stay)\n", step.app)),
            _ => {}
        }
    }
    for step in &plan.groups {
        let sign = match step.action.as_str() {
            "add" => "+",
            "change" => "~",
            "remove" => "-",
            _ => continue,
        };
        out.push_str(&format!("{sign} group {} ({})\n", step.group, step.action));
        for change in &step.changes {
            out.push_str(&format!("    {change}\n"));
        }
    }
    let count = |a: &str| steps.iter().filter(|s| s.action == a).count();
    out.push_str(&format!(
        "{}: {} to add, {} to change, {} to remove, {} unchanged.\n",
        if dry_run { "Plan (dry run, nothing changed)" } else { "Applied" },
        count("add"),
        count("change"),
        count("remove"),
        count("unchanged")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_only_ever_references() {
        let inline = serde_json::json!("s3cret");
        assert!(read_token(&inline, Source::Cli).unwrap_err().to_string().contains("written inline"));
        let file = serde_json::json!({"file": "/etc/passwd"});
        assert!(read_token(&file, Source::Api).unwrap_err().to_string().contains("not taken through the API"));
        let unset = serde_json::json!({"env": "FLEET_TEST_SURELY_UNSET"});
        assert!(
            read_token(&unset, Source::Cli).unwrap_err().to_string().contains("FLEET_TEST_SURELY_UNSET is not set")
        );
        let odd = serde_json::json!({"vault": "x"});
        assert!(read_token(&odd, Source::Cli).unwrap_err().to_string().contains("not a token reference"));
    }

    #[test]
    fn a_file_with_an_unknown_key_is_refused_with_where() {
        let e = parse("apps:\n  - name: crm\n    url: http://crm\n    token: {env: X}\n    schedule: '@daily'\n    folder: f\n    keep_lats: 3\n").unwrap_err();
        assert!(e.to_string().contains("keep_lats"), "{e}");
        assert_eq!(env_name("erp-prod.eu"), "BACKUP_TOKEN_ERP_PROD_EU");
    }
}
