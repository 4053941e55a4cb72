//! A note on a run: what the operator said about a manual backup ("before the 2.0 upgrade"). The
//! same note is written into the copy's marks, so it outlives this database.

use sea_orm_migration::prelude::*;

use super::m0001_initial::BackupRuns;

pub(super) struct M0007RunNotes;

impl MigrationName for M0007RunNotes {
    fn name(&self) -> &str {
        "m0007_run_notes"
    }
}

#[derive(DeriveIden)]
enum Columns {
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for M0007RunNotes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(BackupRuns::Table)
                .add_column(ColumnDef::new(Columns::Note).string().null())
                .to_owned(),
        )
        .await
    }
}
