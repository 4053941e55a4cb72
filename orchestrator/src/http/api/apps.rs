//! `/api/v1/apps`: CRUD, check connection, copies (list, download, delete, pin, adopt).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;

use crate::backup::copies;
use crate::catalogue::Msg;
use crate::fleet::filter::{AppFilter, AppState};
use crate::http::api::error::ApiError;
use crate::http::api::types::{
    AdoptBody, AdoptView, AppBody, AppList, AppView, AuditBody, AuditHistoryView, AuditRecordView, AuditView,
    BadCopyView, CheckBody, CheckView, CopyView, NoteBody,
};
use crate::http::auth::api_token::ApiCaller;
use crate::http::extract::ApiApp;
use crate::http::state::Web;
use crate::registry::input::FieldError;

/// A JSON body, with a readable error when it is not valid JSON of the right shape.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(value)) => shaped(value).map(JsonBody),
            Err(e) => {
                Err(ApiError::BadRequest(format!("the body must be JSON of the documented shape: {}", e.body_text())))
            }
        }
    }
}

/// Reads a JSON value as `T`. JSON Schema counts `232.0` as the integer 232, and so does the
/// document; serde would refuse it for an integer field, so whole numbers written with a
/// fraction are made integers first.
fn shaped<T: serde::de::DeserializeOwned>(mut value: serde_json::Value) -> Result<T, ApiError> {
    fn whole(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // Within ±2^53 a float holds every whole number exactly.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    *value = serde_json::Value::from(f as i64);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(whole),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(whole),
            _ => {}
        }
    }
    whole(&mut value);
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("the body must be JSON of the documented shape: {e}")))
}

/// An optional JSON body: none when the request has an empty body, else as [`JsonBody`].
impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let json =
            req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        let bytes = <axum::body::Bytes as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("the body could not be read: {}", e.body_text())))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::BadRequest("send the body as JSON, with Content-Type: application/json".into()));
        }
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("the body must be JSON of the documented shape: {e}")))?;
        shaped(value).map(|value| Some(JsonBody(value)))
    }
}

/// `?q=&tag=&group=&state=&page=&per_page=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    tag: Option<String>,
    group: Option<String>,
    state: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// GET /api/v1/apps: failing apps first, then by name.
pub async fn list(
    State(web): State<Web>,
    _c: ApiCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<AppList>, ApiError> {
    let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
    let page = q.page.unwrap_or(1).max(1);
    let filter = AppFilter::parse(q.q.as_deref(), q.tag.as_deref(), q.group.as_deref(), q.state.as_deref())
        .map_err(ApiError::Invalid)?;
    let intervals = web.ctx.notifier.settings().stale_after_intervals;
    let (cards, selection) = crate::overview::cards(&web.ctx.db, &filter, intervals, page - 1, per_page).await?;
    Ok(Json(AppList {
        apps: cards.iter().map(AppView::of_card).collect(),
        total: selection.apps.len() as u64,
        states: AppState::ALL.iter().map(|s| (s.as_str().to_owned(), selection.count(*s))).collect(),
    }))
}

/// POST /api/v1/apps.
pub async fn create(
    State(web): State<Web>,
    c: ApiCaller,
    JsonBody(body): JsonBody<AppBody>,
) -> Result<Response, ApiError> {
    let app = web.ctx.registry.add_checked(&body.input(), !body.no_check).await?;
    crate::audit::record(&web.ctx.db, &c.actor, "app.create", Some(&app.name), None).await;
    Ok((StatusCode::CREATED, Json(AppView::new(&app))).into_response())
}

/// GET /api/v1/apps/{name}.
pub async fn show(State(web): State<Web>, _c: ApiCaller, ApiApp(app): ApiApp) -> Result<Json<AppView>, ApiError> {
    let filter = AppFilter { search: app.name.clone(), ..AppFilter::default() };
    let intervals = web.ctx.notifier.settings().stale_after_intervals;
    let (cards, _) = crate::overview::cards(&web.ctx.db, &filter, intervals, 0, 500).await?;
    Ok(Json(cards.iter().find(|c| c.app.id == app.id).map_or_else(|| AppView::new(&app), AppView::of_card)))
}

/// PATCH /api/v1/apps/{name}.
pub async fn update(
    State(web): State<Web>,
    c: ApiCaller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<AppBody>,
) -> Result<Json<AppView>, ApiError> {
    let app = web.ctx.registry.edit_checked(&name, &body.input(), !body.no_check).await?;
    crate::audit::record(&web.ctx.db, &c.actor, "app.update", Some(&app.name), None).await;
    Ok(Json(AppView::new(&app)))
}

/// `?delete_copies=true`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    delete_copies: bool,
}

/// DELETE /api/v1/apps/{name}: its copies stay unless `delete_copies=true`.
pub async fn delete(
    State(web): State<Web>,
    c: ApiCaller,
    ApiApp(app): ApiApp,
    Query(q): Query<DeleteQuery>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let mut detail = crate::catalogue::Msg::new("audit_detail.copies_kept");
    if q.delete_copies {
        c.confirm(&web, &headers).await?;
        let deleted = copies::delete_all(&web.ctx.runner, &app).await?;
        detail = crate::catalogue::Msg::new("audit_detail.copies_deleted").with("n", deleted);
    }
    web.ctx.registry.remove(&app.name).await?;
    crate::audit::record_said(&web.ctx.db, &c.actor, "app.delete", Some(&app.name), &detail).await;
    Ok(StatusCode::NO_CONTENT)
}

fn check_view(result: Result<contract_spec::Capabilities, crate::error::Error>) -> CheckView {
    match result {
        Ok(caps) => CheckView {
            ok: true,
            app: Some(caps.app),
            types: caps.types.into_iter().map(|t| t.name).collect(),
            restore: caps.restore,
            error: None,
        },
        Err(error) => CheckView { ok: false, app: None, types: vec![], restore: false, error: Some(error.to_string()) },
    }
}

/// POST /api/v1/apps/{name}/check: the registered app's capabilities, with its stored token.
pub async fn check(_c: ApiCaller, ApiApp(app): ApiApp) -> Result<Json<CheckView>, ApiError> {
    Ok(Json(check_view(crate::registry::check::check(&app.url, app.token.clone()).await)))
}

/// POST /api/v1/check: a URL and token before registering.
pub async fn check_new(_c: ApiCaller, JsonBody(body): JsonBody<CheckBody>) -> Result<Json<CheckView>, ApiError> {
    if body.token.trim().is_empty() {
        return Err(ApiError::Invalid(vec![FieldError::new("token", Msg::new("field.token.required"))]));
    }
    Ok(Json(check_view(crate::registry::check::check(&body.url, secrecy::SecretString::from(body.token)).await)))
}

/// GET /api/v1/apps/{name}/copies.
pub async fn copies(
    State(web): State<Web>,
    _c: ApiCaller,
    ApiApp(app): ApiApp,
) -> Result<Json<Vec<CopyView>>, ApiError> {
    let files = copies::list(&web.ctx.runner, &app).await?;
    Ok(Json(files.iter().map(CopyView::of).collect()))
}

/// POST /api/v1/apps/{name}/audit: audit the app's copies now.
pub async fn audit(
    State(web): State<Web>,
    c: ApiCaller,
    ApiApp(app): ApiApp,
    JsonBody(body): JsonBody<AuditBody>,
) -> Result<Json<AuditView>, ApiError> {
    let sample_percent = match body.sample_percent.unwrap_or(0) {
        n @ 0..=100 => n as u8,
        n => {
            return Err(ApiError::Invalid(vec![FieldError::new(
                "sample_percent",
                Msg::new("field.sample_percent.range").with("given", n),
            )]));
        }
    };
    let options = crate::backup::audit::Options { sample_percent, trigger: "api" };
    let reports = crate::backup::audit::audit(&web.ctx.runner, std::slice::from_ref(&app), options).await;
    let report = reports.into_iter().next().unwrap_or_default();
    let summary = report.summary();
    crate::audit::record_said(&web.ctx.db, &c.actor, "copies.audit", Some(&app.name), &summary).await;
    if let Some(error) = &report.error {
        return Err(
            crate::error::Error::Destination { message: error.clone(), retry: crate::error::Retry::Temporary }.into()
        );
    }
    Ok(Json(AuditView::of(&report)))
}

/// GET /api/v1/apps/{name}/audits: the app's audits, newest first, and its copies lost or damaged.
pub async fn audits(
    State(web): State<Web>,
    _c: ApiCaller,
    ApiApp(app): ApiApp,
) -> Result<Json<AuditHistoryView>, ApiError> {
    let text = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
    let audits = crate::backup::audit::history(&web.ctx.db, app.id, 50).await?;
    let bad = crate::backup::audit::bad_copies(&web.ctx.db, app.id).await?;
    Ok(Json(AuditHistoryView {
        audits: audits
            .into_iter()
            .map(|a| AuditRecordView {
                trigger: a.trigger,
                started_at: text(a.started_at),
                finished_at: text(a.finished_at),
                copies: a.copies,
                good: a.good,
                lost: a.lost,
                damaged: a.damaged,
                read_back: a.read_back,
                error: a.error,
            })
            .collect(),
        bad_copies: bad
            .into_iter()
            .map(|b| BadCopyView {
                name: b.name,
                health: b.health,
                detail: b.health_detail,
                since: b.health_since.map(text),
            })
            .collect(),
    }))
}

/// POST /api/v1/apps/{name}/adopt: adopt files of the app's folder the orchestrator did not
/// write (a dry run unless `apply`).
pub async fn adopt(
    State(web): State<Web>,
    c: ApiCaller,
    ApiApp(app): ApiApp,
    JsonBody(body): JsonBody<AdoptBody>,
) -> Result<Json<AdoptView>, ApiError> {
    use crate::error::{Class, Error};
    let req = crate::backup::adopt::AdoptRequest {
        pattern: body.pattern,
        backup_type: body.backup_type,
        apply: body.apply.unwrap_or(false),
        count_in_retention: body.count_in_retention.unwrap_or(false),
        actor: c.actor,
    };
    match crate::backup::adopt::adopt(&web.ctx.runner, &app, &req).await {
        Ok(adoption) => Ok(Json(AdoptView::of(&adoption))),
        // What the operator typed is what to fix: say which field.
        Err(Error::Said(Class::NotFound, m)) => Err(ApiError::Invalid(vec![FieldError::new("match", m)])),
        Err(Error::Said(Class::Invalid, m)) => {
            let field = if req.pattern.trim().is_empty() { "match" } else { "type" };
            Err(ApiError::Invalid(vec![FieldError::new(field, m)]))
        }
        Err(e) => Err(e.into()),
    }
}

/// PUT /api/v1/apps/{name}/copies/{copy}/pin: pin a copy (body: an optional note).
pub async fn pin(
    State(web): State<Web>,
    c: ApiCaller,
    Path((name, copy)): Path<(String, String)>,
    body: Option<JsonBody<NoteBody>>,
) -> Result<Json<CopyView>, ApiError> {
    set_pin(&web, &c, &name, &copy, true, body.map(|JsonBody(b)| b).unwrap_or_default()).await
}

/// DELETE /api/v1/apps/{name}/copies/{copy}/pin: unpin a copy.
pub async fn unpin(
    State(web): State<Web>,
    c: ApiCaller,
    Path((name, copy)): Path<(String, String)>,
) -> Result<Json<CopyView>, ApiError> {
    set_pin(&web, &c, &name, &copy, false, NoteBody::default()).await
}

/// A note as stored, or a 422 naming the `note` field.
pub fn checked_note(note: &str) -> Result<String, ApiError> {
    copies::note_problem(note).map_err(|problem| ApiError::Invalid(vec![FieldError::new("note", problem.msg())]))
}

async fn set_pin(
    web: &Web,
    c: &ApiCaller,
    name: &str,
    copy: &str,
    pin: bool,
    body: NoteBody,
) -> Result<Json<CopyView>, ApiError> {
    if let Some(note) = &body.note {
        checked_note(note)?;
    }
    let (app, file) = find(web, name, copy).await?;
    let file = copies::set_pin(&web.ctx.runner, &app, &file, pin, body.note.as_deref()).await?;
    let action = if pin { "copy.pin" } else { "copy.unpin" };
    crate::audit::record(&web.ctx.db, &c.actor, action, Some(&app.name), Some(&file.name)).await;
    Ok(Json(CopyView::of(&file)))
}

async fn find(
    web: &Web,
    name: &str,
    copy: &str,
) -> Result<(crate::registry::App, crate::storage::destination::StoredFile), ApiError> {
    let app = web.ctx.registry.get(name).await?;
    let file = copies::find(&web.ctx.runner, &app, copy).await?.ok_or_else(|| {
        ApiError::not_found(crate::catalogue::Msg::new("missing.copy").with("app", name).with("copy", copy))
    })?;
    Ok((app, file))
}

/// GET /api/v1/apps/{name}/copies/{copy}: the bytes, streamed from the destination (`?as=plain`:
/// decrypted and decompressed).
pub async fn download(
    State(web): State<Web>,
    c: ApiCaller,
    Path((name, copy)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<crate::http::download::DownloadQuery>,
) -> Result<Response, ApiError> {
    let plain = query.plain()?;
    let (app, file) = find(&web, &name, &copy).await?;
    crate::audit::record(&web.ctx.db, &c.actor, "copy.download", Some(&app.name), Some(&file.name)).await;
    Ok(crate::http::download::response(&web, &app, &file, plain).await?)
}

/// DELETE /api/v1/apps/{name}/copies/{copy}.
pub async fn delete_copy(
    State(web): State<Web>,
    c: ApiCaller,
    Path((name, copy)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (app, file) = find(&web, &name, &copy).await?;
    c.confirm(&web, &headers).await?;
    copies::delete(&web.ctx.runner, &app, &file).await?;
    crate::audit::record(&web.ctx.db, &c.actor, "copy.delete", Some(&app.name), Some(&file.name)).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Keep {
        keep_weekly: Option<u32>,
        tags: Vec<String>,
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_read_as_an_integer() {
        let keep: Keep = shaped(serde_json::json!({"keep_weekly": 232.0, "tags": []})).unwrap();
        assert_eq!(keep, Keep { keep_weekly: Some(232), tags: vec![] });
    }

    #[test]
    fn a_fraction_or_a_number_out_of_range_is_still_refused() {
        for body in
            [serde_json::json!({"keep_weekly": 2.5, "tags": []}), serde_json::json!({"keep_weekly": 1e20, "tags": []})]
        {
            assert!(matches!(shaped::<Keep>(body), Err(ApiError::BadRequest(_))));
        }
    }
}
