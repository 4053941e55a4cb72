//! The audit log: sign-ins, app changes, runs started, restores and deletions, kept in the
//! database. Never given a secret.

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use crate::catalogue::Msg;
use crate::db::entities::audit_entry;
use crate::db::now_ms;

tokio::task_local! {
    /// The address of the request being served ([`crate::http::source::remember`]): every entry
    /// written while serving it names it.
    pub static SOURCE: std::net::IpAddr;
}

/// Appends one entry, naming the request's source address when there is a request. `detail` is
/// data said as is (a file name, a role); a sentence goes through [`record_said`]. A failure to
/// write it is logged, never fatal to what was audited.
pub async fn record(db: &DatabaseConnection, actor: &str, action: &str, target: Option<&str>, detail: Option<&str>) {
    insert(db, actor, action, target, detail.map(str::to_owned), None).await;
}

/// [`record`] with a detail in words, kept as a catalogue message so the audit page says it in
/// its reader's language (and in English beside it, for exports and older readers).
pub async fn record_said(db: &DatabaseConnection, actor: &str, action: &str, target: Option<&str>, detail: &Msg) {
    insert(db, actor, action, target, Some(detail.to_string()), Some(detail.to_json())).await;
}

async fn insert(
    db: &DatabaseConnection,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<String>,
    detail_msg: Option<String>,
) {
    let source = SOURCE.try_with(|ip| ip.to_string()).ok();
    let row = audit_entry::ActiveModel {
        source: Set(source),
        at: Set(now_ms()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.map(str::to_owned)),
        detail: Set(detail),
        detail_msg: Set(detail_msg),
        ..Default::default()
    };
    if let Err(e) = row.insert(db).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

/// The newest entries first, `limit` of them after skipping `offset`.
pub async fn page(db: &DatabaseConnection, offset: u64, limit: u64) -> Result<Vec<audit_entry::Model>, DbErr> {
    audit_entry::Entity::find().order_by_desc(audit_entry::Column::Id).offset(offset).limit(limit).all(db).await
}
