//! Several people: users with a role and a language; API tokens owned by a user, with a role and
//! an expiry; sessions that know when they were last used, from where and when their user last
//! proved who they are; audit entries that name the source address.

use sea_orm_migration::prelude::*;

use super::id;

pub(super) struct M0018Users;

impl MigrationName for M0018Users {
    fn name(&self) -> &str {
        "m0018_users"
    }
}

#[derive(DeriveIden)]
pub(super) enum Users {
    Table,
    Id,
    Name,
    Role,
    Language,
    Email,
    PasswordHash,
    CreatedBy,
    CreatedAt,
    PasswordChangedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Owner,
    Role,
    ExpiresAt,
    Confirms,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    LastSeenAt,
    Source,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Source,
}

#[async_trait::async_trait]
impl MigrationTrait for M0018Users {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(id(Users::Id))
                .col(ColumnDef::new(Users::Name).string().not_null().unique_key())
                .col(ColumnDef::new(Users::Role).string().not_null())
                .col(ColumnDef::new(Users::Language).string().null())
                .col(ColumnDef::new(Users::Email).string().null().unique_key())
                .col(ColumnDef::new(Users::PasswordHash).text().null())
                .col(ColumnDef::new(Users::CreatedBy).string().not_null())
                .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                .col(ColumnDef::new(Users::PasswordChangedAt).big_integer().null())
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite adds one at a time.
        let token_columns = [
            ColumnDef::new(ApiTokens::Owner).string().null().to_owned(),
            // Tokens made before roles could do everything: they keep that.
            ColumnDef::new(ApiTokens::Role).string().not_null().default("admin").to_owned(),
            ColumnDef::new(ApiTokens::ExpiresAt).big_integer().null().to_owned(),
            ColumnDef::new(ApiTokens::Confirms).boolean().not_null().default(false).to_owned(),
        ];
        for mut column in token_columns {
            m.alter_table(Table::alter().table(ApiTokens::Table).add_column(&mut column).to_owned()).await?;
        }
        // A token made in the UI acts for who made it; one made on the command line ("cli") for
        // the first admin (its owner left empty).
        m.exec_stmt(
            Query::update()
                .table(ApiTokens::Table)
                .value(ApiTokens::Owner, Expr::col(ApiTokens::CreatedBy))
                .and_where(Expr::col(ApiTokens::CreatedBy).ne("cli"))
                .to_owned(),
        )
        .await?;
        for mut column in [
            ColumnDef::new(Sessions::LastSeenAt).big_integer().null().to_owned(),
            ColumnDef::new(Sessions::Source).string().null().to_owned(),
            ColumnDef::new(Sessions::ConfirmedAt).big_integer().null().to_owned(),
        ] {
            m.alter_table(Table::alter().table(Sessions::Table).add_column(&mut column).to_owned()).await?;
        }
        let mut source = ColumnDef::new(AuditLog::Source).string().null().to_owned();
        m.alter_table(Table::alter().table(AuditLog::Table).add_column(&mut source).to_owned()).await?;
        Ok(())
    }
}
