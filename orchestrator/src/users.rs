//! The people who sign in, and what each may do. Roles are ordered: each may do what the one
//! below may, and more. The first admin comes from `ADMIN_USER` / `ADMIN_PASSWORD` (see
//! [`crate::http::auth::admin`]) and is kept an admin at every start; others are added by an
//! admin (UI, API or `orchestrator users add`).

use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{QueryOrder, TransactionTrait};
use secrecy::{ExposeSecret, SecretString};

use crate::catalogue::{Lang, Msg};
use crate::db::entities::{api_token, session, user};
use crate::db::now_ms;
use crate::registry::input::FieldError;

/// What a user (or an API token) may do. Ordered: a higher role may do all a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees everything but secrets.
    Viewer,
    /// Also starts backups (Test now), pauses and resumes, cancels, downloads.
    Operator,
    /// Also restores and runs restore drills.
    Restorer,
    /// Also changes apps, channels, users, tokens and settings, and deletes.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Restorer, Role::Admin];

    /// Its name in settings, the API and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Restorer => "restorer",
            Role::Admin => "admin",
        }
    }

    /// From its name.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text.trim().to_ascii_lowercase())
    }

    /// True when this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How recent an identity provider's sign-in must be to confirm a dangerous action, for a user
/// without a password: five minutes.
pub const SSO_CONFIRM_MS: i64 = 5 * 60 * 1000;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// A new user, as typed.
#[derive(Debug, Default)]
pub struct NewUser {
    /// Sign-in name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// `en`, `es` or empty.
    pub language: String,
    /// E-mail (how the identity provider names them), or empty.
    pub email: String,
    /// Empty = signs in only through the identity provider.
    pub password: Option<SecretString>,
}

fn field(name: &str, key: &'static str) -> FieldError {
    FieldError::new(name, Msg::new(key))
}

/// A sign-in name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_name(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok { Ok(()) } else { Err(field("name", "field.user.name_invalid")) }
}

/// A role's name.
pub fn check_role(role: &str) -> Result<Role, FieldError> {
    Role::parse(role).ok_or_else(|| field("role", "field.user.role_invalid"))
}

/// A new password.
pub fn check_password(password: &SecretString) -> Result<(), FieldError> {
    let given = password.expose_secret();
    if given.chars().count() < MIN_PASSWORD {
        return Err(FieldError::new("password", Msg::new("field.user.password_short").with("min", MIN_PASSWORD)));
    }
    if given.len() > 1024 || given.chars().any(char::is_control) {
        return Err(field("password", "field.user.password_invalid"));
    }
    Ok(())
}

fn check_language(language: &str) -> Result<Option<String>, FieldError> {
    match language.trim() {
        "" => Ok(None),
        code => Lang::parse(code)
            .map(|l| Some(l.code().to_owned()))
            .ok_or_else(|| field("language", "field.user.language_invalid")),
    }
}

fn check_email(email: &str) -> Result<Option<String>, FieldError> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(Some(email.to_ascii_lowercase())) } else { Err(field("email", "field.user.email_invalid")) }
}

/// Why a change to users was refused.
#[derive(Debug)]
pub enum UserError {
    /// Fields to fix.
    Invalid(Vec<FieldError>),
    /// No user of that name.
    NotFound,
    /// The database.
    Db(DbErr),
}

impl From<DbErr> for UserError {
    fn from(e: DbErr) -> Self {
        UserError::Db(e)
    }
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        UserError::Invalid(vec![e])
    }
}

/// Adds a user; every field error at once. The first admin's name (`first_admin`) is theirs
/// even before their first start.
pub async fn add(db: &DatabaseConnection, new: NewUser, by: &str, first_admin: &str) -> Result<user::Model, UserError> {
    let mut errors = Vec::new();
    let name = new.name.trim().to_owned();
    if let Err(e) = check_name(&name) {
        errors.push(e);
    }
    let role = check_role(&new.role).map_err(|e| errors.push(e)).ok();
    let language = check_language(&new.language).map_err(|e| errors.push(e)).ok().flatten();
    let email = check_email(&new.email).map_err(|e| errors.push(e)).ok().flatten();
    let password = new.password.filter(|p| !p.expose_secret().is_empty());
    if let Some(p) = &password
        && let Err(e) = check_password(p)
    {
        errors.push(e);
    }
    if password.is_none() && email.is_none() {
        errors.push(field("password", "field.user.password_or_email"));
    }
    if errors.is_empty() && (name == first_admin || find(db, &name).await?.is_some()) {
        errors.push(field("name", "field.user.exists"));
    }
    if let Some(email) = &email
        && errors.is_empty()
        && user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db).await?.is_some()
    {
        errors.push(field("email", "field.user.email_taken"));
    }
    let (Some(role), true) = (role, errors.is_empty()) else { return Err(UserError::Invalid(errors)) };
    let password_hash = match password {
        Some(p) => Some(hash_blocking(p).await.map_err(|e| UserError::Db(DbErr::Custom(e)))?),
        None => None,
    };
    let now = now_ms();
    let row = user::ActiveModel {
        name: Set(name),
        role: Set(role.as_str().to_owned()),
        language: Set(language),
        email: Set(email),
        password_hash: Set(password_hash),
        created_by: Set(by.to_owned()),
        created_at: Set(now),
        password_changed_at: Set(Some(now)),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Every user, by name.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find().order_by_asc(user::Column::Name).all(db).await
}

/// The user called `name`.
pub async fn find(db: &DatabaseConnection, name: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Name.eq(name)).one(db).await
}

/// The user whose e-mail is `email` (compared lowercased, as stored).
pub async fn find_by_email(db: &DatabaseConnection, email: &str) -> Result<Option<user::Model>, DbErr> {
    let email = email.trim().to_ascii_lowercase();
    user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db).await
}

/// The user's role now; `None` when they are gone (their sessions and tokens stop at once).
pub async fn role_of(db: &DatabaseConnection, name: &str) -> Result<Option<Role>, DbErr> {
    Ok(find(db, name).await?.and_then(|u| Role::parse(&u.role)))
}

/// Changes a user's role, language or e-mail. The first admin stays an admin.
pub async fn update(
    db: &DatabaseConnection,
    name: &str,
    role: Option<&str>,
    language: Option<&str>,
    email: Option<&str>,
    first_admin: &str,
) -> Result<user::Model, UserError> {
    let row = find(db, name).await?.ok_or(UserError::NotFound)?;
    let mut errors = Vec::new();
    let mut active: user::ActiveModel = row.clone().into();
    if let Some(role) = role {
        match check_role(role) {
            Ok(r) if row.name == first_admin && r != Role::Admin => {
                errors.push(field("role", "field.user.first_admin"))
            }
            Ok(r) => active.role = Set(r.as_str().to_owned()),
            Err(e) => errors.push(e),
        }
    }
    if let Some(language) = language {
        match check_language(language) {
            Ok(l) => active.language = Set(l),
            Err(e) => errors.push(e),
        }
    }
    if let Some(email) = email {
        match check_email(email) {
            Ok(Some(e))
                if row.email.as_deref() != Some(e.as_str())
                    && user::Entity::find().filter(user::Column::Email.eq(e.as_str())).one(db).await?.is_some() =>
            {
                errors.push(field("email", "field.user.email_taken"))
            }
            Ok(e) => active.email = Set(e),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(UserError::Invalid(errors));
    }
    Ok(active.update(db).await?)
}

/// Sets a user's password and ends their sessions but `keep` (the one that changed it).
pub async fn set_password(
    db: &DatabaseConnection,
    name: &str,
    password: SecretString,
    keep: Option<&str>,
) -> Result<(), UserError> {
    check_password(&password)?;
    let row = find(db, name).await?.ok_or(UserError::NotFound)?;
    let hash = hash_blocking(password).await.map_err(|e| UserError::Db(DbErr::Custom(e)))?;
    let txn = db.begin().await?;
    let mut active: user::ActiveModel = row.into();
    active.password_hash = Set(Some(hash));
    active.password_changed_at = Set(Some(now_ms()));
    active.update(&txn).await?;
    let mut others = session::Entity::delete_many().filter(session::Column::Username.eq(name));
    if let Some(keep) = keep {
        others = others.filter(session::Column::Id.ne(keep));
    }
    others.exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Removes a user: their sessions end and their tokens are revoked, at once. The first admin
/// cannot be removed.
pub async fn remove(db: &DatabaseConnection, name: &str, first_admin: &str) -> Result<user::Model, UserError> {
    if name == first_admin {
        return Err(field("name", "field.user.first_admin").into());
    }
    let row = find(db, name).await?.ok_or(UserError::NotFound)?;
    let txn = db.begin().await?;
    session::Entity::delete_many().filter(session::Column::Username.eq(name)).exec(&txn).await?;
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now_ms()))
        .filter(api_token::Column::Owner.eq(name))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    user::Entity::delete_by_id(row.id).exec(&txn).await?;
    txn.commit().await?;
    Ok(row)
}

/// Makes sure the first admin (`ADMIN_USER`) exists as an admin with `hash`. When the password
/// comes from `ADMIN_PASSWORD` (`from_settings`), it replaces the stored one at every start;
/// a generated one is only the first.
pub async fn ensure_first_admin(
    db: &DatabaseConnection,
    name: &str,
    hash: &str,
    from_settings: bool,
) -> Result<(), DbErr> {
    let now = now_ms();
    user::Entity::insert(user::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(Role::Admin.as_str().to_owned()),
        password_hash: Set(Some(hash.to_owned())),
        created_by: Set("ADMIN_USER".to_owned()),
        created_at: Set(now),
        password_changed_at: Set(Some(now)),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(user::Column::Name).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    let mut update = user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value(Role::Admin.as_str()))
        .filter(user::Column::Name.eq(name));
    if from_settings {
        update = update.col_expr(user::Column::PasswordHash, Expr::value(hash));
    }
    update.exec(db).await?;
    Ok(())
}

/// Password checks that may run at once in a process (each holds argon2's memory).
pub const HASHING_AT_ONCE: usize = 2;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHING_AT_ONCE);

/// A well-formed hash no password matches, checked for unknown users so that their answer takes
/// as long as a known user's.
const NO_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3bM0Tb1gFRbgpWlqWCvsMuyMfvu7GpoGCyNi5CLhTXg";

/// The user called `name` when `password` is theirs. Slow on purpose (argon2), on a blocking
/// thread; at most [`HASHING_AT_ONCE`] at once: `None` when none could start within 10 s (the
/// server is busy checking other passwords), never a guess.
pub async fn verify(
    db: &DatabaseConnection,
    name: &str,
    password: SecretString,
) -> Result<Option<Option<user::Model>>, DbErr> {
    let row = find(db, name).await?;
    let hash = row.as_ref().and_then(|r| r.password_hash.clone());
    let Some(matched) = verify_hash(hash, password).await else { return Ok(None) };
    Ok(Some(row.filter(|_| matched)))
}

/// `password` against `hash` (none: against a hash nothing matches), under the hashing bound.
pub async fn verify_hash(hash: Option<String>, password: SecretString) -> Option<bool> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let permit = tokio::time::timeout(std::time::Duration::from_secs(10), HASHING.acquire()).await.ok()?.ok()?;
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| NO_USER_HASH.to_owned());
    let verified = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|h| argon2::Argon2::default().verify_password(password.expose_secret().as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false);
    drop(permit);
    Some(verified && known)
}

async fn hash_blocking(password: SecretString) -> Result<String, String> {
    tokio::task::spawn_blocking(move || crate::http::auth::admin::hash(&password)).await.map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_their_names() {
        assert!(Role::Admin.allows(Role::Restorer));
        assert!(Role::Restorer.allows(Role::Operator));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Restorer));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn names_emails_and_passwords_are_checked() {
        assert!(check_name("ana.garcia").is_ok());
        assert!(check_name("ana garcia").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
        assert_eq!(check_email(" Ana@Example.org ").unwrap().as_deref(), Some("ana@example.org"));
        assert!(check_email("ana@localhost").is_err());
        assert!(check_password(&SecretString::from("short")).is_err());
        assert!(check_password(&SecretString::from("long enough\n")).is_err());
        assert!(check_password(&SecretString::from("long enough")).is_ok());
    }

    #[tokio::test]
    async fn the_placeholder_hash_parses_and_matches_nothing() {
        use argon2::password_hash::PasswordHash;
        assert!(PasswordHash::new(NO_USER_HASH).is_ok());
        assert_eq!(verify_hash(None, SecretString::from("somesaltsomesalt")).await, Some(false));
        let hash = crate::http::auth::admin::hash(&SecretString::from("the right one")).unwrap();
        assert_eq!(verify_hash(Some(hash.clone()), SecretString::from("the right one")).await, Some(true));
        assert_eq!(verify_hash(Some(hash), SecretString::from("the wrong one")).await, Some(false));
    }
}
