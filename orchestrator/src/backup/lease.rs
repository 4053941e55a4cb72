//! One running backup per app, whatever started it: a row in `app_leases` with an expiry that
//! the holder renews while it works. A holder that dies stops renewing, and the lease lapses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, SqlErr};

use crate::db::entities::app_lease;
use crate::db::now_ms;

/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// A held lease; renewed in the background until released or dropped.
#[derive(Debug)]
pub struct Lease {
    db: DatabaseConnection,
    app_id: i64,
    holder: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

/// Somebody else holds the lease.
#[derive(Debug, Clone)]
pub struct Held {
    /// Who holds it.
    pub holder: String,
    /// The run it is for; `None` for a restore.
    pub run_id: Option<i64>,
}

impl Lease {
    /// Takes the app's lease for `run_id`, or says who holds it.
    pub async fn acquire(
        db: &DatabaseConnection,
        app_id: i64,
        holder: &str,
        run_id: i64,
    ) -> Result<Result<Lease, Held>, DbErr> {
        Lease::take(db, app_id, holder, Some(run_id)).await
    }

    /// Takes the app's lease for a restore (which is no run: [`Held::run_id`] is `None`), or says
    /// who holds it. While a restore streams into the app, no backup of it starts.
    pub async fn acquire_for_restore(
        db: &DatabaseConnection,
        app_id: i64,
        holder: &str,
    ) -> Result<Result<Lease, Held>, DbErr> {
        Lease::take(db, app_id, holder, None).await
    }

    async fn take(
        db: &DatabaseConnection,
        app_id: i64,
        holder: &str,
        run_id: Option<i64>,
    ) -> Result<Result<Lease, Held>, DbErr> {
        // A lapsed lease belongs to nobody; deleting it and inserting ours are each atomic, and
        // the primary key lets only one inserter win.
        app_lease::Entity::delete_many()
            .filter(app_lease::Column::AppId.eq(app_id))
            .filter(app_lease::Column::ExpiresAt.lt(now_ms()))
            .exec(db)
            .await?;
        let row = app_lease::ActiveModel {
            app_id: Set(app_id),
            holder: Set(holder.to_owned()),
            run_id: Set(run_id),
            expires_at: Set(now_ms() + LEASE_TTL.as_millis() as i64),
        };
        match app_lease::Entity::insert(row).exec(db).await {
            Ok(_) => {}
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                let current = app_lease::Entity::find_by_id(app_id).one(db).await?;
                return Ok(Err(Held {
                    holder: current.as_ref().map(|c| c.holder.clone()).unwrap_or_else(|| "another process".into()),
                    run_id: current.and_then(|c| c.run_id),
                }));
            }
            Err(e) => return Err(e),
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (db, holder) = (db.clone(), holder.to_owned());
            keep_renewed(lost.clone(), move || {
                let (db, holder) = (db.clone(), holder.clone());
                async move {
                    let result = app_lease::Entity::update_many()
                        .col_expr(app_lease::Column::ExpiresAt, Expr::value(now_ms() + LEASE_TTL.as_millis() as i64))
                        .filter(app_lease::Column::AppId.eq(app_id))
                        .filter(app_lease::Column::Holder.eq(holder))
                        .exec(&db)
                        .await?;
                    Ok(result.rows_affected)
                }
            })
        };
        Ok(Ok(Lease { db: db.clone(), app_id, holder: holder.to_owned(), lost, renewer }))
    }

    /// True once a renewal found the lease taken away (expired while this process stalled).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Gives the lease back.
    pub async fn release(self) {
        self.renewer.abort();
        let _ = app_lease::Entity::delete_many()
            .filter(app_lease::Column::AppId.eq(self.app_id))
            .filter(app_lease::Column::Holder.eq(self.holder.clone()))
            .exec(&self.db)
            .await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Renews a hold every third of [`LEASE_TTL`] with `renew` (which answers how many rows it
/// extended) until aborted; sets `lost` and stops once a renewal finds the hold taken away.
pub(crate) fn keep_renewed<F, Fut>(lost: Arc<AtomicBool>, renew: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<u64, DbErr>> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(LEASE_TTL / 3).await;
            match renew().await {
                Ok(0) => {
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not renew a lease; will retry"),
            }
        }
    })
}
