//! Copies compressed and encrypted in the stream: per app, whether to compress, whether to
//! encrypt and its own recipients; per run and per copy, how it was stored and the stored bytes'
//! size and sha256 beside the plaintext's.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{Apps, BackupCopies, BackupRuns};

pub(super) struct M0008Codecs;

impl MigrationName for M0008Codecs {
    fn name(&self) -> &str {
        "m0008_codecs"
    }
}

#[derive(DeriveIden)]
enum Columns {
    Compress,
    Encrypt,
    Recipients,
    Codec,
    StoredBytes,
    StoredSha256,
    PlainSize,
}

#[async_trait::async_trait]
impl MigrationTrait for M0008Codecs {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            (Apps::Table.into_iden(), ColumnDef::new(Columns::Compress).string().null().to_owned()),
            (Apps::Table.into_iden(), ColumnDef::new(Columns::Encrypt).boolean().null().to_owned()),
            (Apps::Table.into_iden(), ColumnDef::new(Columns::Recipients).text().not_null().default("").to_owned()),
            (BackupRuns::Table.into_iden(), ColumnDef::new(Columns::Codec).string().null().to_owned()),
            (BackupRuns::Table.into_iden(), ColumnDef::new(Columns::StoredBytes).big_integer().null().to_owned()),
            (BackupRuns::Table.into_iden(), ColumnDef::new(Columns::StoredSha256).string().null().to_owned()),
            (BackupCopies::Table.into_iden(), ColumnDef::new(Columns::Codec).string().null().to_owned()),
            (BackupCopies::Table.into_iden(), ColumnDef::new(Columns::PlainSize).big_integer().null().to_owned()),
            (BackupCopies::Table.into_iden(), ColumnDef::new(Columns::StoredSha256).string().null().to_owned()),
        ];
        for (table, mut column) in columns {
            m.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }
}
