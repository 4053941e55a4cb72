//! The runs waiting for a slot of their group, so that a freed slot goes to the waiting run of
//! the highest priority (then the one waiting longest), not to whichever looks first.

use sea_orm_migration::prelude::*;

pub(super) struct M0020GroupWaiters;

impl MigrationName for M0020GroupWaiters {
    fn name(&self) -> &str {
        "m0020_group_waiters"
    }
}

#[derive(DeriveIden)]
enum GroupWaiters {
    Table,
    GroupName,
    RunId,
    Priority,
    Since,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0020GroupWaiters {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GroupWaiters::Table)
                .col(ColumnDef::new(GroupWaiters::GroupName).string().not_null())
                .col(ColumnDef::new(GroupWaiters::RunId).big_integer().not_null())
                .col(ColumnDef::new(GroupWaiters::Priority).integer().not_null())
                .col(ColumnDef::new(GroupWaiters::Since).big_integer().not_null())
                .col(ColumnDef::new(GroupWaiters::ExpiresAt).big_integer().not_null())
                .primary_key(Index::create().col(GroupWaiters::GroupName).col(GroupWaiters::RunId))
                .to_owned(),
        )
        .await
    }
}
