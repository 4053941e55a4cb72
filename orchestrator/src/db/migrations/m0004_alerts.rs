//! Notifications (channels and their outbox), per-app alert state, and each run's own log.

use sea_orm_migration::prelude::*;

use super::id;
use super::m0001_initial::{Apps, BackupRuns};

pub(super) struct M0004Alerts;

impl MigrationName for M0004Alerts {
    fn name(&self) -> &str {
        "m0004_alerts"
    }
}

#[derive(DeriveIden)]
pub(super) enum NotificationChannels {
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
pub(super) enum AppAlerts {
    Table,
    AppId,
    FailingSince,
    StaleSince,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(super) enum RunLogs {
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
