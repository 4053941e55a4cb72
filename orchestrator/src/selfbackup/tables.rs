//! Which tables a self-backup holds, and how one table's rows go out as JSON and come back, the
//! same on SQLite and PostgreSQL (through each entity's own column types, never the driver's).
//!
//! Kept: the registry and everything an operator would miss — settings (deployment id, key
//! fingerprint, admin password hash, the connected Google account, sealed), apps with their
//! sealed tokens and their groups' settings, runs and their logs, the copies inventory, restores, notification channels and
//! their deliveries, alerts, users (with their password hashes) and API tokens, the audit log, integrity audits and Drive's upload counts.
//!
//! Left out, on purpose:
//! - `sessions`: sign-ins of the lost installation; a recovered one asks everyone to sign in
//!   again (and a session id is a bearer secret that has no business in a backup);
//! - `app_leases`, `group_slots` and `group_waiters`: which process runs (or waits to run) which
//!   app now; nothing runs in a recovered installation;
//! - `schedule_fires`: only keeps two schedulers from queueing one fire twice; without it the
//!   scheduler starts from each app's last change, so at most the latest missed fire of an app
//!   runs, as after any downtime;
//! - the queue's own tables (apalis `Jobs` and `Workers`): jobs of dead processes would re-run
//!   old fires; every run that matters is in `backup_runs`.

use futures::StreamExt;
use sea_orm::sea_query::{ColumnType, Value, sea_value_to_json_value};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityName, EntityTrait,
    IdenStatic, Iterable, ModelTrait, PrimaryKeyTrait,
};
use serde_json::Value as Json;

use crate::db::entities::{
    api_token, app, app_alert, app_group, audit_entry, backup_copy, backup_run, copy_audit, drive_upload,
    drive_upload_hold, notification_channel, notification_delivery, restore, run_log, setting, user,
};
use crate::selfbackup::SelfBackupError;
use crate::selfbackup::dump::Sink;

/// A table's header line: its name and its columns, in the order of every row that follows.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct TableHeader {
    /// The table.
    pub(crate) table: String,
    /// Its columns.
    pub(crate) columns: Vec<String>,
}

macro_rules! registry_tables {
    ($($table:ident),* $(,)?) => {
        /// The kept tables, parents before the tables that point at them.
        pub fn names() -> Vec<&'static str> {
            vec![$($table::Entity.table_name()),*]
        }

        /// The kept tables whose key is an auto-increment `id` (their sequences move on a
        /// recovery).
        pub(crate) fn with_id_sequence() -> Vec<&'static str> {
            let mut tables = Vec::new();
            $(if <$table::PrimaryKey as PrimaryKeyTrait>::auto_increment() {
                tables.push($table::Entity.table_name());
            })*
            tables
        }

        /// Writes every kept table into `sink`, reading through `txn`; returns the rows written.
        pub(crate) async fn dump_all(txn: &DatabaseTransaction, sink: &mut Sink<'_>) -> Result<u64, SelfBackupError> {
            let mut rows = 0;
            $(rows += dump::<$table::Entity>(txn, sink).await?;)*
            Ok(rows)
        }

        /// Inserts rows of `table` (as [`dump_all`] wrote them) through `txn`.
        pub(crate) async fn load(
            txn: &DatabaseTransaction,
            header: &TableHeader,
            rows: Vec<Vec<Json>>,
        ) -> Result<(), SelfBackupError> {
            $(if header.table == $table::Entity.table_name() {
                return load_rows::<$table::ActiveModel>(txn, header, rows).await;
            })*
            Err(SelfBackupError::Format(format!(
                "it holds a table {:?} this release does not know: recover with the release that made it",
                header.table
            )))
        }
    };
}

registry_tables!(
    setting,
    user,
    app_group,
    app,
    backup_run,
    run_log,
    backup_copy,
    copy_audit,
    restore,
    notification_channel,
    notification_delivery,
    app_alert,
    api_token,
    audit_entry,
    drive_upload,
    drive_upload_hold,
);

/// The tables of ours a self-backup leaves out (see the module's documentation). Every table
/// is either kept ([`names`]) or here: the schema test checks it, so a new table must choose.
pub const LEFT_OUT: [&str; 5] = ["app_leases", "group_slots", "group_waiters", "schedule_fires", "sessions"];

/// Deletes every row of the kept tables and of the throw-away ones (children first), so a
/// database that has no apps but some leftovers of an earlier start takes the self-backup's rows
/// cleanly.
pub(crate) async fn clear_all(txn: &DatabaseTransaction) -> Result<(), SelfBackupError> {
    // The throw-away tables may point at apps too.
    for table in LEFT_OUT.into_iter().chain(names().into_iter().rev()) {
        let sql = format!("DELETE FROM {table}");
        txn.execute_unprepared(&sql).await?;
    }
    Ok(())
}

async fn dump<E: EntityTrait>(txn: &DatabaseTransaction, sink: &mut Sink<'_>) -> Result<u64, SelfBackupError> {
    let columns: Vec<E::Column> = E::Column::iter().collect();
    let header = TableHeader {
        table: E::default().table_name().to_owned(),
        columns: columns.iter().map(|c| c.as_str().to_owned()).collect(),
    };
    sink.line(&serde_json::json!({ "table": header.table, "columns": header.columns })).await?;
    let stream = E::find().stream(txn).await?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = 0u64;
    let mut row: Vec<Json> = Vec::with_capacity(columns.len());
    while let Some(model) = stream.next().await {
        let model = model?;
        row.clear();
        row.extend(columns.iter().map(|c| sea_value_to_json_value(&model.get(*c))));
        sink.line(&row).await?;
        rows += 1;
    }
    Ok(rows)
}

async fn load_rows<A>(
    txn: &DatabaseTransaction,
    header: &TableHeader,
    rows: Vec<Vec<Json>>,
) -> Result<(), SelfBackupError>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
{
    let mut columns = Vec::with_capacity(header.columns.len());
    for name in &header.columns {
        let column = <<A::Entity as EntityTrait>::Column as std::str::FromStr>::from_str(name).map_err(|_| {
            SelfBackupError::Format(format!(
                "its table {} has a column {name:?} this release does not know: recover with the release that made it",
                header.table
            ))
        })?;
        columns.push(column);
    }
    let mut models = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() != columns.len() {
            return Err(SelfBackupError::Format(format!(
                "a row of {} has {} values for {} columns",
                header.table,
                row.len(),
                columns.len()
            )));
        }
        let mut model = <A as ActiveModelTrait>::default();
        for (column, json) in columns.iter().zip(row) {
            let value = value_of(column.def().get_column_type(), json)
                .map_err(|what| SelfBackupError::Format(format!("{}.{}: {what}", header.table, column.as_str())))?;
            model
                .try_set(*column, value)
                .map_err(|e| SelfBackupError::Format(format!("{}.{}: {e}", header.table, column.as_str())))?;
        }
        models.push(model);
    }
    if !models.is_empty() {
        A::Entity::insert_many(models).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// The typed value of a column from its JSON (`null` is the column's typed null).
fn value_of(kind: &ColumnType, json: Json) -> Result<Value, String> {
    let wrong = |json: &Json| format!("{json} does not fit a {kind:?} column");
    Ok(match kind {
        ColumnType::BigInteger => Value::BigInt(match &json {
            Json::Null => None,
            j => Some(j.as_i64().ok_or_else(|| wrong(j))?),
        }),
        ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger => Value::Int(match &json {
            Json::Null => None,
            j => Some(j.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| wrong(j))?),
        }),
        ColumnType::Boolean => Value::Bool(match &json {
            Json::Null => None,
            Json::Bool(b) => Some(*b),
            j => Some(j.as_i64().map(|n| n != 0).ok_or_else(|| wrong(j))?),
        }),
        ColumnType::Double | ColumnType::Float => Value::Double(match &json {
            Json::Null => None,
            j => Some(j.as_f64().ok_or_else(|| wrong(j))?),
        }),
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) | ColumnType::Enum { .. } => {
            Value::String(match json {
                Json::Null => None,
                Json::String(s) => Some(s),
                j => return Err(wrong(&j)),
            })
        }
        other => return Err(format!("columns of type {other:?} are not kept in self-backups")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_typed_by_their_column() {
        assert_eq!(value_of(&ColumnType::BigInteger, Json::from(7)), Ok(Value::BigInt(Some(7))));
        assert_eq!(value_of(&ColumnType::BigInteger, Json::Null), Ok(Value::BigInt(None)));
        assert_eq!(value_of(&ColumnType::Integer, Json::from(3)), Ok(Value::Int(Some(3))));
        assert_eq!(value_of(&ColumnType::Boolean, Json::from(true)), Ok(Value::Bool(Some(true))));
        assert_eq!(value_of(&ColumnType::Boolean, Json::from(0)), Ok(Value::Bool(Some(false))));
        assert_eq!(value_of(&ColumnType::Text, Json::from("x")), Ok(Value::String(Some("x".into()))));
        assert!(value_of(&ColumnType::Integer, Json::from(1i64 << 40)).is_err());
        assert!(value_of(&ColumnType::Text, Json::from(1)).unwrap_err().contains("does not fit"));
    }

    #[test]
    fn parents_come_before_the_tables_that_point_at_them() {
        let names = names();
        let at = |t: &str| names.iter().position(|n| *n == t).unwrap_or_else(|| panic!("{t} kept"));
        assert!(at("apps") < at("backup_runs") && at("backup_runs") < at("run_logs"));
        assert!(at("notification_channels") < at("notification_deliveries"));
        for gone in ["sessions", "app_leases", "schedule_fires"] {
            assert!(!names.contains(&gone), "{gone} is throw-away");
        }
    }
}
