//! Cancelling a run, and a run's whole time: an operator's request to stop a run (when, and who),
//! read by whichever process runs it; when its first attempt began, so its duration counts every
//! attempt; and when a run waiting between attempts is tried again.

use sea_orm_migration::prelude::*;

use super::m0001_initial::BackupRuns;

pub(super) struct M0012RunCancel;

impl MigrationName for M0012RunCancel {
    fn name(&self) -> &str {
        "m0012_run_cancel"
    }
}

#[derive(DeriveIden)]
enum Columns {
    CancelRequestedAt,
    CancelReason,
    FirstStartedAt,
    RetryAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0012RunCancel {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(Columns::CancelRequestedAt).big_integer().null().to_owned(),
            ColumnDef::new(Columns::CancelReason).string().null().to_owned(),
            ColumnDef::new(Columns::FirstStartedAt).big_integer().null().to_owned(),
            ColumnDef::new(Columns::RetryAt).big_integer().null().to_owned(),
        ] {
            let mut column = column;
            m.alter_table(Table::alter().table(BackupRuns::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }
}
