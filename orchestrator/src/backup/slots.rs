//! A group's limit of backups running at once (e.g. one per database host), across every
//! process: a running backup holds one of the group's numbered slots, a row in `group_slots`
//! keyed by `(group, slot)`. Only slots below the limit are tried, so the key lets at most that
//! many holders in, whatever races; a holder renews its slot like an app's lease, and a holder
//! that dies stops renewing, so its slot lapses after [`LEASE_TTL`].
//!
//! Runs waiting for a slot say so in `group_waiters` each time they look ([`GroupSlot::in_turn`]):
//! a freed slot goes to the waiting run of the highest priority, then to the one waiting longest,
//! whichever process looks first. A waiter that stops looking lapses after [`WAITER_TTL`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, SqlErr};

use crate::backup::lease::{LEASE_TTL, keep_renewed};
use crate::db::entities::{group_slot, group_waiter};
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

    /// Takes a free slot of `group` for `run_id` in its turn: not while as many runs as there
    /// are free slots wait before it (a higher `priority`, or the same one and waiting longer).
    /// `None` means it waits: it is counted among the waiters until it looks again.
    pub async fn in_turn(
        db: &DatabaseConnection,
        group: &str,
        limit: u32,
        holder: &str,
        run_id: i64,
        priority: i32,
    ) -> Result<Option<GroupSlot>, DbErr> {
        let now = now_ms();
        group_waiter::Entity::delete_many()
            .filter(group_waiter::Column::GroupName.eq(group))
            .filter(group_waiter::Column::ExpiresAt.lt(now))
            .exec(db)
            .await?;
        let waiters = group_waiter::Entity::find().filter(group_waiter::Column::GroupName.eq(group)).all(db).await?;
        let since = waiters.iter().find(|w| w.run_id == run_id).map_or(now, |w| w.since);
        let ahead = waiters
            .iter()
            .filter(|w| w.run_id != run_id)
            .filter(|w| (-w.priority, w.since, w.run_id) < (-priority, since, run_id))
            .count() as u64;
        let free = u64::from(limit).saturating_sub(held(db, group).await?);
        let slot = if ahead < free { GroupSlot::acquire(db, group, limit, holder, run_id).await? } else { None };
        if slot.is_some() {
            stop_waiting(db, group, run_id).await?;
        } else {
            let row = group_waiter::ActiveModel {
                group_name: Set(group.to_owned()),
                run_id: Set(run_id),
                priority: Set(priority),
                since: Set(since),
                expires_at: Set(now + WAITER_TTL.as_millis() as i64),
            };
            let on_conflict =
                sea_orm::sea_query::OnConflict::columns([group_waiter::Column::GroupName, group_waiter::Column::RunId])
                    .update_columns([group_waiter::Column::Priority, group_waiter::Column::ExpiresAt])
                    .to_owned();
            group_waiter::Entity::insert(row).on_conflict(on_conflict).exec(db).await?;
        }
        Ok(slot)
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

/// How long a run waiting for a slot counts as waiting after it last looked: longer than the
/// pause between its looks.
pub const WAITER_TTL: std::time::Duration = std::time::Duration::from_secs(15);

/// `run_id` no longer waits for a slot of `group` (it got one, or will not run).
pub async fn stop_waiting(db: &DatabaseConnection, group: &str, run_id: i64) -> Result<(), DbErr> {
    group_waiter::Entity::delete_many()
        .filter(group_waiter::Column::GroupName.eq(group))
        .filter(group_waiter::Column::RunId.eq(run_id))
        .exec(db)
        .await?;
    Ok(())
}

/// How many of `group`'s slots are held now (lapsed ones not counted).
pub async fn held(db: &DatabaseConnection, group: &str) -> Result<u64, DbErr> {
    group_slot::Entity::find()
        .filter(group_slot::Column::GroupName.eq(group))
        .filter(group_slot::Column::ExpiresAt.gte(now_ms()))
        .count(db)
        .await
}
