//! Run log lines in the reader's language: a line meant for operators keeps its stable machine
//! code and its fields, from which the catalogue's text is filled in.

use sea_orm_migration::prelude::*;

use super::m0004_alerts::RunLogs;

pub(super) struct M0017LogCodes;

impl MigrationName for M0017LogCodes {
    fn name(&self) -> &str {
        "m0017_log_codes"
    }
}

#[derive(DeriveIden)]
enum Columns {
    Code,
    Fields,
}

#[async_trait::async_trait]
impl MigrationTrait for M0017LogCodes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(Columns::Code).string().null().to_owned(),
            ColumnDef::new(Columns::Fields).text().null().to_owned(),
        ] {
            let mut column = column;
            m.alter_table(Table::alter().table(RunLogs::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }
}
