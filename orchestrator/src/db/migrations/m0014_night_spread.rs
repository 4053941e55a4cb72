//! The night spread: per app a backup window (how long after its scheduled time a run may still
//! start) and a jitter (a random spread of the start within the window); per group the same two
//! as defaults and a limit of backups running at once (e.g. one per database host), held as
//! slots with an expiry that the holder renews, like the apps' leases.

use sea_orm_migration::prelude::*;

use super::m0001_initial::Apps;

pub(super) struct M0014NightSpread;

impl MigrationName for M0014NightSpread {
    fn name(&self) -> &str {
        "m0014_night_spread"
    }
}

#[derive(DeriveIden)]
enum Columns {
    WindowSecs,
    JitterSecs,
}

#[derive(DeriveIden)]
pub(super) enum AppGroups {
    Table,
    Name,
    MaxConcurrent,
    WindowSecs,
    JitterSecs,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupSlots {
    Table,
    GroupName,
    Slot,
    Holder,
    RunId,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for M0014NightSpread {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(Columns::WindowSecs).big_integer().null().to_owned(),
            ColumnDef::new(Columns::JitterSecs).big_integer().null().to_owned(),
        ] {
            let mut column = column;
            m.alter_table(Table::alter().table(Apps::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(AppGroups::Table)
                .col(ColumnDef::new(AppGroups::Name).string().not_null().primary_key())
                .col(ColumnDef::new(AppGroups::MaxConcurrent).integer().null())
                .col(ColumnDef::new(AppGroups::WindowSecs).big_integer().null())
                .col(ColumnDef::new(AppGroups::JitterSecs).big_integer().null())
                .col(ColumnDef::new(AppGroups::UpdatedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GroupSlots::Table)
                .col(ColumnDef::new(GroupSlots::GroupName).string().not_null())
                .col(ColumnDef::new(GroupSlots::Slot).integer().not_null())
                .col(ColumnDef::new(GroupSlots::Holder).string().not_null())
                .col(ColumnDef::new(GroupSlots::RunId).big_integer().null())
                .col(ColumnDef::new(GroupSlots::ExpiresAt).big_integer().not_null())
                .primary_key(Index::create().col(GroupSlots::GroupName).col(GroupSlots::Slot))
                .to_owned(),
        )
        .await
    }
}
