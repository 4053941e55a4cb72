//! A stable uid per app, written into its copies' marks beside its name: it stays the same while
//! the app is edited, travels with the registry in a self-backup, and names the app's copies
//! apart from those of another app that once had its name. Apps registered before get one here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

use super::m0001_initial::Apps;

pub(super) struct M0010AppUid;

impl MigrationName for M0010AppUid {
    fn name(&self) -> &str {
        "m0010_app_uid"
    }
}

#[derive(DeriveIden)]
enum Columns {
    Uid,
}

#[async_trait::async_trait]
impl MigrationTrait for M0010AppUid {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Apps::Table).add_column(ColumnDef::new(Columns::Uid).string().null()).to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let ids = db.query_all_raw(Statement::from_string(backend, "SELECT id FROM apps")).await?;
        for row in ids {
            let id: i64 = row.try_get("", "id")?;
            let update = Query::update()
                .table(Apps::Table)
                .value(Columns::Uid, crate::registry::new_uid())
                .and_where(Expr::col(Apps::Id).eq(id))
                .to_owned();
            db.execute(&update).await?;
        }
        Ok(())
    }
}
