//! Groups through the API: `GET /api/v1/groups` lists them (apps in each, limit, window,
//! jitter), `PUT /api/v1/groups/{name}` sets a group's settings (given fields change; "off"
//! removes one).

use axum::extract::{Path, State};
use axum::response::Json;

use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::auth::api_token::ApiCaller;
use crate::http::state::Web;
use crate::registry::groups::{self, Group, GroupInput, SetError};

/// GET /api/v1/groups.
pub async fn list(State(web): State<Web>, _c: ApiCaller) -> Result<Json<Vec<Group>>, ApiError> {
    Ok(Json(groups::list(&web.ctx.db).await?))
}

/// PUT /api/v1/groups/{name}: 200 with the group; 422 naming each field to fix, nothing stored.
pub async fn set(
    State(web): State<Web>,
    c: ApiCaller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<GroupInput>,
) -> Result<Json<Group>, ApiError> {
    match groups::set(&web.ctx.db, &name, &body).await {
        Ok(group) => {
            let detail = serde_json::to_string(&body).unwrap_or_default();
            crate::audit::record(&web.ctx.db, &c.actor, "group.set", Some(&group.name), Some(&detail)).await;
            Ok(Json(group))
        }
        Err(SetError::Invalid(errors)) => Err(ApiError::Invalid(errors)),
        Err(SetError::Db(e)) => Err(e.into()),
    }
}
