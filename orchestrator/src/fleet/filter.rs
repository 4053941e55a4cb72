//! Which apps a filter picks: a name search, a tag, a group and a state (`failing`, `stale`,
//! `paused`, `never_run`, `running`), failing apps first, then by name; and how many apps are
//! in each state among those the other criteria pick, for the counts that head the dashboard.
//!
//! The state of an app is decided from a few facts per app ([`Facts`], a pure classification
//! tested as a table). The facts of every app are read in four queries that stay cheap with
//! thousands of apps and millions of runs, never a walk over every run: failing apps from their
//! alert state (`app_alerts.failing_since`, set by every failed or interrupted run and cleared by
//! the next success), apps with a run in the queue through the runs' status index, apps without
//! any run through the runs' app index (one probe per app), and staleness as the stale alerts
//! compute it (`notify::stale`).

use std::collections::HashMap;

use sea_orm::prelude::*;
use sea_orm::sea_query::LikeExpr;
use sea_orm::{FromQueryResult, QueryOrder, QuerySelect, Statement};

use crate::backup::lifecycle::Status;
use crate::catalogue::Msg;
use crate::db::entities::{app, app_alert, backup_run};
use crate::registry::input::FieldError;
use crate::registry::labels;

/// A state an app can be in (several at once: a paused app may be failing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppState {
    /// Its last backup failed or was interrupted (a failure since its last success).
    Failing,
    /// No verified copy for longer than its schedule allows (see `notify::stale`).
    Stale,
    /// Not scheduled.
    Paused,
    /// Never backed up: no run of it was ever recorded.
    NeverRun,
    /// A run of it is queued, running or waiting for Drive's budget now.
    Running,
}

impl AppState {
    /// Every state, in the order the dashboard shows their counts.
    pub const ALL: [AppState; 5] =
        [AppState::Failing, AppState::Stale, AppState::Paused, AppState::NeverRun, AppState::Running];

    /// As written in URLs, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Failing => "failing",
            AppState::Stale => "stale",
            AppState::Paused => "paused",
            AppState::NeverRun => "never_run",
            AppState::Running => "running",
        }
    }

    /// From its text; the error names the known states.
    pub fn parse(text: &str) -> Result<AppState, FieldError> {
        let text = text.trim().to_ascii_lowercase().replace('-', "_");
        AppState::ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            let known: Vec<&str> = AppState::ALL.iter().map(|s| s.as_str()).collect();
            FieldError::new(
                "state",
                Msg::new("field.state.unknown").with("given", &text).with("known", known.join(", ")),
            )
        })
    }
}

/// What an app's states are decided from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Scheduled (not paused).
    pub enabled: bool,
    /// A run failed or was interrupted since its last success.
    pub failing: bool,
    /// It has at least one run recorded.
    pub has_runs: bool,
    /// A run is queued, running or waiting now.
    pub active: bool,
    /// Past its schedule's allowance without a verified copy.
    pub stale: bool,
}

impl Default for Facts {
    /// An app the queries found nothing about: enabled, with runs (the query of apps without
    /// runs says otherwise), healthy.
    fn default() -> Self {
        Facts { enabled: true, failing: false, has_runs: true, active: false, stale: false }
    }
}

impl Facts {
    /// Whether the app is in `state`.
    pub fn has(&self, state: AppState) -> bool {
        match state {
            AppState::Failing => self.failing,
            AppState::Stale => self.stale,
            AppState::Paused => !self.enabled,
            AppState::NeverRun => !self.has_runs,
            AppState::Running => self.active,
        }
    }
}

/// Which apps: every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFilter {
    /// Part of the name (empty = any).
    pub search: String,
    /// Carries this tag.
    pub tag: Option<String>,
    /// In this group.
    pub group: Option<String>,
    /// In this state.
    pub state: Option<AppState>,
}

impl AppFilter {
    /// A filter from its texts (query parameters, API fields, CLI options); blank texts are no
    /// criterion. Every bad one is reported, naming its field.
    pub fn parse(
        search: Option<&str>,
        tag: Option<&str>,
        group: Option<&str>,
        state: Option<&str>,
    ) -> Result<AppFilter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let label = |field: &str, text: Option<&str>, errors: &mut Vec<FieldError>| {
            labels::group(text.unwrap_or("")).unwrap_or_else(|mut e| {
                e.field = field.to_owned();
                errors.push(e);
                None
            })
        };
        let tag = label("tag", tag, &mut errors);
        let group = label("group", group, &mut errors);
        let state = match state.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => AppState::parse(text).map_err(|e| errors.push(e)).ok(),
        };
        let search = search.unwrap_or("").trim().to_lowercase();
        if errors.is_empty() { Ok(AppFilter { search, tag, group, state }) } else { Err(errors) }
    }

    /// The same filter without its state (what the counts per state are taken over).
    pub fn without_state(&self) -> AppFilter {
        AppFilter { state: None, ..self.clone() }
    }

    /// As URL query parameters (`q=…&tag=…`), only those given; empty for no criterion.
    pub fn query(&self) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if !self.search.is_empty() {
            pairs.append_pair("q", &self.search);
        }
        if let Some(tag) = &self.tag {
            pairs.append_pair("tag", tag);
        }
        if let Some(group) = &self.group {
            pairs.append_pair("group", group);
        }
        if let Some(state) = self.state {
            pairs.append_pair("state", state.as_str());
        }
        pairs.finish()
    }

    /// Whether no criterion is given (every app matches).
    pub fn is_empty(&self) -> bool {
        *self == AppFilter::default()
    }
}

/// Failing apps first, then by name.
pub fn order(a: (&str, &Facts), b: (&str, &Facts)) -> std::cmp::Ordering {
    let failing = |f: &Facts| !f.has(AppState::Failing);
    failing(a.1).cmp(&failing(b.1)).then_with(|| a.0.cmp(b.0))
}

/// One app a filter picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// What its states are decided from.
    pub facts: Facts,
}

/// The apps a filter picks, in order, and the counts per state.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The matching apps, failing first, then by name (ids and names only: a page loads its own
    /// rows, so a fleet of thousands is never read whole).
    pub apps: Vec<Picked>,
    /// Per state, how many apps the filter's other criteria (name, tag, group) pick in it.
    pub counts: HashMap<AppState, u64>,
}

impl Selection {
    /// How many apps the filter's other criteria pick in `state`.
    pub fn count(&self, state: AppState) -> u64 {
        self.counts.get(&state).copied().unwrap_or(0)
    }
}

/// The apps `filter` picks, with their facts; `stale_intervals` is `STALE_AFTER_INTERVALS`.
pub async fn select(db: &DatabaseConnection, filter: &AppFilter, stale_intervals: u32) -> Result<Selection, DbErr> {
    let mut query = app::Entity::find();
    if !filter.search.is_empty() {
        query = query.filter(app::Column::Name.contains(&filter.search));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(app::Column::Tags.like(LikeExpr::new(labels::like_pattern(tag)).escape('\\')));
    }
    if let Some(group) = &filter.group {
        query = query.filter(app::Column::GroupName.eq(group.as_str()));
    }
    let apps: Vec<(i64, String, bool)> = query
        .select_only()
        .column(app::Column::Id)
        .column(app::Column::Name)
        .column(app::Column::Enabled)
        .order_by_asc(app::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    let facts = facts(db, stale_intervals).await?;
    let mut counts = HashMap::new();
    let mut picked = Vec::new();
    for (id, name, enabled) in apps {
        let mut f = facts.get(&id).copied().unwrap_or_default();
        // Set here: the facts' queries never look at it.
        f.enabled = enabled;
        for state in AppState::ALL {
            if f.has(state) {
                *counts.entry(state).or_insert(0) += 1;
            }
        }
        if filter.state.is_none_or(|s| f.has(s)) {
            picked.push(Picked { id, name, facts: f });
        }
    }
    picked.sort_by(|a, b| order((&a.name, &a.facts), (&b.name, &b.facts)));
    Ok(Selection { apps: picked, counts })
}

/// The rows of `ids`, in that order (those that still exist).
pub async fn rows(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<app::Model>, DbErr> {
    let mut by_id: HashMap<i64, app::Model> = HashMap::new();
    // In slices: a statement takes a bounded number of parameters.
    for chunk in ids.chunks(1000) {
        let found = app::Entity::find().filter(app::Column::Id.is_in(chunk.iter().copied())).all(db).await?;
        by_id.extend(found.into_iter().map(|a| (a.id, a)));
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Every app's facts but `enabled` (which its row holds), by app id.
async fn facts(db: &DatabaseConnection, stale_intervals: u32) -> Result<HashMap<i64, Facts>, DbErr> {
    let mut facts: HashMap<i64, Facts> = HashMap::new();
    let failing: Vec<i64> = app_alert::Entity::find()
        .select_only()
        .column(app_alert::Column::AppId)
        .filter(app_alert::Column::FailingSince.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    for app_id in failing {
        facts.entry(app_id).or_default().failing = true;
    }
    let active: Vec<i64> = backup_run::Entity::find()
        .select_only()
        .column(backup_run::Column::AppId)
        .distinct()
        .filter(backup_run::Column::Status.is_in(Status::ACTIVE))
        .into_tuple()
        .all(db)
        .await?;
    for app_id in active {
        facts.entry(app_id).or_default().active = true;
    }
    #[derive(FromQueryResult)]
    struct Id {
        id: i64,
    }
    // One probe of the runs' app index per app; a `NOT IN (SELECT app_id ...)` would read them all.
    let sql = "SELECT a.id AS id FROM apps a WHERE NOT EXISTS (SELECT 1 FROM backup_runs r WHERE r.app_id = a.id)";
    for row in Id::find_by_statement(Statement::from_string(db.get_database_backend(), sql)).all(db).await? {
        facts.entry(row.id).or_default().has_runs = false;
    }
    for f in crate::notify::stale::freshness(db, stale_intervals, jiff::Timestamp::now()).await? {
        if f.stale {
            facts.entry(f.app_id).or_default().stale = true;
        }
    }
    Ok(facts)
}

/// The groups and the tags apps carry, each sorted (the dashboard's filter choices).
pub async fn labels_in_use(db: &DatabaseConnection) -> Result<(Vec<String>, Vec<String>), DbErr> {
    let rows: Vec<(Option<String>, String)> = app::Entity::find()
        .select_only()
        .column(app::Column::GroupName)
        .column(app::Column::Tags)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut groups = std::collections::BTreeSet::new();
    let mut tags = std::collections::BTreeSet::new();
    for (group, stored) in rows {
        groups.extend(group);
        tags.extend(labels::parse_stored(&stored));
    }
    Ok((groups.into_iter().collect(), tags.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(enabled: bool, failing: bool, has_runs: bool, active: bool, stale: bool) -> Facts {
        Facts { enabled, failing, has_runs, active, stale }
    }

    #[test]
    fn states_follow_the_facts() {
        use AppState::*;
        let cases: [(Facts, &[AppState]); 8] = [
            (facts(true, false, false, false, false), &[NeverRun]),
            (facts(true, false, true, true, false), &[Running]),
            (facts(true, false, true, false, false), &[]),
            (facts(true, true, true, false, false), &[Failing]),
            (facts(true, true, true, true, false), &[Failing, Running]),
            (facts(false, true, true, false, false), &[Failing, Paused]),
            (facts(true, false, true, false, true), &[Stale]),
            (facts(false, false, false, false, false), &[Paused, NeverRun]),
        ];
        for (f, expected) in cases {
            let got: Vec<AppState> = AppState::ALL.into_iter().filter(|s| f.has(*s)).collect();
            assert_eq!(got, expected, "{f:?}");
        }
        assert_eq!(AppState::ALL.into_iter().filter(|s| Facts::default().has(*s)).count(), 0);
    }

    #[test]
    fn failing_apps_come_first_then_names() {
        let ok = facts(true, false, true, false, false);
        let bad = facts(true, true, true, false, false);
        let mut apps = [("a", ok), ("z", bad), ("b", bad), ("c", ok)];
        apps.sort_by(|a, b| order((a.0, &a.1), (b.0, &b.1)));
        let names: Vec<&str> = apps.iter().map(|a| a.0).collect();
        assert_eq!(names, ["b", "z", "a", "c"]);
    }

    #[test]
    fn filters_parse_from_their_texts_and_name_bad_fields() {
        let f = AppFilter::parse(Some(" Bill "), Some("Odoo"), Some(""), Some("never-run")).unwrap();
        assert_eq!(f.search, "bill");
        assert_eq!(f.tag.as_deref(), Some("odoo"));
        assert_eq!(f.group, None);
        assert_eq!(f.state, Some(AppState::NeverRun));
        assert_eq!(f.query(), "q=bill&tag=odoo&state=never_run");
        assert!(AppFilter::parse(None, None, None, None).unwrap().is_empty());
        let errors = AppFilter::parse(None, Some("a b"), Some("x/y"), Some("sleepy")).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tag", "group", "state"]);
        assert!(errors[2].msg.to_string().contains("failing, stale, paused, never_run, running"));
    }
}
