//! The pages: server-rendered from `web/templates`, forms that work without JavaScript, a little
//! script (`web/static/app.js`) for live progress, the cron preview and confirmations.

pub mod account;
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
pub mod oidc;
pub mod queue;
pub mod restore_file;
pub mod restores;
pub mod runs;
pub mod self_backup;
pub mod settings;
pub mod tokens;
pub mod users;

use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{Html, Response};
use axum::routing::{get, post};

use crate::catalogue::{Lang, T};
use crate::http::access::{Need, Routes};
use crate::http::auth::session::Signed;
use crate::http::error::PageError;
use crate::http::state::Web;
use crate::users::Role;

/// The pages anyone may ask for: sign-in (with a password or through the identity provider)
/// and the language switch.
pub fn public() -> Router<Web> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/login/oidc", get(oidc::start))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/lang/{code}", get(login::switch_language))
}

/// The signed-in pages, each with the least role it needs.
pub fn routes() -> Routes {
    use Role::{Admin, Operator, Restorer, Viewer};
    Routes::new()
        .post("/logout", Viewer, login::logout)
        .get("/", Viewer, dashboard::page)
        .get("/apps/new", Admin, form::new_form)
        .post("/apps/new", Admin, form::create)
        // Pausing, resuming and Test now are an operator's; edits in bulk are checked per action.
        .post("/apps/bulk", Operator, bulk::apply)
        .get("/apps/{name}", Viewer, apps::show)
        .get("/apps/{name}/edit", Admin, form::edit_form)
        .post("/apps/{name}/edit", Admin, form::update)
        .post("/apps/{name}/pause", Operator, apps::pause)
        .post("/apps/{name}/resume", Operator, apps::resume)
        .post("/apps/{name}/run", Operator, apps::run_now)
        .post("/apps/{name}/audit", Operator, apps::audit)
        .post("/apps/{name}/drill", Restorer, apps::drill)
        .post("/apps/{name}/lost/{copy}/forget", Admin, apps::forget_lost)
        .get("/apps/{name}/delete", Admin, apps::confirm_delete)
        .dangerous(Method::POST, "/apps/{name}/delete", Admin, apps::delete)
        .get("/apps/{name}/adopt", Admin, adopt::preview)
        .post("/apps/{name}/adopt", Admin, adopt::apply)
        .get("/apps/{name}/copies/{copy}/download", Operator, copies::download)
        .post("/apps/{name}/copies/{copy}/pin", Operator, copies::pin)
        // Unpinned, a copy can be pruned: as much a deletion as any.
        .post("/apps/{name}/copies/{copy}/unpin", Admin, copies::unpin)
        .get("/apps/{name}/copies/{copy}/delete", Admin, copies::confirm_delete)
        .dangerous(Method::POST, "/apps/{name}/copies/{copy}/delete", Admin, copies::delete)
        .get("/apps/{name}/copies/{copy}/restore", Restorer, restores::confirm)
        .dangerous(Method::POST, "/apps/{name}/copies/{copy}/restore", Restorer, restores::start)
        .get("/apps/{name}/restore-file", Restorer, restore_file::form)
        .add(
            Method::POST,
            "/apps/{name}/restore-file",
            Need { role: Restorer, confirm: true },
            // The file streams into the destination: no size is held here to limit.
            post(restore_file::start).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .get("/restores/{id}", Viewer, restores::show)
        .get("/restores/{id}/events", Viewer, events::restore_events)
        .post("/restores/{id}/cancel", Operator, restores::cancel)
        .get("/runs", Viewer, runs::list)
        .get("/runs/{id}", Viewer, runs::show)
        .get("/runs/{id}/events", Viewer, events::run_events)
        .post("/runs/{id}/cancel", Operator, runs::cancel)
        .get("/queue", Viewer, queue::page)
        .get("/notifications", Viewer, notifications::page)
        .post("/notifications", Admin, notifications::create)
        .get("/notifications/{id}/edit", Admin, notifications::edit_form)
        .post("/notifications/{id}/edit", Admin, notifications::edit)
        .post("/notifications/{id}/test", Admin, notifications::test)
        .post("/notifications/{id}/pause", Admin, notifications::pause)
        .post("/notifications/{id}/resume", Admin, notifications::resume)
        .post("/notifications/{id}/delete", Admin, notifications::delete)
        .get("/audit", Viewer, audit::page)
        .get("/settings/drive", Viewer, settings::drive)
        .get("/settings/encryption", Viewer, encryption::page)
        .get("/settings/self-backup", Viewer, self_backup::page)
        .post("/settings/self-backup/run", Operator, self_backup::run)
        .post("/settings/drive/check", Operator, settings::check)
        .post("/settings/drive/connect", Admin, settings::connect)
        .post("/settings/drive/disconnect", Admin, settings::disconnect)
        .post("/settings/drive/client", Admin, settings::upload_client)
        .post("/settings/drive/folder", Admin, settings::create_folder)
        .get("/oauth/google/callback", Admin, settings::callback)
        .get("/groups", Viewer, groups::page)
        .post("/groups/{name}", Admin, groups::save)
        // Everyone makes tokens for themselves (never above their own role) and revokes their own.
        .get("/tokens", Viewer, tokens::page)
        .post("/tokens", Viewer, tokens::create)
        .post("/tokens/{id}/revoke", Viewer, tokens::revoke)
        .get("/users", Admin, users::page)
        .post("/users", Admin, users::create)
        .post("/users/{name}/edit", Admin, users::edit)
        .dangerous(Method::POST, "/users/{name}/remove", Admin, users::remove)
        .get("/account", Viewer, account::page)
        .post("/account/password", Viewer, account::password)
        .post("/account/language", Viewer, account::language)
        .post("/account/sessions/{id}/revoke", Viewer, account::revoke)
        .get("/cron/preview", Viewer, form::cron_preview)
        .get("/api-docs", Viewer, api_docs::page)
        .get("/api-docs/openapi.yaml", Viewer, api_docs::yaml)
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

    /// The signed-in user's role, in the page's language.
    pub fn role_text(&self) -> String {
        self.t.get(&format!("role.{}", self.signed.role)).to_owned()
    }

    /// True when the signed-in user may do an operator's actions (Test now, pause, cancel,
    /// download): the pages show those buttons only then.
    pub fn operator(&self) -> bool {
        self.signed.role.allows(Role::Operator)
    }

    /// True when they may restore.
    pub fn restorer(&self) -> bool {
        self.signed.role.allows(Role::Restorer)
    }

    /// True when they may change and delete.
    pub fn admin(&self) -> bool {
        self.signed.role.allows(Role::Admin)
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
        // The user's own language, unless they switched this browser to another.
        let lang = page_language(&parts.headers, signed.language);
        crate::http::i18n::set_reader(lang);
        Ok(Page {
            t: T { lang },
            user: signed.user.clone(),
            csrf: signed.csrf.clone(),
            path: path.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            demo: web.demo_app.clone(),
            destination: web.ctx.runner.destination.location_in(lang),
            signed,
        })
    }
}

fn page_language(headers: &axum::http::HeaderMap, chosen: Option<Lang>) -> Lang {
    let switched = crate::http::auth::cookie(headers, crate::http::i18n::COOKIE).and_then(Lang::parse);
    switched.or(chosen).unwrap_or_else(|| Lang::of(headers))
}

/// Renders a template into a page.
pub fn render(template: &impl askama::Template) -> Result<Html<String>, PageError> {
    Ok(Html(template.render()?))
}
