//! The Groups page: every group apps are in, with how many backups of it may run at once (one per
//! database host, say), and the backup window and jitter its apps take unless they set their own.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::registry::groups::{self, Group, GroupInput, SetError};

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    page: Page,
    groups: Vec<Group>,
    /// The group whose form was refused, what was typed, and the errors by field.
    refused: Option<(String, GroupForm, BTreeMap<String, String>)>,
    /// The group just saved.
    saved: Option<String>,
}

impl GroupsPage {
    /// What the form of `group` shows for `field`: what was typed if it was refused, else the
    /// group's setting.
    fn value(&self, group: &Group, field: &str) -> String {
        if let Some((name, form, _)) = &self.refused
            && *name == group.name
        {
            return match field {
                "max_concurrent" => form.max_concurrent.clone(),
                "window" => form.window.clone(),
                _ => form.jitter.clone(),
            };
        }
        match field {
            "max_concurrent" => group.max_concurrent.map(|n| n.to_string()).unwrap_or_default(),
            "window" => group.window.clone().unwrap_or_default(),
            _ => group.jitter.clone().unwrap_or_default(),
        }
    }

    /// The error of `field` in the form of `group`, if it was refused.
    fn error(&self, group: &Group, field: &str) -> Option<String> {
        let (name, _, errors) = self.refused.as_ref()?;
        (*name == group.name).then(|| errors.get(field).cloned()).flatten()
    }
}

/// The form of one group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    max_concurrent: String,
    #[serde(default)]
    window: String,
    #[serde(default)]
    jitter: String,
}

/// GET /groups.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    let saved = page.path.split_once("saved=").map(|(_, name)| name.split('&').next().unwrap_or("").to_owned());
    render(&GroupsPage { groups: groups::list(&web.ctx.db).await?, page, refused: None, saved })
}

/// POST /groups/{name}: an empty field removes that setting.
pub async fn save(
    State(web): State<Web>,
    page: Page,
    Path(name): Path<String>,
    CheckedForm(form): CheckedForm<GroupForm>,
) -> Result<Response, PageError> {
    let input = GroupInput {
        max_concurrent: Some(form.max_concurrent.clone()),
        window: Some(form.window.clone()),
        jitter: Some(form.jitter.clone()),
    };
    match groups::set(&web.ctx.db, &name, &input).await {
        Ok(group) => {
            let detail = serde_json::to_string(&input).unwrap_or_default();
            crate::audit::record(&web.ctx.db, &page.user, "group.set", Some(&group.name), Some(&detail)).await;
            Ok(Redirect::to(&format!("/groups?saved={}", group.name)).into_response())
        }
        Err(SetError::Invalid(errors)) => {
            let errors = errors.into_iter().map(|e| (e.field, page.t.msg(&e.msg))).collect();
            let groups = groups::list(&web.ctx.db).await?;
            let html = render(&GroupsPage { page, groups, refused: Some((name, form, errors)), saved: None })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(SetError::Db(e)) => Err(e.into()),
    }
}
