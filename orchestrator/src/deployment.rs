//! The deployment's identity: a short id, generated once on the first start and kept in the
//! `settings` table, that names this installation apart from any other writing into the same
//! destination. Operators note it with `SECRET_KEY`: a rebuilt database started with the same
//! `DEPLOYMENT_ID` is the same deployment again.
//!
//! This module never changes a stored id: a configured id that differs from the stored one is
//! refused, because silently adopting it would re-own every copy.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use crate::db::entities::setting;

const SETTING_KEY: &str = "deployment_id";

/// The longest id accepted: short enough to sit in a Drive `appProperties` pair.
pub const MAX_LEN: usize = 64;

/// Checks a `DEPLOYMENT_ID` value; the error says what to fix.
pub fn validate(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_LEN {
        return Err(format!("DEPLOYMENT_ID={id:?}: use 1 to {MAX_LEN} characters (it has {})", id.chars().count()));
    }
    if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "DEPLOYMENT_ID={id:?}: {bad:?} is not allowed; use only letters A-Z a-z, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// A new random id, e.g. `d-3f9a0c1b7e42d815`.
pub fn generate() -> String {
    format!("d-{:016x}", fastrand::u64(..))
}

/// The id this database holds, if it holds one yet.
pub async fn stored(db: &DatabaseConnection) -> Result<Option<String>, String> {
    setting::Entity::find_by_id(SETTING_KEY.to_owned())
        .one(db)
        .await
        .map(|row| row.map(|row| row.value))
        .map_err(|e| format!("could not read the deployment id: {e}"))
}

/// Makes `id` this database's deployment id, replacing any id it holds. Only `recover` calls
/// it, and only on a database without apps, whose id has not named any copy yet.
pub async fn adopt(db: &DatabaseConnection, id: &str) -> Result<(), String> {
    validate(id)?;
    let store = |e: sea_orm::DbErr| format!("could not store the deployment id: {e}");
    setting::Entity::delete_by_id(SETTING_KEY.to_owned()).exec(db).await.map_err(store)?;
    setting::Entity::insert(setting::ActiveModel { key: Set(SETTING_KEY.to_owned()), value: Set(id.to_owned()) })
        .exec(db)
        .await
        .map_err(store)?;
    Ok(())
}

/// The id of the deployment this database belongs to: the stored one; on the first start the
/// configured one (or a generated one), stored. A configured id that differs from the stored one
/// is refused.
pub async fn establish(db: &DatabaseConnection, configured: Option<&str>) -> Result<String, String> {
    let stored = setting::Entity::find_by_id(SETTING_KEY.to_owned())
        .one(db)
        .await
        .map_err(|e| format!("could not read the deployment id: {e}"))?
        .map(|row| row.value);
    match (stored, configured) {
        (Some(stored), Some(configured)) if stored != configured => Err(format!(
            "DEPLOYMENT_ID={configured:?} does not match the id this database belongs to ({stored:?}): set DEPLOYMENT_ID={stored} (or leave it unset); a different id would treat this deployment's copies as another's"
        )),
        (Some(stored), _) => Ok(stored),
        (None, configured) => {
            let id = configured.map(str::to_owned).unwrap_or_else(generate);
            // Two processes starting on a new database at once must agree: the first insert wins
            // and both read it back.
            setting::Entity::insert(setting::ActiveModel { key: Set(SETTING_KEY.to_owned()), value: Set(id) })
                .on_conflict_do_nothing_on([setting::Column::Key])
                .exec(db)
                .await
                .map_err(|e| format!("could not store the deployment id: {e}"))?;
            let stored = setting::Entity::find_by_id(SETTING_KEY.to_owned())
                .one(db)
                .await
                .map_err(|e| format!("could not read the deployment id: {e}"))?
                .map(|row| row.value)
                .ok_or_else(|| "the deployment id was not stored".to_owned())?;
            match configured {
                Some(configured) if configured != stored => Err(format!(
                    "DEPLOYMENT_ID={configured:?} does not match the id this database belongs to ({stored:?}): set DEPLOYMENT_ID={stored} (or leave it unset)"
                )),
                _ => Ok(stored),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_safe_characters_up_to_64_are_accepted() {
        for ok in ["a", "prod-eu.1", "A_b-c.D", &"x".repeat(64), &generate()] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn empty_long_or_odd_ids_are_refused_with_what_to_fix() {
        assert!(validate("").unwrap_err().contains("1 to 64 characters"));
        assert!(validate(&"x".repeat(65)).unwrap_err().contains("1 to 64 characters"));
        let odd = validate("prod eu").unwrap_err();
        assert!(odd.contains("' ' is not allowed") && odd.contains("letters"), "{odd}");
        assert!(validate("prod/eu").unwrap_err().contains("'/' is not allowed"));
        assert!(validate("prodé").unwrap_err().contains("'é' is not allowed"));
    }
}
