//! The pages: server-rendered from `web/templates`, forms that work without JavaScript, a little
//! script (`web/static/app.js`) for live progress, the cron preview and confirmations.

pub mod adopt;
pub mod api_docs;
pub mod apps;
pub mod audit;
pub mod bulk;
pub mod copies;
pub mod dashboard;
pub mod encryption;
pub mod events;
pub mod form;
pub mod groups;
pub mod login;
pub mod notifications;
pub mod queue;
pub mod restore_file;
pub mod restores;
pub mod runs;
pub mod self_backup;
pub mod settings;
pub mod tokens;

use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{Html, Response};
use axum::routing::{get, post};

use crate::catalogue::{Lang, T};
use crate::http::auth::session::Signed;
use crate::http::error::PageError;
use crate::http::state::Web;

/// The page routes.
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(login::switch_language))
        .route("/", get(dashboard::page))
        .route("/apps/new", get(form::new_form).post(form::create))
        .route("/apps/bulk", post(bulk::apply))
        .route("/apps/{name}", get(apps::show))
        .route("/apps/{name}/edit", get(form::edit_form).post(form::update))
        .route("/apps/{name}/pause", post(apps::pause))
        .route("/apps/{name}/resume", post(apps::resume))
        .route("/apps/{name}/run", post(apps::run_now))
        .route("/apps/{name}/audit", post(apps::audit))
        .route("/apps/{name}/drill", post(apps::drill))
        .route("/apps/{name}/lost/{copy}/forget", post(apps::forget_lost))
        .route("/apps/{name}/delete", get(apps::confirm_delete).post(apps::delete))
        .route("/apps/{name}/adopt", get(adopt::preview).post(adopt::apply))
        .route("/apps/{name}/copies/{copy}/download", get(copies::download))
        .route("/apps/{name}/copies/{copy}/pin", post(copies::pin))
        .route("/apps/{name}/copies/{copy}/unpin", post(copies::unpin))
        .route("/apps/{name}/copies/{copy}/delete", get(copies::confirm_delete).post(copies::delete))
        .route("/apps/{name}/copies/{copy}/restore", get(restores::confirm).post(restores::start))
        .route(
            "/apps/{name}/restore-file",
            get(restore_file::form)
                .post(restore_file::start)
                // The file streams into the destination: no size is held here to limit.
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/restores/{id}", get(restores::show))
        .route("/restores/{id}/events", get(events::restore_events))
        .route("/restores/{id}/cancel", post(restores::cancel))
        .route("/runs", get(runs::list))
        .route("/runs/{id}", get(runs::show))
        .route("/runs/{id}/events", get(events::run_events))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/queue", get(queue::page))
        .route("/notifications", get(notifications::page).post(notifications::create))
        .route("/notifications/{id}/edit", get(notifications::edit_form).post(notifications::edit))
        .route("/notifications/{id}/test", post(notifications::test))
        .route("/notifications/{id}/pause", post(notifications::pause))
        .route("/notifications/{id}/resume", post(notifications::resume))
        .route("/notifications/{id}/delete", post(notifications::delete))
        .route("/audit", get(audit::page))
        .route("/settings/drive", get(settings::drive))
        .route("/settings/encryption", get(encryption::page))
        .route("/settings/self-backup", get(self_backup::page))
        .route("/settings/self-backup/run", post(self_backup::run))
        .route("/settings/drive/check", post(settings::check))
        .route("/settings/drive/connect", post(settings::connect))
        .route("/settings/drive/disconnect", post(settings::disconnect))
        .route("/settings/drive/client", post(settings::upload_client))
        .route("/settings/drive/folder", post(settings::create_folder))
        .route("/oauth/google/callback", get(settings::callback))
        .route("/groups", get(groups::page))
        .route("/groups/{name}", post(groups::save))
        .route("/tokens", get(tokens::page).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/cron/preview", get(form::cron_preview))
        .route("/api-docs", get(api_docs::page))
        .route("/api-docs/openapi.yaml", get(api_docs::yaml))
}

/// What every signed-in page's layout needs.
#[derive(Debug, Clone)]
pub struct Page {
    /// Texts in the page's language.
    pub t: T,
    /// The signed-in admin.
    pub user: String,
    /// The session's CSRF token, for the forms.
    pub csrf: String,
    /// This page's path and query (the language switch comes back to it).
    pub path: String,
    /// The demo app's name in demo mode.
    pub demo: Option<String>,
    /// Where backups go, for the footer.
    pub destination: String,
    /// The session.
    pub signed: Signed,
}

impl Page {
    /// The language's code (`en`, `es`).
    pub fn lang(&self) -> &'static str {
        self.t.lang.code()
    }

    /// The path, percent-encoded for a query value.
    pub fn back(&self) -> String {
        crate::http::format::url_encode(&self.path)
    }

    /// Refuses a form without this session's CSRF token.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), PageError> {
        self.signed.check_csrf(given)
    }
}

impl FromRequestParts<Web> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        let signed = Signed::from_request_parts(parts, web).await?;
        let path = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        Ok(Page {
            t: T { lang: Lang::of(&parts.headers) },
            user: signed.user.clone(),
            csrf: signed.csrf.clone(),
            path: path.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            demo: web.demo_app.clone(),
            destination: web.ctx.runner.destination.location(),
            signed,
        })
    }
}

/// Renders a template into a page.
pub fn render(template: &impl askama::Template) -> Result<Html<String>, PageError> {
    Ok(Html(template.render()?))
}
