//! The Encryption page: who copies are encrypted to (with fingerprints), whether this
//! orchestrator holds an identity that opens them, and each app's setting beside how many of its
//! copies are encrypted, so an app left in the clear stands out.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use sea_orm::QuerySelect;
use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, Func};

use crate::db::entities::backup_copy;
use crate::http::error::PageError;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};

/// A recipient, ready to show.
pub struct KeyRow {
    /// Short fingerprint (what the copies' marks record).
    pub fingerprint: String,
    /// The age public key.
    pub recipient: String,
}

/// An app's encryption, ready to show.
pub struct AppRow {
    /// Name.
    pub name: String,
    /// Percent-encoded name.
    pub href: String,
    /// `on` (asked), `auto` (on because recipients are configured), `off` (asked off), `none`
    /// (would encrypt, but no recipient is configured).
    pub setting: &'static str,
    /// New copies are encrypted.
    pub encrypts: bool,
    /// The app's own recipients.
    pub own: Vec<KeyRow>,
    /// Copies kept now.
    pub copies: i64,
    /// Of which encrypted.
    pub encrypted: i64,
}

#[derive(Template)]
#[template(path = "encryption.html")]
struct EncryptionPage {
    page: Page,
    recipients: Vec<KeyRow>,
    source: Option<String>,
    /// The identities this orchestrator holds, by fingerprint; `None` = it holds none.
    identity: Option<Vec<String>>,
    apps: Vec<AppRow>,
}

impl EncryptionPage {
    fn clear_apps(&self) -> Vec<&AppRow> {
        self.apps.iter().filter(|a| !a.encrypts || a.encrypted < a.copies).collect()
    }
}

fn key_row(r: &crate::codec::keys::Recipient) -> KeyRow {
    KeyRow { fingerprint: r.fingerprint(), recipient: r.as_str().to_owned() }
}

/// Live copies per app, all and encrypted only.
async fn counts(db: &DatabaseConnection) -> Result<(HashMap<i64, i64>, HashMap<i64, i64>), DbErr> {
    let per_app = |encrypted: bool| {
        let mut q = backup_copy::Entity::find()
            .select_only()
            .column(backup_copy::Column::AppId)
            .column_as(Expr::expr(Func::count(Expr::col(backup_copy::Column::Id))), "n")
            .filter(backup_copy::Column::DeletedAt.is_null())
            .group_by(backup_copy::Column::AppId);
        if encrypted {
            q = q.filter(backup_copy::Column::Codec.is_in(["age", "zstd+age"]));
        }
        q.into_tuple::<(i64, i64)>().all(db)
    };
    let all = per_app(false).await?.into_iter().collect();
    let encrypted = per_app(true).await?.into_iter().collect();
    Ok((all, encrypted))
}

/// GET /settings/encryption.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    let enc = &web.ctx.runner.encryption;
    let (all, encrypted) = counts(&web.ctx.db).await?;
    let apps = web
        .ctx
        .registry
        .list()
        .await?
        .into_iter()
        .map(|app| {
            let configured = !enc.recipients.is_empty() || !app.recipients.is_empty();
            let (setting, encrypts) = match app.encrypt {
                Some(false) => ("off", false),
                Some(true) if configured => ("on", true),
                None if configured => ("auto", true),
                _ => ("none", false),
            };
            AppRow {
                href: format::url_encode(&app.name),
                setting,
                encrypts,
                own: app.recipients.iter().map(key_row).collect(),
                copies: all.get(&app.id).copied().unwrap_or_default(),
                encrypted: encrypted.get(&app.id).copied().unwrap_or_default(),
                name: app.name,
            }
        })
        .collect();
    render(&EncryptionPage {
        page,
        recipients: enc.recipients.iter().map(key_row).collect(),
        source: enc.recipients_source.clone(),
        identity: enc.identities.as_ref().map(|ids| ids.fingerprints()),
        apps,
    })
}
