//! The audit log page: who did what, and when, newest first.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use crate::http::error::PageError;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};

const PER_PAGE: u64 = 100;

/// An entry, ready to show.
pub struct EntryRow {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// More, as HTML in the page's language.
    pub detail: String,
    /// The address the request came from ("" for the command line and background work).
    pub source: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Page,
    entries: Vec<EntryRow>,
    next: Option<u64>,
    prev: Option<u64>,
}

/// `?page=`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    page: Option<u64>,
}

/// GET /audit.
pub async fn page(State(web): State<Web>, page: Page, Query(q): Query<AuditQuery>) -> Result<Html<String>, PageError> {
    // The database takes offsets up to i64::MAX: a page past that is an empty page too.
    let n = q.page.unwrap_or(1).clamp(1, i64::MAX as u64 / PER_PAGE);
    let rows = crate::audit::page(&web.ctx.db, (n - 1) * PER_PAGE, PER_PAGE).await?;
    let next = (rows.len() as u64 == PER_PAGE).then_some(n + 1);
    let entries = rows
        .into_iter()
        .map(|r| EntryRow {
            at: format::time(r.at),
            actor: r.actor,
            action: r.action,
            target: r.target.unwrap_or_default(),
            detail: match r.detail_msg.as_deref().and_then(crate::catalogue::Msg::from_json) {
                Some(said) => said.render_html(page.t.lang),
                None => crate::http::format::escape(r.detail.as_deref().unwrap_or_default()),
            },
            source: r.source.unwrap_or_default(),
        })
        .collect();
    render(&AuditPage { page, entries, next, prev: (n > 1).then(|| n - 1) })
}
