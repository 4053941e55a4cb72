//! The dashboard's bulk form: one action on the apps ticked, or on every app the filter picks.
//! A batch the form gets wrong (a bad schedule, retention, tag or group) is refused whole and
//! shown again with the reasons; otherwise the dashboard shows how many apps changed (and why
//! any did not).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};

use crate::catalogue::Msg;
use crate::fleet::bulk::{ActionInput, Done, Target};
use crate::fleet::filter::AppFilter;
use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::state::Web;
use crate::http::ui::Page;
use crate::http::ui::dashboard::{self, BulkNotice};
use crate::registry::RegistryError;
use crate::registry::input::FieldError;

/// The form as posted: its fields as pairs, since `app` repeats once per ticked card.
type Pairs = Vec<(String, String)>;

/// What the form asks for.
struct BulkForm {
    filter: Result<AppFilter, Vec<FieldError>>,
    target_all: bool,
    apps: Vec<String>,
    input: ActionInput,
    /// Fields that are not even numbers.
    errors: Vec<FieldError>,
}

impl BulkForm {
    fn of(pairs: &Pairs) -> BulkForm {
        let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let mut errors = Vec::new();
        let mut number = |name: &str| -> Option<u32> {
            let text = field(name).unwrap_or("").trim();
            if text.is_empty() {
                return None;
            }
            text.parse()
                .map_err(|_| {
                    errors.push(FieldError::new(
                        "retention",
                        Msg::new("field.retention.not_number")
                            .with_msg("name", Msg::new(retention_name(name)))
                            .with("given", text),
                    ))
                })
                .ok()
        };
        let input = ActionInput {
            action: field("action").unwrap_or("").to_owned(),
            schedule: field("schedule").map(str::to_owned),
            keep_last: number("keep_last"),
            keep_daily: number("keep_daily"),
            keep_weekly: number("keep_weekly"),
            keep_monthly: number("keep_monthly"),
            keep_within_days: number("keep_within_days"),
            tags: field("tags").map(|t| vec![t.to_owned()]).unwrap_or_default(),
            group: field("group").map(str::to_owned),
        };
        BulkForm {
            filter: AppFilter::parse(field("q"), field("filter_tag"), field("filter_group"), field("filter_state")),
            target_all: field("all_matching").is_some(),
            apps: pairs.iter().filter(|(k, _)| k == "app").map(|(_, v)| v.clone()).collect(),
            input,
            errors,
        }
    }
}

/// The catalogue's name of a retention field.
fn retention_name(field: &str) -> &'static str {
    match field {
        "keep_daily" => "retention.name.keep_daily",
        "keep_weekly" => "retention.name.keep_weekly",
        "keep_monthly" => "retention.name.keep_monthly",
        "keep_within_days" => "retention.name.keep_within_days",
        _ => "retention.name.keep_last",
    }
}

/// A refusal in the page's language, naming its field.
fn reason(page: &Page, e: &FieldError) -> String {
    format!("{}: {}", e.field, page.t.msg(&e.msg))
}

/// POST /apps/bulk.
pub async fn apply(
    State(web): State<Web>,
    page: Page,
    CheckedForm(pairs): CheckedForm<Pairs>,
) -> Result<Response, PageError> {
    let form = BulkForm::of(&pairs);
    let filter = form.filter.clone().unwrap_or_default();
    let web = &web;
    let refuse = |page: Page, errors: Vec<FieldError>, filter: AppFilter| async move {
        let notice = BulkNotice { refused: errors.iter().map(|e| reason(&page, e)).collect(), ..BulkNotice::default() };
        let html = dashboard::show(web, page, filter, 1, Some(notice)).await?;
        Ok::<Response, PageError>((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
    };
    let mut errors = form.errors.clone();
    if let Err(e) = &form.filter {
        errors.extend(e.iter().cloned());
    }
    if let Err(e) = form.input.validate() {
        errors.extend(e);
    }
    if !errors.is_empty() {
        return refuse(page, errors, filter).await;
    }
    if !page.signed.role.allows(form.input.needs()) {
        let refused = crate::http::auth::session::refusal(page.signed.role, form.input.needs());
        return Err(PageError::Forbidden(refused.into()));
    }
    let target = if form.target_all { Target::Filter(filter.clone()) } else { Target::Apps(form.apps.clone()) };
    let intervals = web.ctx.notifier.settings().stale_after_intervals;
    let report = match crate::fleet::bulk::run(&web.ctx.registry, &page.user, &target, &form.input, intervals).await {
        Ok(report) => report,
        Err(RegistryError::Invalid(errors)) => return refuse(page, errors, filter).await,
        Err(e) => return Err(e.into()),
    };
    let (changed, unchanged) = (report.count(Done::Changed), report.count(Done::Unchanged));
    let action = report.action.name();
    let failures: Vec<(String, String)> =
        report.outcomes.iter().filter(|o| o.done == Done::Failed).map(|o| (o.app.clone(), o.detail.clone())).collect();
    if failures.is_empty() {
        let base = filter.query();
        let sep = if base.is_empty() { "" } else { "&" };
        let to = format!("/?{base}{sep}done={action}&changed={changed}&unchanged={unchanged}");
        return Ok(Redirect::to(&to).into_response());
    }
    let notice = BulkNotice { line: BulkNotice::done(&page, action, changed), unchanged, failures, refused: vec![] };
    Ok(dashboard::show(web, page, filter, 1, Some(notice)).await?.into_response())
}
