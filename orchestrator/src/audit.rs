//! The audit log: sign-ins, app changes, runs started, restores and deletions, kept in the
//! database. Never given a secret.

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use crate::db::entities::audit_entry;
use crate::db::now_ms;

tokio::task_local! {
    /// The address of the request being served ([`crate::http::source::remember`]): every entry
    /// written while serving it names it.
    pub static SOURCE: std::net::IpAddr;
}

/// Appends one entry, naming the request's source address when there is a request. A failure to
/// write it is logged, never fatal to what was audited.
pub async fn record(db: &DatabaseConnection, actor: &str, action: &str, target: Option<&str>, detail: Option<&str>) {
    let source = SOURCE.try_with(|ip| ip.to_string()).ok();
    let row = audit_entry::ActiveModel {
        source: Set(source),
        at: Set(now_ms()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.map(str::to_owned)),
        detail: Set(detail.map(str::to_owned)),
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
