//! Schema migrations, in order. Never edit a released migration: add one.

use sea_orm_migration::prelude::*;

pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Initial),
            Box::new(M0002ScheduleFires),
            Box::new(M0003Web),
            Box::new(M0004Alerts),
            Box::new(M0005RunIndexes),
        ]
    }
}

struct M0001Initial;

// Names are spelled out: the derive names a migration after its module, and every migration
// lives in this one module.
impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

#[derive(DeriveIden)]
enum Apps {
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
enum BackupRuns {
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
enum BackupCopies {
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

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().to_owned()
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

struct M0002ScheduleFires;

impl MigrationName for M0002ScheduleFires {
    fn name(&self) -> &str {
        "m0002_schedule_fires"
    }
}

#[derive(DeriveIden)]
enum ScheduleFires {
    Table,
    AppId,
    FireAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0002ScheduleFires {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One row per (app, fire time), inserted by whichever scheduler gets there first: the
        // primary key is what makes every fire enqueue exactly once across processes.
        m.create_table(
            Table::create()
                .table(ScheduleFires::Table)
                .col(ColumnDef::new(ScheduleFires::AppId).big_integer().not_null())
                .col(ColumnDef::new(ScheduleFires::FireAt).big_integer().not_null())
                .col(ColumnDef::new(ScheduleFires::CreatedAt).big_integer().not_null())
                .primary_key(Index::create().col(ScheduleFires::AppId).col(ScheduleFires::FireAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ScheduleFires::Table, ScheduleFires::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Which process ran (or is running) a run: the queue spreads work over processes.
        m.alter_table(
            Table::alter()
                .table(BackupRuns::Table)
                .add_column(ColumnDef::new(BackupRuns::Runner).string().null())
                .to_owned(),
        )
        .await
    }
}

struct M0003Web;

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
enum Restores {
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

struct M0004Alerts;

impl MigrationName for M0004Alerts {
    fn name(&self) -> &str {
        "m0004_alerts"
    }
}

#[derive(DeriveIden)]
enum NotificationChannels {
    Table,
    Id,
    Name,
    Kind,
    AppId,
    Config,
    SecretEncrypted,
    OnFailure,
    OnRecovery,
    OnStale,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotificationDeliveries {
    Table,
    Id,
    ChannelId,
    Event,
    AppId,
    RunId,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum AppAlerts {
    Table,
    AppId,
    FailingSince,
    StaleSince,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RunLogs {
    Table,
    Id,
    RunId,
    At,
    Level,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for M0004Alerts {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Where notifications go: global (no app) or for one app. Secrets (a webhook's signing
        // key, an SMTP password, ping URLs) are sealed like app tokens.
        m.create_table(
            Table::create()
                .table(NotificationChannels::Table)
                .col(id(NotificationChannels::Id))
                .col(ColumnDef::new(NotificationChannels::Name).string().not_null())
                .col(ColumnDef::new(NotificationChannels::Kind).string().not_null())
                .col(ColumnDef::new(NotificationChannels::AppId).big_integer().null())
                .col(ColumnDef::new(NotificationChannels::Config).text().not_null())
                .col(ColumnDef::new(NotificationChannels::SecretEncrypted).text().null())
                .col(ColumnDef::new(NotificationChannels::OnFailure).boolean().not_null())
                .col(ColumnDef::new(NotificationChannels::OnRecovery).boolean().not_null())
                .col(ColumnDef::new(NotificationChannels::OnStale).boolean().not_null())
                .col(ColumnDef::new(NotificationChannels::Enabled).boolean().not_null())
                .col(ColumnDef::new(NotificationChannels::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(NotificationChannels::UpdatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(NotificationChannels::Table, NotificationChannels::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // An outbox: every notification is a row first, so a receiver that is down is retried by
        // whichever process is up, and the UI can show what went out.
        m.create_table(
            Table::create()
                .table(NotificationDeliveries::Table)
                .col(id(NotificationDeliveries::Id))
                .col(ColumnDef::new(NotificationDeliveries::ChannelId).big_integer().not_null())
                .col(ColumnDef::new(NotificationDeliveries::Event).string().not_null())
                .col(ColumnDef::new(NotificationDeliveries::AppId).big_integer().null())
                .col(ColumnDef::new(NotificationDeliveries::RunId).big_integer().null())
                .col(ColumnDef::new(NotificationDeliveries::Payload).text().not_null())
                .col(ColumnDef::new(NotificationDeliveries::Status).string().not_null())
                .col(ColumnDef::new(NotificationDeliveries::Attempts).integer().not_null().default(0))
                .col(ColumnDef::new(NotificationDeliveries::NextAttemptAt).big_integer().not_null())
                .col(ColumnDef::new(NotificationDeliveries::ClaimedUntil).big_integer().null())
                .col(ColumnDef::new(NotificationDeliveries::LastError).text().null())
                .col(ColumnDef::new(NotificationDeliveries::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(NotificationDeliveries::SentAt).big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(NotificationDeliveries::Table, NotificationDeliveries::ChannelId)
                        .to(NotificationChannels::Table, NotificationChannels::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notification_deliveries_due")
                .table(NotificationDeliveries::Table)
                .col(NotificationDeliveries::Status)
                .col(NotificationDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        // Per app: since when it has been failing or stale, so recovery and staleness are told
        // once, by whichever process sees the change first.
        m.create_table(
            Table::create()
                .table(AppAlerts::Table)
                .col(ColumnDef::new(AppAlerts::AppId).big_integer().not_null().primary_key())
                .col(ColumnDef::new(AppAlerts::FailingSince).big_integer().null())
                .col(ColumnDef::new(AppAlerts::StaleSince).big_integer().null())
                .col(ColumnDef::new(AppAlerts::UpdatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(AppAlerts::Table, AppAlerts::AppId)
                        .to(Apps::Table, Apps::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RunLogs::Table)
                .col(id(RunLogs::Id))
                .col(ColumnDef::new(RunLogs::RunId).big_integer().not_null())
                .col(ColumnDef::new(RunLogs::At).big_integer().not_null())
                .col(ColumnDef::new(RunLogs::Level).string().not_null())
                .col(ColumnDef::new(RunLogs::Message).text().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(RunLogs::Table, RunLogs::RunId)
                        .to(BackupRuns::Table, BackupRuns::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("run_logs_run_id")
                .table(RunLogs::Table)
                .col(RunLogs::RunId)
                .col(RunLogs::Id)
                .to_owned(),
        )
        .await
    }
}

struct M0005RunIndexes;

impl MigrationName for M0005RunIndexes {
    fn name(&self) -> &str {
        "m0005_run_indexes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005RunIndexes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The dashboard counts runs of one status ended in the last 24 hours: with an index on
        // status alone that walks every succeeded run (0.27 s at a million runs on SQLite);
        // with this one it reads only the last day's entries.
        m.create_index(
            Index::create()
                .name("backup_runs_status_finished")
                .table(BackupRuns::Table)
                .col(BackupRuns::Status)
                .col(BackupRuns::FinishedAt)
                .to_owned(),
        )
        .await?;
        // Each card's newest run of some statuses (MAX(id) per app for a page of apps): without
        // statistics SQLite preferred a status index and walked every run (0.27 s); this one
        // answers each app from its own few entries.
        m.create_index(
            Index::create()
                .name("backup_runs_app_status_id")
                .table(BackupRuns::Table)
                .col(BackupRuns::AppId)
                .col(BackupRuns::Status)
                .col(BackupRuns::Id)
                .to_owned(),
        )
        .await
    }
}
