//! The first schema: apps, their runs and stored copies, the per-app lease and settings.
//! `Apps` and `BackupRuns` are named here and reused by later migrations.

use sea_orm_migration::prelude::*;

use super::id;

pub(super) struct M0001Initial;

impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

#[derive(DeriveIden)]
pub(super) enum Apps {
    Table,
    Id,
    Name,
    Url,
    TokenEncrypted,
    Schedule,
    TimeZone,
    Folder,
    KeepLast,
    KeepDaily,
    KeepWeekly,
    KeepMonthly,
    KeepWithinDays,
    BackupType,
    Priority,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(super) enum BackupRuns {
    Table,
    Id,
    AppId,
    Trigger,
    ScheduledFor,
    QueuedAt,
    StartedAt,
    FinishedAt,
    Attempts,
    Status,
    Phase,
    Bytes,
    Sha256,
    FileId,
    FileName,
    DurationMs,
    Error,
    Pruned,
    UpdatedAt,
    Runner,
}

#[derive(DeriveIden)]
pub(super) enum BackupCopies {
    Table,
    Id,
    AppId,
    RunId,
    FileId,
    Name,
    Size,
    Sha256,
    Verified,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum AppLeases {
    Table,
    AppId,
    Holder,
    RunId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Apps::Table)
                .col(id(Apps::Id))
                .col(ColumnDef::new(Apps::Name).string().not_null().unique_key())
                .col(ColumnDef::new(Apps::Url).text().not_null())
                .col(ColumnDef::new(Apps::TokenEncrypted).text().not_null())
                .col(ColumnDef::new(Apps::Schedule).string().not_null())
                .col(ColumnDef::new(Apps::TimeZone).string().not_null())
                .col(ColumnDef::new(Apps::Folder).text().not_null())
                .col(ColumnDef::new(Apps::KeepLast).integer().not_null())
                .col(ColumnDef::new(Apps::KeepDaily).integer().not_null().default(0))
                .col(ColumnDef::new(Apps::KeepWeekly).integer().not_null().default(0))
                .col(ColumnDef::new(Apps::KeepMonthly).integer().not_null().default(0))
                .col(ColumnDef::new(Apps::KeepWithinDays).integer().not_null().default(0))
                .col(ColumnDef::new(Apps::BackupType).string().null())
                .col(ColumnDef::new(Apps::Priority).string().not_null().default("normal"))
                .col(ColumnDef::new(Apps::Enabled).boolean().not_null().default(true))
                .col(ColumnDef::new(Apps::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Apps::UpdatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BackupRuns::Table)
                .col(id(BackupRuns::Id))
                .col(ColumnDef::new(BackupRuns::AppId).big_integer().not_null())
                .col(ColumnDef::new(BackupRuns::Trigger).string().not_null())
                .col(ColumnDef::new(BackupRuns::ScheduledFor).big_integer().null())
                .col(ColumnDef::new(BackupRuns::QueuedAt).big_integer().not_null())
                .col(ColumnDef::new(BackupRuns::StartedAt).big_integer().null())
                .col(ColumnDef::new(BackupRuns::FinishedAt).big_integer().null())
                .col(ColumnDef::new(BackupRuns::Attempts).integer().not_null().default(0))
                .col(ColumnDef::new(BackupRuns::Status).string().not_null())
                .col(ColumnDef::new(BackupRuns::Phase).string().null())
                .col(ColumnDef::new(BackupRuns::Bytes).big_integer().not_null().default(0))
                .col(ColumnDef::new(BackupRuns::Sha256).string().null())
                .col(ColumnDef::new(BackupRuns::FileId).string().null())
                .col(ColumnDef::new(BackupRuns::FileName).string().null())
                .col(ColumnDef::new(BackupRuns::DurationMs).big_integer().null())
                .col(ColumnDef::new(BackupRuns::Error).text().null())
                .col(ColumnDef::new(BackupRuns::Pruned).text().null())
                .col(ColumnDef::new(BackupRuns::UpdatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(BackupRuns::Table, BackupRuns::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("backup_runs_app_time")
                .table(BackupRuns::Table)
                .col(BackupRuns::AppId)
                .col(BackupRuns::QueuedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("backup_runs_status").table(BackupRuns::Table).col(BackupRuns::Status).to_owned(),
        )
        .await?;
        // One run record per scheduled fire (manual runs have no fire time).
        m.create_index(
            Index::create()
                .name("backup_runs_one_per_fire")
                .table(BackupRuns::Table)
                .col(BackupRuns::AppId)
                .col(BackupRuns::ScheduledFor)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BackupCopies::Table)
                .col(id(BackupCopies::Id))
                .col(ColumnDef::new(BackupCopies::AppId).big_integer().not_null())
                .col(ColumnDef::new(BackupCopies::RunId).big_integer().null())
                .col(ColumnDef::new(BackupCopies::FileId).string().not_null())
                .col(ColumnDef::new(BackupCopies::Name).string().not_null())
                .col(ColumnDef::new(BackupCopies::Size).big_integer().not_null())
                .col(ColumnDef::new(BackupCopies::Sha256).string().null())
                .col(ColumnDef::new(BackupCopies::Verified).boolean().not_null().default(false))
                .col(ColumnDef::new(BackupCopies::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(BackupCopies::DeletedAt).big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(BackupCopies::Table, BackupCopies::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("backup_copies_app_file")
                .table(BackupCopies::Table)
                .col(BackupCopies::AppId)
                .col(BackupCopies::FileId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AppLeases::Table)
                .col(ColumnDef::new(AppLeases::AppId).big_integer().not_null().primary_key())
                .col(ColumnDef::new(AppLeases::Holder).string().not_null())
                .col(ColumnDef::new(AppLeases::RunId).big_integer().null())
                .col(ColumnDef::new(AppLeases::ExpiresAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(AppLeases::Table, AppLeases::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(ColumnDef::new(Settings::Key).string().not_null().primary_key())
                .col(ColumnDef::new(Settings::Value).text().not_null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
