//! The dashboard: totals and Drive's upload budget, then one card per app (a page of them), searchable by name.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

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
            .map(|t| format::time(t.as_millisecond()));
        CardView {
            name: app.name.clone(),
            enabled: app.enabled,
            schedule: page.t.schedule(&app.schedule, &app.time_zone),
            next_run,
            last: card.last_run.as_ref().map(|r| {
                (
                    format::time(r.finished_at.unwrap_or(r.queued_at)),
                    r.status.as_str().to_owned(),
                    format::bytes(r.bytes),
                )
            }),
            active: card.active_run.as_ref().map(|r| r.status.as_str().to_owned()),
            copies: card.copies,
            bytes: format::bytes(card.bytes),
            demo: page.demo.as_deref() == Some(app.name.as_str()),
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
    q: String,
    current: u64,
    pages: u64,
    matching: u64,
    prev: Option<String>,
    next: Option<String>,
}

/// `?q=&page=`.
#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    q: Option<String>,
    page: Option<u64>,
}

/// GET /.
pub async fn page(
    State(web): State<Web>,
    page: Page,
    Query(query): Query<DashboardQuery>,
) -> Result<Html<String>, PageError> {
    let q = query.q.unwrap_or_default();
    let current = query.page.unwrap_or(1).max(1);
    let (cards, matching) = overview::cards(&web.ctx.db, &q, current - 1, PER_PAGE).await?;
    let totals = overview::totals(&web.ctx.db).await?;
    let proof = crate::backup::drill::proof(&web.ctx.db).await?;
    let runner = &web.ctx.runner;
    let budget =
        crate::backup::budget::of_destination(&web.ctx.db, &runner.destination, &runner.settings.drive_budget).await?;
    let pages = matching.div_ceil(PER_PAGE).max(1);
    let link = |p: u64| format!("/?q={}&page={p}", format::url_encode(&q));
    let view = DashboardPage {
        bytes_stored: format::bytes(totals.bytes_stored),
        totals,
        proof,
        budget: budget.as_ref().map(BudgetLine::new),
        cards: cards.iter().map(|c| CardView::new(c, &page)).collect(),
        prev: (current > 1).then(|| link(current - 1)),
        next: (current < pages).then(|| link(current + 1)),
        q,
        current,
        pages,
        matching,
        page,
    };
    render(&view)
}
