//! Alerts worth reading: per channel, which events it hears beyond failure, recovery and
//! staleness (drills, restores, a daily or weekly summary), which apps (by tag), in which
//! language and time zone; and per app, when a still-failing or still-stale app was last
//! reminded about.

use sea_orm_migration::prelude::*;

use super::m0004_alerts::{AppAlerts, NotificationChannels};

pub(super) struct M0016AlertPolicy;

impl MigrationName for M0016AlertPolicy {
    fn name(&self) -> &str {
        "m0016_alert_policy"
    }
}

#[derive(DeriveIden)]
enum Columns {
    OnDrill,
    OnRestore,
    Summary,
    SummaryHour,
    SummarySentFor,
    Language,
    TimeZone,
    Tags,
    RemindedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0016AlertPolicy {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(Columns::OnDrill).boolean().not_null().default(false).to_owned(),
            ColumnDef::new(Columns::OnRestore).boolean().not_null().default(false).to_owned(),
            // "" (none), "daily" or "weekly" (Mondays).
            ColumnDef::new(Columns::Summary).string().not_null().default("").to_owned(),
            ColumnDef::new(Columns::SummaryHour).integer().not_null().default(8).to_owned(),
            // The day ("2026-12-07") or week ("2026-W50") whose summary was last sent.
            ColumnDef::new(Columns::SummarySentFor).string().null().to_owned(),
            ColumnDef::new(Columns::Language).string().not_null().default("en").to_owned(),
            ColumnDef::new(Columns::TimeZone).string().not_null().default("UTC").to_owned(),
            // Stored as apps' tags are: ",a,b," (empty: every app).
            ColumnDef::new(Columns::Tags).string().not_null().default("").to_owned(),
        ] {
            let mut column = column;
            m.alter_table(Table::alter().table(NotificationChannels::Table).add_column(&mut column).to_owned()).await?;
        }
        // Drill failures used to go to failure channels: they keep hearing them.
        m.exec_stmt(
            Query::update()
                .table(NotificationChannels::Table)
                .value(Columns::OnDrill, Expr::col(NotificationChannels::OnFailure))
                .to_owned(),
        )
        .await?;
        let mut reminded = ColumnDef::new(Columns::RemindedAt).big_integer().null().to_owned();
        m.alter_table(Table::alter().table(AppAlerts::Table).add_column(&mut reminded).to_owned()).await?;
        Ok(())
    }
}
