//! The **Users** page (admins): add people with a role, change their role and language, remove
//! them (their password typed again: a dangerous action).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use crate::db::entities::user;
use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::state::Web;
use crate::http::ui::copies::recheck_password;
use crate::http::ui::{Page, render};
use crate::users::{self, NewUser, Role, UserError};

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    page: Page,
    users: Vec<user::Model>,
    roles: Vec<&'static str>,
    first_admin: String,
    errors: Vec<String>,
}

async fn users_page(web: &Web, page: Page, errors: Vec<String>) -> Result<Html<String>, PageError> {
    let users = users::list(&web.ctx.db).await?;
    let roles = Role::ALL.into_iter().map(Role::as_str).collect();
    render(&UsersPage { page, users, roles, first_admin: web.settings.admin_user.clone(), errors })
}

async fn refused(web: &Web, page: Page, e: UserError) -> Result<Response, PageError> {
    let errors = match e {
        UserError::Invalid(errors) => errors.iter().map(|e| page.t.msg(&e.msg)).collect(),
        UserError::NotFound => {
            return Err(PageError::NotFound(crate::catalogue::Msg::new("field.user.not_found").into()));
        }
        UserError::Db(e) => return Err(e.into()),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, users_page(web, page, errors).await?).into_response())
}

/// GET /users.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    users_page(&web, page, Vec::new()).await
}

/// The add-user form.
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Option<SecretString>,
}

/// POST /users.
pub async fn create(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<AddForm>,
) -> Result<Response, PageError> {
    let new = NewUser {
        name: form.name,
        role: form.role,
        language: form.language,
        email: form.email,
        password: form.password,
    };
    match users::add(&web.ctx.db, new, &page.user, &web.settings.admin_user).await {
        Ok(row) => {
            crate::audit::record(&web.ctx.db, &page.user, "user.add", Some(&row.name), Some(&row.role)).await;
            Ok(Redirect::to("/users").into_response())
        }
        Err(e) => refused(&web, page, e).await,
    }
}

/// The edit-user form.
#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    language: String,
}

/// POST /users/{name}/edit.
pub async fn edit(
    State(web): State<Web>,
    page: Page,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<EditForm>,
) -> Result<Response, PageError> {
    let changed =
        users::update(&web.ctx.db, &name, Some(&form.role), Some(&form.language), None, &web.settings.admin_user).await;
    match changed {
        Ok(row) => {
            crate::audit::record(&web.ctx.db, &page.user, "user.update", Some(&row.name), Some(&row.role)).await;
            Ok(Redirect::to("/users").into_response())
        }
        Err(e) => refused(&web, page, e).await,
    }
}

/// The remove form: the admin's password again.
#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    password: SecretString,
}

/// POST /users/{name}/remove.
pub async fn remove(
    State(web): State<Web>,
    page: Page,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<RemoveForm>,
) -> Result<Response, PageError> {
    if let Err(error) = recheck_password(&web, &page, form.password).await {
        return Ok((StatusCode::FORBIDDEN, users_page(&web, page, vec![error]).await?).into_response());
    }
    match users::remove(&web.ctx.db, &name, &web.settings.admin_user).await {
        Ok(row) => {
            crate::audit::record(&web.ctx.db, &page.user, "user.remove", Some(&row.name), None).await;
            Ok(Redirect::to("/users").into_response())
        }
        Err(e) => refused(&web, page, e).await,
    }
}
