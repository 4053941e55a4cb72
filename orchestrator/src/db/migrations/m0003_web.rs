//! The web UI and API: sessions, API tokens, the audit log, restores, and the indexes of the
//! runs page and dashboard.

use sea_orm_migration::prelude::*;

use super::id;
use super::m0001_initial::{Apps, BackupRuns};

pub(super) struct M0003Web;

impl MigrationName for M0003Web {
    fn name(&self) -> &str {
        "m0003_web"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Username,
    Csrf,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    TokenHash,
    Prefix,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Action,
    Target,
    Detail,
}

#[derive(DeriveIden)]
pub(super) enum Restores {
    Table,
    Id,
    AppId,
    CopyFileId,
    CopyName,
    Status,
    Phase,
    Bytes,
    TotalBytes,
    SafetyRunId,
    Actor,
    Error,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0003Web {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Server-side sessions: the cookie holds a random token, the table its sha256, so every
        // process behind a load balancer knows every session and a stolen database holds none.
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(ColumnDef::new(Sessions::Id).string().not_null().primary_key())
                .col(ColumnDef::new(Sessions::Username).string().not_null())
                .col(ColumnDef::new(Sessions::Csrf).string().not_null())
                .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(id(ApiTokens::Id))
                .col(ColumnDef::new(ApiTokens::Name).string().not_null())
                .col(ColumnDef::new(ApiTokens::TokenHash).string().not_null().unique_key())
                .col(ColumnDef::new(ApiTokens::Prefix).string().not_null())
                .col(ColumnDef::new(ApiTokens::CreatedBy).string().not_null())
                .col(ColumnDef::new(ApiTokens::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(ApiTokens::LastUsedAt).big_integer().null())
                .col(ColumnDef::new(ApiTokens::RevokedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(id(AuditLog::Id))
                .col(ColumnDef::new(AuditLog::At).big_integer().not_null())
                .col(ColumnDef::new(AuditLog::Actor).string().not_null())
                .col(ColumnDef::new(AuditLog::Action).string().not_null())
                .col(ColumnDef::new(AuditLog::Target).string().null())
                .col(ColumnDef::new(AuditLog::Detail).text().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Restores::Table)
                .col(id(Restores::Id))
                .col(ColumnDef::new(Restores::AppId).big_integer().not_null())
                .col(ColumnDef::new(Restores::CopyFileId).string().not_null())
                .col(ColumnDef::new(Restores::CopyName).string().not_null())
                .col(ColumnDef::new(Restores::Status).string().not_null())
                .col(ColumnDef::new(Restores::Phase).string().null())
                .col(ColumnDef::new(Restores::Bytes).big_integer().not_null().default(0))
                .col(ColumnDef::new(Restores::TotalBytes).big_integer().not_null().default(0))
                .col(ColumnDef::new(Restores::SafetyRunId).big_integer().null())
                .col(ColumnDef::new(Restores::Actor).string().not_null())
                .col(ColumnDef::new(Restores::Error).text().null())
                .col(ColumnDef::new(Restores::StartedAt).big_integer().not_null())
                .col(ColumnDef::new(Restores::FinishedAt).big_integer().null())
                .col(ColumnDef::new(Restores::UpdatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Restores::Table, Restores::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The runs page filters by status, newest first; the dashboard sums copies per app.
        m.create_index(
            Index::create()
                .name("backup_runs_status_id")
                .table(BackupRuns::Table)
                .col(BackupRuns::Status)
                .col(BackupRuns::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("backup_runs_app_id")
                .table(BackupRuns::Table)
                .col(BackupRuns::AppId)
                .col(BackupRuns::Id)
                .to_owned(),
        )
        .await?;
        // The dashboard counts the last 24 hours' runs.
        m.create_index(
            Index::create()
                .name("backup_runs_finished")
                .table(BackupRuns::Table)
                .col(BackupRuns::FinishedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("audit_log_at").table(AuditLog::Table).col(AuditLog::At).to_owned()).await
    }
}
