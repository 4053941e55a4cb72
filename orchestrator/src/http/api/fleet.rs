//! The fleet as a file through the API: `GET /api/v1/fleet` answers every app's settings as a
//! fleet document (tokens as `{env: ...}` references), `POST /api/v1/fleet/apply` makes the
//! registry match one — a plan first, applied unless `dry_run`. Tokens only by environment
//! reference here: a file reference would let an API caller read the server's files.

use axum::extract::State;
use axum::response::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fleet::file::{self, ApplyOptions, FleetApp, FleetError, FleetFile, FleetGroup, GroupStep, Source, Step};
use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::auth::api_token::ApiCaller;
use crate::http::state::Web;
use crate::registry::input::FieldError;

/// `POST /api/v1/fleet/apply`: the fleet document, and how to apply it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetApplyBody {
    /// The apps, as in a fleet file; tokens as `{"env": "BACKUP_TOKEN_NAME"}` of the server (only
    /// variables named `BACKUP_TOKEN_…`).
    pub apps: Vec<FleetApp>,
    /// The groups' settings, as in a fleet file.
    #[serde(default)]
    pub groups: Vec<FleetGroup>,
    /// Also remove registered apps the document does not name (their stored copies stay).
    #[serde(default)]
    pub prune: bool,
    /// Only answer the plan; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Do not ask the apps added or changed.
    #[serde(default)]
    pub no_check: bool,
}

/// What applying did, or would do.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FleetPlanView {
    /// False for a dry run: nothing changed.
    pub applied: bool,
    /// Adds, changes, removals, then the unchanged apps.
    pub steps: Vec<Step>,
    /// The same for the groups' settings.
    pub groups: Vec<GroupStep>,
}

/// GET /api/v1/fleet.
pub async fn export(State(web): State<Web>, _c: ApiCaller) -> Result<Json<FleetFile>, ApiError> {
    let groups = crate::registry::groups::list(&web.ctx.db).await?;
    Ok(Json(file::export(&web.ctx.registry.list().await?, &groups)))
}

/// POST /api/v1/fleet/apply: 200 with the plan; 422 naming each app's field to fix, nothing
/// applied.
pub async fn apply(
    State(web): State<Web>,
    c: ApiCaller,
    JsonBody(body): JsonBody<FleetApplyBody>,
) -> Result<Json<FleetPlanView>, ApiError> {
    let options = ApplyOptions { prune: body.prune, dry_run: body.dry_run, no_check: body.no_check };
    let fleet = FleetFile { apps: body.apps, groups: body.groups };
    match file::apply(&web.ctx.registry, &fleet, options, Source::Api, &c.actor).await {
        Ok(plan) => Ok(Json(FleetPlanView { applied: !body.dry_run, steps: plan.apps, groups: plan.groups })),
        Err(FleetError::Invalid(problems)) => Err(ApiError::Invalid(
            problems.into_iter().map(|p| FieldError::new(&format!("{}.{}", p.app, p.field), p.message)).collect(),
        )),
        Err(FleetError::Unreadable(m)) => Err(ApiError::BadRequest(m)),
        Err(FleetError::Registry(e)) => Err(e.into()),
    }
}
