//! Drive's daily upload budget: the bytes each Google account uploaded, and Drive's own word that
//! an account reached its cap. In the database, so every replica counts the same uploads.

use sea_orm_migration::prelude::*;

use super::id;

pub(super) struct M0006DriveBudget;

impl MigrationName for M0006DriveBudget {
    fn name(&self) -> &str {
        "m0006_drive_budget"
    }
}

#[derive(DeriveIden)]
enum DriveUploads {
    Table,
    Id,
    Account,
    RunId,
    Bytes,
    CountedAt,
}

#[derive(DeriveIden)]
enum DriveUploadHolds {
    Table,
    Account,
    ReportedAt,
    HeldUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for M0006DriveBudget {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One row per upload attempt, its bytes updated while it runs; it counts until
        // `counted_at` (its last update) leaves the window.
        m.create_table(
            Table::create()
                .table(DriveUploads::Table)
                .col(id(DriveUploads::Id))
                .col(ColumnDef::new(DriveUploads::Account).string().not_null())
                .col(ColumnDef::new(DriveUploads::RunId).big_integer().null())
                .col(ColumnDef::new(DriveUploads::Bytes).big_integer().not_null())
                .col(ColumnDef::new(DriveUploads::CountedAt).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("drive_uploads_account_counted")
                .table(DriveUploads::Table)
                .col(DriveUploads::Account)
                .col(DriveUploads::CountedAt)
                .to_owned(),
        )
        .await?;
        // Drive answered "daily limit reached" for the account: nothing starts before `held_until`.
        m.create_table(
            Table::create()
                .table(DriveUploadHolds::Table)
                .col(ColumnDef::new(DriveUploadHolds::Account).string().not_null().primary_key())
                .col(ColumnDef::new(DriveUploadHolds::ReportedAt).big_integer().not_null())
                .col(ColumnDef::new(DriveUploadHolds::HeldUntil).big_integer().not_null())
                .to_owned(),
        )
        .await
    }
}
