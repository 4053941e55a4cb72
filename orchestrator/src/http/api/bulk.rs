//! `POST /api/v1/apps/bulk`: one action on many apps, named or picked by a filter, answering per
//! app what was done or why not.

use axum::extract::State;
use axum::response::Json;

use crate::catalogue::Msg;
use crate::fleet::bulk::{ActionInput, Target};
use crate::fleet::filter::AppFilter;
use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::api::types::{BulkBody, BulkView};
use crate::http::auth::api_token::ApiCaller;
use crate::http::state::Web;
use crate::registry::input::FieldError;

/// Which apps the body names; refused (naming `apps`) unless exactly one of `apps` and
/// `filter` is given.
fn target(body: &BulkBody) -> Result<Target, ApiError> {
    match (&body.apps, &body.filter) {
        (Some(names), None) => Ok(Target::Apps(names.clone())),
        (None, Some(f)) => AppFilter::parse(f.q.as_deref(), f.tag.as_deref(), f.group.as_deref(), f.state.as_deref())
            .map(Target::Filter)
            .map_err(ApiError::Invalid),
        _ => Err(ApiError::Invalid(vec![FieldError::new("apps", Msg::new("field.apps.either"))])),
    }
}

/// POST /api/v1/apps/bulk.
pub async fn apply(
    State(web): State<Web>,
    c: ApiCaller,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<BulkBody>,
) -> Result<Json<BulkView>, ApiError> {
    let target = target(&body)?;
    let input = ActionInput {
        action: body.action,
        schedule: body.schedule,
        keep_last: body.keep_last,
        keep_daily: body.keep_daily,
        keep_weekly: body.keep_weekly,
        keep_monthly: body.keep_monthly,
        keep_within_days: body.keep_within_days,
        tags: body.tags.unwrap_or_default(),
        group: body.group,
    };
    if !c.role.allows(input.needs()) {
        let refused = crate::http::auth::session::refusal(c.role, input.needs());
        return Err(ApiError::Forbidden(refused.render(crate::catalogue::Lang::accepted(&headers))));
    }
    let intervals = web.ctx.notifier.settings().stale_after_intervals;
    let report = crate::fleet::bulk::run(&web.ctx.registry, &c.actor, &target, &input, intervals).await?;
    Ok(Json(BulkView::of(&report)))
}
