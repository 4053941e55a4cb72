//! Integrity audits and restore drills. Each copy's health as the newest audit or listing found
//! it (good, lost, damaged), since when, whether that was told, and when it was last checked and
//! read back; one row per app per audit, the history the pages, the API and the metrics read.
//! Drills are restores of a kind of their own (`restores.kind`: `restore`, `drill` through the
//! app's `POST /backup/verify`, `drill_restore` into a scratch app), with the app's report.

use sea_orm_migration::prelude::*;

use super::id;
use super::m0001_initial::{Apps, BackupCopies};
use super::m0003_web::Restores;

pub(super) struct M0011Audits;

impl MigrationName for M0011Audits {
    fn name(&self) -> &str {
        "m0011_audits_and_drills"
    }
}

#[derive(DeriveIden)]
enum Columns {
    Health,
    HealthDetail,
    HealthSince,
    HealthAlertedAt,
    DamageFoundBy,
    AuditedAt,
    ReadAt,
    Kind,
    Report,
    DrillSchedule,
    DrillCopy,
}

#[derive(DeriveIden)]
enum CopyAudits {
    Table,
    Id,
    AppId,
    Trigger,
    StartedAt,
    FinishedAt,
    Copies,
    Good,
    Lost,
    Damaged,
    ReadBack,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for M0011Audits {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            ColumnDef::new(Columns::Health).string().not_null().default("good").to_owned(),
            ColumnDef::new(Columns::HealthDetail).text().null().to_owned(),
            ColumnDef::new(Columns::HealthSince).big_integer().null().to_owned(),
            ColumnDef::new(Columns::HealthAlertedAt).big_integer().null().to_owned(),
            ColumnDef::new(Columns::DamageFoundBy).string().null().to_owned(),
            ColumnDef::new(Columns::AuditedAt).big_integer().null().to_owned(),
            ColumnDef::new(Columns::ReadAt).big_integer().null().to_owned(),
        ];
        for mut column in columns {
            m.alter_table(Table::alter().table(BackupCopies::Table).add_column(&mut column).to_owned()).await?;
        }
        let drill_columns = [
            ColumnDef::new(Columns::Kind).string().not_null().default("restore").to_owned(),
            ColumnDef::new(Columns::Report).text().null().to_owned(),
        ];
        for mut column in drill_columns {
            m.alter_table(Table::alter().table(Restores::Table).add_column(&mut column).to_owned()).await?;
        }
        let app_columns = [
            ColumnDef::new(Columns::DrillSchedule).string().null().to_owned(),
            ColumnDef::new(Columns::DrillCopy).string().not_null().default("newest").to_owned(),
        ];
        for mut column in app_columns {
            m.alter_table(Table::alter().table(Apps::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(CopyAudits::Table)
                .col(id(CopyAudits::Id))
                .col(ColumnDef::new(CopyAudits::AppId).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::Trigger).string().not_null())
                .col(ColumnDef::new(CopyAudits::StartedAt).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::FinishedAt).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::Copies).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::Good).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::Lost).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::Damaged).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::ReadBack).big_integer().not_null())
                .col(ColumnDef::new(CopyAudits::Error).text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("copy_audits_app_finished")
                .table(CopyAudits::Table)
                .col(CopyAudits::AppId)
                .col(CopyAudits::FinishedAt)
                .to_owned(),
        )
        .await
    }
}
