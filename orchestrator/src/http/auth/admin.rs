//! The admin account: from `ADMIN_USER` / `ADMIN_PASSWORD` (a password or its argon2 hash), or,
//! when no password is set, one generated on first start whose hash the database keeps (so every
//! process of a deployment agrees) and which is printed once.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;
use sea_orm::sea_query::OnConflict;
use secrecy::{ExposeSecret, SecretString};

use crate::config::web::WebSettings;
use crate::db::entities::setting;

const HASH_KEY: &str = "admin_password_hash";

/// Who may sign in, and the hash of their password.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The user name.
    pub user: String,
    hash: String,
}

/// The admin account, and the generated password when this start created it (print it once).
pub async fn resolve(db: &DatabaseConnection, settings: &WebSettings) -> Result<(Admin, Option<SecretString>), String> {
    let user = settings.admin_user.clone();
    if let Some(password) = &settings.admin_password {
        let given = password.expose_secret();
        let hash = if given.starts_with("$argon2") {
            PasswordHash::new(given)
                .map_err(|e| format!("ADMIN_PASSWORD looks like an argon2 hash but is not one: {e}"))?;
            given.to_owned()
        } else {
            if given.chars().count() < 8 {
                return Err("ADMIN_PASSWORD is shorter than 8 characters: choose a longer one".into());
            }
            hash(password)?
        };
        return Ok((Admin { user, hash }, None));
    }
    if let Some(row) = setting::Entity::find_by_id(HASH_KEY).one(db).await.map_err(|e| e.to_string())? {
        return Ok((Admin { user, hash: row.value }, None));
    }
    let generated = SecretString::from(generate_password());
    let hash = hash(&generated)?;
    let inserted = setting::Entity::insert(setting::ActiveModel { key: Set(HASH_KEY.into()), value: Set(hash) })
        .on_conflict(OnConflict::column(setting::Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
        .map_err(|e| e.to_string())?;
    // Another process may have generated one first: theirs wins, and they printed it.
    let row = setting::Entity::find_by_id(HASH_KEY).one(db).await.map_err(|e| e.to_string())?;
    let hash = row.ok_or("the admin password hash vanished from the settings table")?.value;
    Ok((Admin { user, hash }, (inserted == 1).then_some(generated)))
}

impl Admin {
    /// The argon2 hash (PHC string) of their password.
    pub fn password_hash(&self) -> &str {
        &self.hash
    }
}

/// The argon2id hash (PHC string) of a password.
pub fn hash(password: &SecretString) -> Result<String, String> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| "no randomness available")?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

fn generate_password() -> String {
    // No look-alike characters: it is read off a terminal and typed.
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).expect("randomness");
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
