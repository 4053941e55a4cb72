//! The JSON API under `/api/v1`: everything the UI does, for scripts. Every route needs an API
//! token (`Authorization: Bearer bko_...`); errors are JSON with field details. The OpenAPI
//! document is committed (`orchestrator/api/openapi.yaml`) and served as JSON.

pub mod apps;
pub mod bulk;
pub mod channels;
pub mod destination;
pub mod error;
pub mod fleet;
pub mod groups;
pub mod openapi;
pub mod restores;
pub mod runs;
pub mod tokens;
pub mod types;
pub mod users;

use axum::http::Method;

use crate::http::access::Routes;
use crate::users::Role;

/// The API's routes, each with the least role it needs.
pub fn routes() -> Routes {
    use Role::{Admin, Operator, Restorer, Viewer};
    Routes::new()
        .get("/api/v1/openapi.json", Viewer, openapi::document)
        .get("/api/v1/stats", Viewer, runs::stats)
        // Checking a new app sends the token typed to the address typed: an admin's.
        .post("/api/v1/check", Admin, apps::check_new)
        .get("/api/v1/apps", Viewer, apps::list)
        .post("/api/v1/apps", Admin, apps::create)
        .get("/api/v1/fleet", Viewer, fleet::export)
        .post("/api/v1/fleet/apply", Admin, fleet::apply)
        // Pausing, resuming and Test now are an operator's; edits in bulk are checked per action.
        .post("/api/v1/apps/bulk", Operator, bulk::apply)
        .get("/api/v1/groups", Viewer, groups::list)
        .put("/api/v1/groups/{name}", Admin, groups::set)
        .get("/api/v1/apps/{name}", Viewer, apps::show)
        .patch("/api/v1/apps/{name}", Admin, apps::update)
        .dangerous(Method::DELETE, "/api/v1/apps/{name}", Admin, apps::delete)
        .post("/api/v1/apps/{name}/check", Operator, apps::check)
        .get("/api/v1/apps/{name}/stats", Viewer, runs::app_stats)
        .post("/api/v1/apps/{name}/runs", Operator, runs::run_now)
        .get("/api/v1/apps/{name}/copies", Viewer, apps::copies)
        .post("/api/v1/apps/{name}/adopt", Admin, apps::adopt)
        .post("/api/v1/apps/{name}/audit", Operator, apps::audit)
        .get("/api/v1/apps/{name}/audits", Viewer, apps::audits)
        .get("/api/v1/apps/{name}/drills", Viewer, restores::drills)
        .post("/api/v1/apps/{name}/drills", Restorer, restores::drill)
        .get("/api/v1/apps/{name}/copies/{copy}", Operator, apps::download)
        .dangerous(Method::DELETE, "/api/v1/apps/{name}/copies/{copy}", Admin, apps::delete_copy)
        .put("/api/v1/apps/{name}/copies/{copy}/pin", Operator, apps::pin)
        .delete("/api/v1/apps/{name}/copies/{copy}/pin", Admin, apps::unpin)
        .dangerous(Method::POST, "/api/v1/apps/{name}/copies/{copy}/restore", Restorer, restores::start)
        .get("/api/v1/restores/{id}", Viewer, restores::show)
        .get("/api/v1/restores/{id}/events", Viewer, restores::events)
        .post("/api/v1/restores/{id}/cancel", Operator, restores::cancel)
        .get("/api/v1/destination", Viewer, destination::show)
        .post("/api/v1/destination/check", Operator, destination::check)
        .get("/api/v1/queue", Viewer, runs::queue)
        .get("/api/v1/runs", Viewer, runs::list)
        .get("/api/v1/runs/{id}", Viewer, runs::show)
        .get("/api/v1/runs/{id}/events", Viewer, runs::events)
        .get("/api/v1/runs/{id}/log", Viewer, runs::log)
        .post("/api/v1/runs/{id}/cancel", Operator, runs::cancel)
        .get("/api/v1/notification-channels", Viewer, channels::list)
        .post("/api/v1/notification-channels", Admin, channels::create)
        .get("/api/v1/notification-channels/{id}", Viewer, channels::show)
        .patch("/api/v1/notification-channels/{id}", Admin, channels::update)
        .delete("/api/v1/notification-channels/{id}", Admin, channels::delete)
        .post("/api/v1/notification-channels/{id}/test", Admin, channels::test)
        .get("/api/v1/users", Admin, users::list)
        .post("/api/v1/users", Admin, users::create)
        .get("/api/v1/users/{name}", Admin, users::show)
        .patch("/api/v1/users/{name}", Admin, users::update)
        .dangerous(Method::DELETE, "/api/v1/users/{name}", Admin, users::remove)
        // Everyone makes tokens for themselves (never above their own role) and revokes their own.
        .get("/api/v1/tokens", Viewer, tokens::list)
        .post("/api/v1/tokens", Viewer, tokens::create)
        .delete("/api/v1/tokens/{id}", Viewer, tokens::revoke)
}
