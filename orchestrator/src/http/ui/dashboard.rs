//! The dashboard: totals and Drive's upload budget, then one card per app (a page of them),
//! filtered by name, tag, group and state (query parameters, so a filtered view can be
//! bookmarked), with the count of apps in each state, and the bulk actions' form.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use crate::fleet::filter::{AppFilter, AppState};
use crate::http::error::PageError;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::overview::{self, AppCard};
use crate::schedule::cron::CronSchedule;

/// Cards per page.
pub const PER_PAGE: u64 = 24;

/// One card, ready to show.
pub struct CardView {
    /// Name.
    pub name: String,
    /// Scheduled (not paused).
    pub enabled: bool,
    /// The schedule in words.
    pub schedule: String,
    /// The next fire, when enabled.
    pub next_run: Option<String>,
    /// Last ended run: time, status, size.
    pub last: Option<(String, String, String)>,
    /// Queued or running now.
    pub active: Option<String>,
    /// Copies stored.
    pub copies: i64,
    /// Their size.
    pub bytes: String,
    /// The demo app.
    pub demo: bool,
    /// Its group.
    pub group: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
}

impl CardView {
    /// From a card, in the page's language.
    pub fn new(card: &AppCard, page: &Page) -> CardView {
        let app = &card.app;
        let next_run = app
            .enabled
            .then(|| CronSchedule::parse(&app.schedule, &app.time_zone).ok())
            .flatten()
            .and_then(|s| s.next_after(jiff::Timestamp::now()))
            .map(|t| format::in_zone(t.as_millisecond(), &app.time_zone));
        CardView {
            name: app.name.clone(),
            enabled: app.enabled,
            schedule: page.t.schedule(&app.schedule, &app.time_zone),
            next_run,
            last: card.last_run.as_ref().map(|r| {
                (
                    format::in_zone(r.finished_at.unwrap_or(r.queued_at), &app.time_zone),
                    r.status.as_str().to_owned(),
                    format::bytes(r.bytes),
                )
            }),
            active: card.active_run.as_ref().map(|r| r.status.as_str().to_owned()),
            copies: card.copies,
            bytes: format::bytes(card.bytes),
            demo: page.demo.as_deref() == Some(app.name.as_str()),
            group: app.group_name.clone(),
            tags: crate::registry::labels::parse_stored(&app.tags),
        }
    }
}

/// Drive's daily upload budget, ready to show.
pub struct BudgetLine {
    /// Uploaded in the window.
    pub used: String,
    /// The limit, when one is set.
    pub limit: Option<String>,
    /// The window.
    pub window: String,
    /// When spent: after when runs upload again.
    pub frees_at: Option<String>,
}

impl BudgetLine {
    fn new(u: &crate::backup::budget::Usage) -> BudgetLine {
        use crate::backup::budget::{human_bytes, human_window};
        BudgetLine {
            used: human_bytes(u.used),
            limit: u.limit.map(human_bytes),
            window: human_window(u.window),
            // Rounded up: the page shows minutes, and the budget must not look free before it is.
            frees_at: u.frees_at.map(|at| format::time(at + 59_999)),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    page: Page,
    totals: overview::Totals,
    proof: crate::backup::drill::Proof,
    budget: Option<BudgetLine>,
    bytes_stored: String,
    cards: Vec<CardView>,
    filter: AppFilter,
    /// Per state: its name, its count among the apps the other criteria pick, its link.
    states: Vec<(&'static str, u64, String)>,
    /// Groups and tags in use, for the filter's choices.
    groups: Vec<String>,
    tags: Vec<String>,
    current: u64,
    pages: u64,
    matching: u64,
    prev: Option<String>,
    next: Option<String>,
    /// The outcome of a bulk action, when the page follows one.
    bulk: Option<BulkNotice>,
    actions: [&'static str; 8],
}

impl DashboardPage {
    fn is_state(&self, state: &str) -> bool {
        self.filter.state.is_some_and(|s| s.as_str() == state)
    }

    fn is_tag(&self, tag: &str) -> bool {
        self.filter.tag.as_deref() == Some(tag)
    }

    fn is_group(&self, group: &str) -> bool {
        self.filter.group.as_deref() == Some(group)
    }
}

/// What a bulk action did, to show above the cards.
#[derive(Debug, Clone, Default)]
pub struct BulkNotice {
    /// "12 apps paused" and the like, or empty when nothing changed.
    pub line: String,
    /// Apps already as asked.
    pub unchanged: usize,
    /// Apps not changed, and why.
    pub failures: Vec<(String, String)>,
    /// Why the whole batch was refused (nothing changed).
    pub refused: Vec<String>,
}

impl BulkNotice {
    /// The result line of `changed` apps under `action` (one of the bulk actions).
    pub fn done(page: &Page, action: &str, changed: usize) -> String {
        let form = if changed == 1 { "one" } else { "many" };
        let key = format!("bulk.done.{action}.{form}");
        page.t.get(&key).replace("{n}", &changed.to_string())
    }
}

/// `?q=&tag=&group=&state=&page=`, and after a bulk action `done=&changed=&unchanged=`.
#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    q: Option<String>,
    tag: Option<String>,
    group: Option<String>,
    state: Option<String>,
    page: Option<u64>,
    done: Option<String>,
    changed: Option<usize>,
    unchanged: Option<usize>,
}

impl DashboardQuery {
    /// The filter it asks for; a bad criterion is a 400 naming it.
    pub fn filter(&self) -> Result<AppFilter, PageError> {
        AppFilter::parse(self.q.as_deref(), self.tag.as_deref(), self.group.as_deref(), self.state.as_deref())
            .map_err(|e| crate::registry::RegistryError::Invalid(e).into())
    }
}

/// GET /.
pub async fn page(
    State(web): State<Web>,
    page: Page,
    Query(query): Query<DashboardQuery>,
) -> Result<Html<String>, PageError> {
    let filter = query.filter()?;
    let bulk = query.done.as_deref().filter(|a| crate::fleet::bulk::ACTIONS.contains(a)).map(|action| BulkNotice {
        line: BulkNotice::done(&page, action, query.changed.unwrap_or(0)),
        unchanged: query.unchanged.unwrap_or(0),
        ..BulkNotice::default()
    });
    show(&web, page, filter, query.page.unwrap_or(1), bulk).await
}

/// The dashboard for `filter` at page `current` (1-based), with the outcome of a bulk action.
pub async fn show(
    web: &Web,
    page: Page,
    filter: AppFilter,
    current: u64,
    bulk: Option<BulkNotice>,
) -> Result<Html<String>, PageError> {
    let current = current.max(1);
    let intervals = web.ctx.notifier.settings().stale_after_intervals;
    let (cards, selection) = overview::cards(&web.ctx.db, &filter, intervals, current - 1, PER_PAGE).await?;
    let matching = selection.apps.len() as u64;
    let totals = overview::totals(&web.ctx.db).await?;
    let proof = crate::backup::drill::proof(&web.ctx.db).await?;
    let (groups, tags) = crate::fleet::filter::labels_in_use(&web.ctx.db).await?;
    let runner = &web.ctx.runner;
    let budget =
        crate::backup::budget::of_destination(&web.ctx.db, &runner.destination, &runner.settings.drive_budget).await?;
    let pages = matching.div_ceil(PER_PAGE).max(1);
    let base = filter.query();
    let link = |p: u64| if base.is_empty() { format!("/?page={p}") } else { format!("/?{base}&page={p}") };
    let states = AppState::ALL
        .into_iter()
        .map(|state| {
            let query = AppFilter { state: Some(state), ..filter.clone() }.query();
            (state.as_str(), selection.count(state), format!("/?{query}"))
        })
        .collect();
    let view = DashboardPage {
        bytes_stored: format::bytes(totals.bytes_stored),
        totals,
        proof,
        budget: budget.as_ref().map(BudgetLine::new),
        cards: cards.iter().map(|c| CardView::new(c, &page)).collect(),
        prev: (current > 1).then(|| link(current - 1)),
        next: (current < pages).then(|| link(current + 1)),
        filter,
        states,
        groups,
        tags,
        current,
        pages,
        matching,
        bulk,
        actions: crate::fleet::bulk::ACTIONS,
        page,
    };
    render(&view)
}
