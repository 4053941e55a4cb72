//! Groups and tags on apps: `group_name`, one label (later the unit of per-group concurrency
//! limits), and `tags`, the app's labels sorted and wrapped in commas (`,odoo,prod,`), so the
//! dashboard finds a tag with one `LIKE` and the self-backup keeps them with the app's row.

use sea_orm_migration::prelude::*;

use super::m0001_initial::Apps;

pub(super) struct M0013AppGroups;

impl MigrationName for M0013AppGroups {
    fn name(&self) -> &str {
        "m0013_app_groups"
    }
}

#[derive(DeriveIden)]
enum Columns {
    GroupName,
    Tags,
}

#[async_trait::async_trait]
impl MigrationTrait for M0013AppGroups {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            ColumnDef::new(Columns::GroupName).string().null().to_owned(),
            ColumnDef::new(Columns::Tags).text().not_null().default("").to_owned(),
        ];
        for mut column in columns {
            m.alter_table(Table::alter().table(Apps::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_index(Index::create().name("apps_group_name").table(Apps::Table).col(Columns::GroupName).to_owned())
            .await
    }
}
