//! Where a restored copy came from: a restore into one app of another app's copy (production
//! into staging) belongs to the app restored into, and names the app whose folder holds the copy.
//! Both columns are empty for a restore of an app's own copy.

use sea_orm_migration::prelude::*;

use super::m0003_web::Restores;

pub(super) struct M0009RestoreSource;

impl MigrationName for M0009RestoreSource {
    fn name(&self) -> &str {
        "m0009_restore_source"
    }
}

#[derive(DeriveIden)]
enum Columns {
    SourceAppId,
    SourceApp,
}

#[async_trait::async_trait]
impl MigrationTrait for M0009RestoreSource {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        m.alter_table(
            Table::alter()
                .table(Restores::Table)
                .add_column(ColumnDef::new(Columns::SourceAppId).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Restores::Table)
                .add_column(ColumnDef::new(Columns::SourceApp).string().null())
                .to_owned(),
        )
        .await
    }
}
