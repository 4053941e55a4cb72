//! Groups' settings: how many backups of a group's apps may run at once (e.g. one per database
//! host), and the backup window and jitter its apps take unless they set their own (see
//! `schedule::spread`). A group exists as soon as an app names it; it has settings once an
//! operator sets them, and keeps them (a row of `app_groups`) while no app names it.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
};

use super::input::FieldError;
use crate::catalogue::Msg;
use crate::db::entities::{app, app_group};
use crate::db::now_ms;
use crate::schedule::spread::{MAX_JITTER_SECS, MAX_WINDOW_SECS, format_span, parse_limit, parse_span};

/// A group as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Group {
    /// The group's name (the apps' `group`).
    pub name: String,
    /// Apps in it.
    pub apps: u64,
    /// Backups of its apps running at once, across every process; `null` = no limit.
    pub max_concurrent: Option<u32>,
    /// The window its apps take unless they set their own (`2h`); `null` = none.
    pub window: Option<String>,
    /// The jitter its apps take unless they set their own (`15m`); `null` = none.
    pub jitter: Option<String>,
}

/// Settings as typed; `None` keeps the current value, `Some("off")` (or "") removes it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    /// How many backups of the group may run at once (1 to 1000), or "off".
    pub max_concurrent: Option<String>,
    /// The group's backup window (`2h`, at most 24h), or "off".
    pub window: Option<String>,
    /// The group's jitter (`15m`, at most 12h), or "off".
    pub jitter: Option<String>,
}

impl Group {
    fn new(name: String, apps: u64, row: Option<&app_group::Model>) -> Group {
        Group {
            name,
            apps,
            max_concurrent: row.and_then(|r| r.max_concurrent).and_then(|n| u32::try_from(n).ok()),
            window: row.and_then(|r| r.window_secs).map(format_span),
            jitter: row.and_then(|r| r.jitter_secs).map(format_span),
        }
    }
}

/// Every group: those apps name and those with settings, by name.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Group>, DbErr> {
    let named: Vec<Option<String>> =
        app::Entity::find().select_only().column(app::Column::GroupName).into_tuple().all(db).await?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for name in named.into_iter().flatten() {
        *counts.entry(name).or_default() += 1;
    }
    let rows: BTreeMap<String, app_group::Model> =
        app_group::Entity::find().all(db).await?.into_iter().map(|g| (g.name.clone(), g)).collect();
    for name in rows.keys() {
        counts.entry(name.clone()).or_default();
    }
    Ok(counts.into_iter().map(|(name, apps)| Group::new(name.clone(), apps, rows.get(&name))).collect())
}

/// One group, if apps name it or it has settings.
pub async fn get(db: &DatabaseConnection, name: &str) -> Result<Option<Group>, DbErr> {
    Ok(list(db).await?.into_iter().find(|g| g.name == name))
}

/// Sets a group's settings (every error at once; nothing stored on error). A group left with
/// no setting loses its row.
pub async fn set(db: &DatabaseConnection, name: &str, input: &GroupInput) -> Result<Group, SetError> {
    let name =
        super::labels::group(name).map_err(|e| SetError::Invalid(vec![FieldError { field: "name".into(), ..e }]))?;
    let Some(name) = name else {
        return Err(SetError::Invalid(vec![FieldError::new("name", Msg::new("field.group.name_required"))]));
    };
    let current = app_group::Entity::find_by_id(name.clone()).one(db).await?;
    let (max_concurrent, window, jitter) = settings_of(current.as_ref(), input).map_err(SetError::Invalid)?;
    let empty = max_concurrent.is_none() && window.is_none() && jitter.is_none();
    match (current, empty) {
        (None, true) => {}
        (Some(_), true) => {
            app_group::Entity::delete_by_id(name.clone()).exec(db).await?;
        }
        (current, false) => {
            let row = app_group::ActiveModel {
                name: Set(name.clone()),
                max_concurrent: Set(max_concurrent.map(|n| n as i32)),
                window_secs: Set(window),
                jitter_secs: Set(jitter),
                updated_at: Set(now_ms()),
            };
            if current.is_some() {
                row.update(db).await?;
            } else {
                row.insert(db).await?;
            }
        }
    }
    let apps = app::Entity::find().filter(app::Column::GroupName.eq(name.clone())).count(db).await?;
    let row = app_group::Entity::find_by_id(name.clone()).one(db).await?;
    Ok(Group::new(name, apps, row.as_ref()))
}

/// A group's settings as stored: `(max_concurrent, window_secs, jitter_secs)`.
pub type Settings = (Option<i64>, Option<i64>, Option<i64>);

/// The settings `input` gives a group whose row is `current` (`None` keeps a current value), or
/// every field error at once.
pub fn settings_of(current: Option<&app_group::Model>, input: &GroupInput) -> Result<Settings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut take = |result: Result<Option<i64>, FieldError>| {
        result.unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    };
    let max_concurrent = match &input.max_concurrent {
        Some(text) => take(parse_limit("max_concurrent", text).map(|n| n.map(i64::from))),
        None => current.and_then(|c| c.max_concurrent).map(i64::from),
    };
    let window = match &input.window {
        Some(text) => take(parse_span("window", text, MAX_WINDOW_SECS)),
        None => current.and_then(|c| c.window_secs),
    };
    let jitter = match &input.jitter {
        Some(text) => take(parse_span("jitter", text, MAX_JITTER_SECS)),
        None => current.and_then(|c| c.jitter_secs),
    };
    if let (Some(w), Some(j)) = (window, jitter)
        && j > w
    {
        errors.push(FieldError::new(
            "jitter",
            Msg::new("field.jitter.over_group_window").with("jitter", format_span(j)).with("window", format_span(w)),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((max_concurrent, window, jitter))
}

/// Why a group's settings were not set.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// One or more fields are invalid; nothing was stored.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}
