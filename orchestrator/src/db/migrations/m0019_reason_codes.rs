//! Why a run or a restore ended, and what an audit entry says, in the reader's language: beside
//! the English text, the catalogue message it was said with (its stable code and arguments, as
//! JSON), from which each page, notice and API answer says it in its own reader's language.

use sea_orm_migration::prelude::*;

pub(super) struct M0019ReasonCodes;

impl MigrationName for M0019ReasonCodes {
    fn name(&self) -> &str {
        "m0019_reason_codes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0019ReasonCodes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for (table, column) in [("backup_runs", "error_msg"), ("restores", "error_msg"), ("audit_log", "detail_msg")] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(ColumnDef::new(Alias::new(column)).text().null())
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
