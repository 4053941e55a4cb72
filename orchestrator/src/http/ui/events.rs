//! The pages' live progress routes; the streams themselves are `http::live`'s.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, Sse};
use futures::Stream;

use crate::db::entities::restore;
use crate::http::error::PageError;
use crate::http::live::{restore_stream, run_stream};
use crate::http::state::Web;
use crate::http::ui::Page;

/// `?after=`: the last log line the page already shows.
#[derive(Debug, serde::Deserialize)]
pub struct After {
    after: Option<i64>,
}

/// GET /runs/{id}/events?after=.
pub async fn run_events(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<After>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let run = crate::backup::lifecycle::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.run").with("id", id).into()))?;
    let zones = crate::overview::app_zones(&web.ctx.db, std::iter::once(run.app_id)).await?;
    let zone = zones.get(&run.app_id).cloned().unwrap_or_else(|| "UTC".to_owned());
    Ok(run_stream(&web, id, q.after.unwrap_or(0), Some((page.t, zone))))
}

/// GET /restores/{id}/events.
pub async fn restore_events(
    State(web): State<Web>,
    _page: Page,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    use sea_orm::EntityTrait;
    restore::Entity::find_by_id(id)
        .one(&web.ctx.db)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.restore").with("id", id).into()))?;
    Ok(restore_stream(&web, id))
}
