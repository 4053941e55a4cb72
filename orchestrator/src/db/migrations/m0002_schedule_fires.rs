//! One row per scheduled fire (exactly-once enqueueing across processes) and the runner of a run.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{Apps, BackupRuns};

pub(super) struct M0002ScheduleFires;

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
