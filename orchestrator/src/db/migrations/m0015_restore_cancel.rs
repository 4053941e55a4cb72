//! Cancelling a restore or a drill: an operator's request to stop one (when, and who), read by
//! whichever process runs it, as for runs (m0012).

use sea_orm_migration::prelude::*;

use super::m0003_web::Restores;

pub(super) struct M0015RestoreCancel;

impl MigrationName for M0015RestoreCancel {
    fn name(&self) -> &str {
        "m0015_restore_cancel"
    }
}

#[derive(DeriveIden)]
enum Columns {
    CancelRequestedAt,
    CancelReason,
}

#[async_trait::async_trait]
impl MigrationTrait for M0015RestoreCancel {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(Columns::CancelRequestedAt).big_integer().null().to_owned(),
            ColumnDef::new(Columns::CancelReason).string().null().to_owned(),
        ] {
            let mut column = column;
            m.alter_table(Table::alter().table(Restores::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }
}
