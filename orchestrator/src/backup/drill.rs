//! Restore drills: proof that a stored copy still restores, not only that its bytes are there.
//!
//! A drill is a restore record of a kind of its own, so it has the restores' lease, queue,
//! progress and settle path (`backup::restore`): by default the copy is streamed, decoded, into
//! the app's `POST /backup/verify`, which checks that it would restore without applying it and
//! answers a report (`restores.kind = drill`); or, for an app without verify, the copy is
//! restored into another registered app, a scratch instance, without a safety backup
//! (`drill_restore`). A failed drill is told to the app's failure channels.
//!
//! An encrypted copy is drilled only when this orchestrator holds an identity (or one is handed
//! in): otherwise the drill is recorded as failed, "not drilled: no identity", and told — it
//! never counts as passed.
//!
//! A drill can be cancelled like a restore (`restore::record::cancel`): it stops where it is, the
//! upload into the app (or the scratch app) is cut off so nothing is committed there, and it is
//! recorded as cancelled: not told as a failure, and never a passed drill.

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;
use sea_orm::{Condition, QueryOrder, QuerySelect};

use crate::backup::restore::{self, KIND_DRILL, KIND_DRILL_RESTORE, KIND_RESTORE, RestoreRequest, RestoreStatus};
use crate::backup::run::Runner;
use crate::codec::keys::Identities;
use crate::db::entities::restore as restore_row;
use crate::db::now_ms;
use crate::error::Error;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// What to drill.
#[derive(Debug, Clone, Default)]
pub struct DrillRequest {
    /// The copy (name or file id); the newest good verified copy when `None`.
    pub copy: Option<String>,
    /// Restore the copy into this app (a scratch instance) instead of asking the app's verify.
    pub target: Option<App>,
    /// Who asked.
    pub actor: String,
}

/// A drill recorded and ready to run ([`restore::execute`]), or one that could not be made.
#[derive(Debug)]
pub enum Prepared {
    /// Recorded as queued: run it (in the foreground, or as a job) with the identity given.
    Ready {
        /// The record.
        row: restore_row::Model,
        /// The app the copy goes to (the app itself, or the scratch target).
        target: Box<App>,
    },
    /// Recorded as failed at once and told (an encrypted copy and no identity to open it).
    NotDrilled(restore_row::Model),
}

/// The app's newest verified copy that no listing or audit found damaged.
pub async fn newest_good_copy(runner: &Runner, app: &App) -> Result<Option<StoredFile>, Error> {
    let copies = crate::backup::copies::list(runner, app).await?;
    let damaged = crate::backup::inventory::damaged_ids(&runner.db, app.id).await?;
    Ok(copies.into_iter().find(|f| crate::backup::copies::verified(f) && !damaged.contains(&f.id)))
}

/// Checks and records a drill of `app`'s copy. Refuses, changing nothing, what a restore would
/// refuse (no such copy, the app does not verify that type, a backup of the app running).
pub async fn prepare(
    runner: &Runner,
    app: &App,
    req: &DrillRequest,
    identity: Option<&Arc<Identities>>,
) -> Result<Prepared, Error> {
    let copy = match &req.copy {
        Some(copy) => copy.clone(),
        None => newest_good_copy(runner, app).await?.map(|f| f.id).ok_or_else(|| {
            Error::refused(crate::catalogue::Msg::new("refusal.nothing_to_drill").with("app", &app.name))
        })?,
    };
    let file = runner.destination.find(&app.folder, &copy).await.ok().flatten();
    let encrypted =
        file.as_ref().and_then(|f| crate::codec::Stored::of(&f.properties).ok()).is_some_and(|stored| stored.age);
    if encrypted && identity.is_none() && runner.encryption.identities.is_none() {
        let file = file.expect("an encrypted copy was found");
        return Ok(Prepared::NotDrilled(not_drilled(runner, app, &file, &req.actor).await?));
    }
    let (target, kind) = match &req.target {
        Some(target) if target.id == app.id => {
            return Err(Error::Said(
                crate::error::Class::Invalid,
                crate::catalogue::Msg::new("refusal.drill_into_itself").with("app", &app.name),
            ));
        }
        Some(target) => (target.clone(), KIND_DRILL_RESTORE),
        None => (app.clone(), KIND_DRILL),
    };
    let file = match kind {
        KIND_DRILL => restore::prepare_drill(runner, app, &copy, identity).await?,
        _ => restore::prepare(runner, app, &target, &copy, identity).await?,
    };
    let request = RestoreRequest { copy: file.id.clone(), safety_backup: false, actor: req.actor.clone(), kind };
    let row = restore::begin(&runner.db, &runner.deployment_id, app, &target, &file, &request).await?;
    Ok(Prepared::Ready { row, target: Box::new(target) })
}

/// Records the drill of `file` as failed without sending anything: the copy is encrypted and
/// nothing here opens it. Told to the app's failure channels; never counts as passed.
async fn not_drilled(runner: &Runner, app: &App, file: &StoredFile, actor: &str) -> Result<restore_row::Model, Error> {
    let now = now_ms();
    let reason = crate::catalogue::Msg::new("restore_reason.no_identity").with("file", &file.name);
    let row = restore_row::ActiveModel {
        app_id: Set(app.id),
        copy_file_id: Set(file.id.clone()),
        copy_name: Set(file.name.clone()),
        status: Set(RestoreStatus::Failed),
        phase: Set(None),
        bytes: Set(0),
        total_bytes: Set(file.size as i64),
        actor: Set(actor.to_owned()),
        error: Set(Some(reason.to_string())),
        error_msg: Set(Some(reason.to_json())),
        started_at: Set(now),
        finished_at: Set(Some(now)),
        updated_at: Set(now),
        kind: Set(KIND_DRILL.to_owned()),
        ..Default::default()
    }
    .insert(&runner.db)
    .await?;
    let detail =
        crate::catalogue::Msg::new("audit_detail.drill_not_drilled").with("id", row.id).with("file", &file.name);
    crate::audit::record_said(&runner.db, actor, "drill.finish", Some(&app.name), &detail).await;
    runner.notifier.drill_failed(app, &row, &reason).await;
    Ok(row)
}

/// The drills of `app_id`'s copies (checked by the app, or restored into a scratch app),
/// newest first.
pub async fn history(db: &DatabaseConnection, app_id: i64, limit: u64) -> Result<Vec<restore_row::Model>, DbErr> {
    restore_row::Entity::find()
        .filter(of_app(app_id))
        .filter(restore_row::Column::Kind.ne(KIND_RESTORE))
        .order_by_desc(restore_row::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The app's newest passed drill: when its copies were last proven restorable, and how.
pub async fn last_passed(db: &DatabaseConnection, app_id: i64) -> Result<Option<restore_row::Model>, DbErr> {
    restore_row::Entity::find()
        .filter(of_app(app_id))
        .filter(restore_row::Column::Kind.ne(KIND_RESTORE))
        .filter(restore_row::Column::Status.eq(RestoreStatus::Succeeded))
        .order_by_desc(restore_row::Column::FinishedAt)
        .one(db)
        .await
}

/// Rows about `app_id`'s copies: drilled in the app itself, or restored from it into another.
fn of_app(app_id: i64) -> Condition {
    Condition::any().add(restore_row::Column::SourceAppId.eq(app_id)).add(
        Condition::all().add(restore_row::Column::SourceAppId.is_null()).add(restore_row::Column::AppId.eq(app_id)),
    )
}

/// How much of the fleet is proven restorable, for the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct Proof {
    /// Apps no drill was ever made of.
    pub never: Option<i64>,
    /// Apps whose latest drill failed (or was interrupted).
    pub failed: Option<i64>,
    /// Apps with copies found lost or damaged.
    pub bad_copies: Option<i64>,
}

/// Counts apps never drilled, whose latest drill failed, and with lost or damaged copies. A
/// cancelled drill proves nothing either way: it is passed over, so it neither hides an earlier
/// failure nor counts as a drill made.
pub async fn proof(db: &DatabaseConnection) -> Result<Proof, DbErr> {
    use sea_orm::{FromQueryResult, Statement};
    let sql = "SELECT \
        SUM(CASE WHEN d.status IS NULL THEN 1 ELSE 0 END) AS never, \
        SUM(CASE WHEN d.status IN ('failed', 'interrupted') THEN 1 ELSE 0 END) AS failed, \
        (SELECT COUNT(DISTINCT app_id) FROM backup_copies WHERE health <> 'good') AS bad_copies \
        FROM apps LEFT JOIN ( \
            SELECT COALESCE(r.source_app_id, r.app_id) AS app, r.status FROM restores r \
            WHERE r.kind <> 'restore' AND r.id = (SELECT MAX(r2.id) FROM restores r2 \
                WHERE r2.kind <> 'restore' AND r2.status <> 'cancelled' \
                AND COALESCE(r2.source_app_id, r2.app_id) = COALESCE(r.source_app_id, r.app_id)) \
        ) d ON d.app = apps.id";
    Ok(Proof::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
        .one(db)
        .await?
        .unwrap_or_default())
}

/// How a drill proved the copy, in words.
pub fn how(row: &restore_row::Model) -> String {
    match row.kind.as_str() {
        KIND_DRILL_RESTORE => "restored into a scratch app".to_owned(),
        _ => "checked by the app's verify".to_owned(),
    }
}

/// The key of [`how`]'s words in the pages' translations.
pub fn how_key(row: &restore_row::Model) -> &'static str {
    match row.kind.as_str() {
        KIND_DRILL_RESTORE => "drill.how_scratch",
        _ => "drill.how_verify",
    }
}
