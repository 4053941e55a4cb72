//! A group's limit of backups running at once (e.g. one per database host), across every
//! process: a running backup holds one of the group's numbered slots, a row in `group_slots`
//! keyed by `(group, slot)`. Only slots below the limit are tried, so the key lets at most that
//! many holders in, whatever races; a holder renews its slot like an app's lease, and a holder
//! that dies stops renewing, so its slot lapses after [`LEASE_TTL`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, SqlErr};

use crate::backup::lease::{LEASE_TTL, keep_renewed};
use crate::db::entities::group_slot;
use crate::db::now_ms;

/// A held slot; renewed in the background until released or dropped.
#[derive(Debug)]
pub struct GroupSlot {
    db: DatabaseConnection,
    group: String,
    slot: i32,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl GroupSlot {
    /// Takes a free slot of `group` (limit `limit`) for `run_id`, or `None` when all are held.
    pub async fn acquire(
        db: &DatabaseConnection,
        group: &str,
        limit: u32,
        holder: &str,
        run_id: i64,
    ) -> Result<Option<GroupSlot>, DbErr> {
        // Lapsed slots belong to nobody.
        group_slot::Entity::delete_many()
            .filter(group_slot::Column::GroupName.eq(group))
            .filter(group_slot::Column::ExpiresAt.lt(now_ms()))
            .exec(db)
            .await?;
        let held: Vec<i32> = group_slot::Entity::find()
            .filter(group_slot::Column::GroupName.eq(group))
            .all(db)
            .await?
            .into_iter()
            .map(|row| row.slot)
            .collect();
        for slot in (0..limit as i32).filter(|s| !held.contains(s)) {
            let row = group_slot::ActiveModel {
                group_name: Set(group.to_owned()),
                slot: Set(slot),
                holder: Set(holder.to_owned()),
                run_id: Set(Some(run_id)),
                expires_at: Set(now_ms() + LEASE_TTL.as_millis() as i64),
            };
            match group_slot::Entity::insert(row).exec(db).await {
                Ok(_) => return Ok(Some(GroupSlot::hold(db, group, slot, holder))),
                // Another process took it between the read and the insert: try the next one.
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    fn hold(db: &DatabaseConnection, group: &str, slot: i32, holder: &str) -> GroupSlot {
        let (renew_db, renew_group, renew_holder) = (db.clone(), group.to_owned(), holder.to_owned());
        let renewer = keep_renewed(Arc::new(AtomicBool::new(false)), move || {
            let (db, group, holder) = (renew_db.clone(), renew_group.clone(), renew_holder.clone());
            async move {
                let result = group_slot::Entity::update_many()
                    .col_expr(group_slot::Column::ExpiresAt, Expr::value(now_ms() + LEASE_TTL.as_millis() as i64))
                    .filter(group_slot::Column::GroupName.eq(group))
                    .filter(group_slot::Column::Slot.eq(slot))
                    .filter(group_slot::Column::Holder.eq(holder))
                    .exec(&db)
                    .await?;
                Ok(result.rows_affected)
            }
        });
        GroupSlot { db: db.clone(), group: group.to_owned(), slot, holder: holder.to_owned(), renewer }
    }

    /// Gives the slot back, so the group's next backup may start at once.
    pub async fn release(self) {
        self.renewer.abort();
        let result = group_slot::Entity::delete_many()
            .filter(group_slot::Column::GroupName.eq(self.group.clone()))
            .filter(group_slot::Column::Slot.eq(self.slot))
            .filter(group_slot::Column::Holder.eq(self.holder.clone()))
            .exec(&self.db)
            .await;
        if let Err(e) = result {
            tracing::warn!(group = %self.group, error = %e, "could not give a group slot back; it lapses by itself");
        }
    }
}

impl Drop for GroupSlot {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// How many of `group`'s slots are held now (lapsed ones not counted).
pub async fn held(db: &DatabaseConnection, group: &str) -> Result<u64, DbErr> {
    group_slot::Entity::find()
        .filter(group_slot::Column::GroupName.eq(group))
        .filter(group_slot::Column::ExpiresAt.gte(now_ms()))
        .count(db)
        .await
}
