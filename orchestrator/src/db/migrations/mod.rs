//! Schema migrations, in order, one file each. Never edit a released migration: add one.
//!
//! Each migration spells out its name: the name is recorded in every database's history, so
//! renaming or moving a file must never change it. The identifiers of a table live in the
//! migration that creates it; later migrations import them from there.

mod m0001_initial;
mod m0002_schedule_fires;
mod m0003_web;
mod m0004_alerts;
mod m0005_run_indexes;
mod m0006_drive_budget;
mod m0007_run_notes;
mod m0008_codecs;
mod m0009_restore_source;
mod m0010_app_uid;
mod m0011_audits;
mod m0012_run_cancel;
mod m0013_app_groups;
mod m0014_night_spread;
mod m0015_restore_cancel;
mod m0016_alert_policy;
mod m0017_log_codes;
mod m0018_users;
mod m0019_reason_codes;
mod m0020_group_waiters;

use sea_orm_migration::prelude::*;

pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::M0001Initial),
            Box::new(m0002_schedule_fires::M0002ScheduleFires),
            Box::new(m0003_web::M0003Web),
            Box::new(m0004_alerts::M0004Alerts),
            Box::new(m0005_run_indexes::M0005RunIndexes),
            Box::new(m0006_drive_budget::M0006DriveBudget),
            Box::new(m0007_run_notes::M0007RunNotes),
            Box::new(m0008_codecs::M0008Codecs),
            Box::new(m0009_restore_source::M0009RestoreSource),
            Box::new(m0010_app_uid::M0010AppUid),
            Box::new(m0011_audits::M0011Audits),
            Box::new(m0012_run_cancel::M0012RunCancel),
            Box::new(m0013_app_groups::M0013AppGroups),
            Box::new(m0014_night_spread::M0014NightSpread),
            Box::new(m0015_restore_cancel::M0015RestoreCancel),
            Box::new(m0016_alert_policy::M0016AlertPolicy),
            Box::new(m0017_log_codes::M0017LogCodes),
            Box::new(m0018_users::M0018Users),
            Box::new(m0019_reason_codes::M0019ReasonCodes),
            Box::new(m0020_group_waiters::M0020GroupWaiters),
        ]
    }
}

/// A table's `BIGINT` auto-increment primary key, the same in every migration.
fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().to_owned()
}
