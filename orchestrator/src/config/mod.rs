//! Settings from the environment (12-factor). Every setting is read through [`Env`], so tests
//! pass their own values instead of touching the process environment. Secrets accept a
//! `NAME_FILE` variant (Docker secrets) and are held as `SecretString`.

pub mod audit;
pub mod budget;
pub mod encryption;
pub mod notify;
pub mod run;
pub mod self_backup;
pub mod storage;
pub mod web;

use std::collections::HashMap;

use secrecy::SecretString;

/// Every setting the service and the CLI share.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL` (default an SQLite file under `data/`).
    pub database_url: String,
    /// `SECRET_KEY`, when set.
    pub secret_key: Option<SecretString>,
    /// `DEPLOYMENT_ID`, when set (validated).
    pub deployment_id: Option<String>,
    /// Where backups go.
    pub storage: storage::StorageSettings,
    /// Limits of every run.
    pub run: run::RunSettings,
    /// Notifications and alerts.
    pub notify: notify::NotifySettings,
    /// The OAuth client of Connect Google Drive.
    pub drive_oauth: storage::DriveOAuthSettings,
    /// The orchestrator's own backup.
    pub self_backup: self_backup::SelfBackupSettings,
    /// Who copies are encrypted to, and what opens them here.
    pub encryption: encryption::EncryptionSettings,
    /// Integrity audits on a schedule.
    pub audit: audit::AuditSettings,
}

impl Settings {
    /// Reads every setting; all problems are reported together.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let database_url = env.get("DATABASE_URL").unwrap_or_else(|| crate::db::DEFAULT_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            errors.push(format!("DATABASE_URL={database_url:?}: use sqlite://PATH or postgres://USER@HOST/DB"));
        }
        let secret_key = env.secret("SECRET_KEY").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let deployment_id = env.get("DEPLOYMENT_ID");
        if let Some(Err(e)) = deployment_id.as_deref().map(crate::deployment::validate) {
            errors.push(e);
        }
        let storage = storage::StorageSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        let run = run::RunSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        let notify = notify::NotifySettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        let drive_oauth = storage::DriveOAuthSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        let self_backup = storage.as_ref().and_then(|storage| {
            self_backup::SelfBackupSettings::from_env(env, storage).map_err(|e| errors.extend(e)).ok()
        });
        let encryption = encryption::EncryptionSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        let audit = audit::AuditSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        match (storage, run, notify, drive_oauth, self_backup, encryption, audit) {
            (
                Some(storage),
                Some(run),
                Some(notify),
                Some(drive_oauth),
                Some(self_backup),
                Some(encryption),
                Some(audit),
            ) if errors.is_empty() => Ok(Settings {
                database_url,
                secret_key,
                deployment_id,
                storage,
                run,
                notify,
                drive_oauth,
                self_backup,
                encryption,
                audit,
            }),
            _ => Err(errors),
        }
    }
}

/// A source of settings.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment, over the `.env` file of the working folder when there is one.
    pub fn from_process() -> Self {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            vars.extend(iter.flatten());
        }
        vars.extend(std::env::vars());
        Env { vars }
    }

    /// Exactly these values (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() }
    }

    /// A setting, trimmed; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The language of the terminal's locale (`LC_ALL`, `LC_MESSAGES`, `LANG`), for what the
    /// command line tells a person.
    pub fn lang(&self) -> crate::catalogue::Lang {
        crate::catalogue::Lang::of_locale(|name| self.get(name))
    }

    /// A secret from `NAME`, or read from the file named by `NAME_FILE`.
    pub fn secret(&self, name: &str) -> Result<Option<SecretString>, String> {
        if let Some(v) = self.vars.get(name).filter(|v| !v.trim().is_empty()) {
            return Ok(Some(SecretString::from(v.trim().to_owned())));
        }
        let file_var = format!("{name}_FILE");
        match self.get(&file_var) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(&path)
                .map(|s| Some(SecretString::from(s.trim().to_owned())))
                .map_err(|e| format!("{file_var}={path}: cannot read the file: {e}")),
        }
    }

    /// A number setting, with its default. A value that is not a number is reported with the
    /// default as an example of what to write.
    pub fn number<T: std::str::FromStr + std::fmt::Display>(
        &self,
        name: &str,
        default: T,
        errors: &mut Vec<String>,
    ) -> T {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                errors.push(format!("{name}={v:?} is not a whole number: write one such as {default} (the default)"));
                default
            }),
        }
    }

    /// A number setting that must lie in `min..=max` (`unit` names what it counts, e.g.
    /// "seconds"). Out of range is reported with the range and the default; the default is
    /// returned so that the other settings can still be checked.
    pub fn number_in<T>(&self, name: &str, default: T, (min, max): (T, T), unit: &str, errors: &mut Vec<String>) -> T
    where
        T: std::str::FromStr + std::fmt::Display + PartialOrd + Copy,
    {
        let before = errors.len();
        let n = self.number(name, default, errors);
        if errors.len() == before && !(min <= n && n <= max) {
            errors.push(format!("{name}={n}: use {min} to {max} {unit} (default {default})"));
            return default;
        }
        n
    }

    /// The same settings with `name` set to `value` (`serve --demo` points its own).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The same settings without `name` (nor its `NAME_FILE` variant).
    pub fn without(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self.vars.remove(&format!("{name}_FILE"));
        self
    }
}

/// Parses a size like `8388608`, `8MiB`, `512KiB`, `1GiB`, `10MB`.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("8388608"), Some(8 << 20));
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("256 KiB"), Some(256 << 10));
        assert_eq!(parse_size("1gib"), Some(1 << 30));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("8 parsecs"), None);
    }

    #[test]
    fn secrets_come_from_the_variable_or_its_file() {
        let dir = std::env::temp_dir().join(format!("orch-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "from-file\n").unwrap();
        let path = file.to_str().unwrap();
        use secrecy::ExposeSecret;
        let env = Env::from_pairs([("A", "direct"), ("B_FILE", path), ("C_FILE", "/no/such/file")]);
        assert_eq!(env.secret("A").unwrap().unwrap().expose_secret(), "direct");
        assert_eq!(env.secret("B").unwrap().unwrap().expose_secret(), "from-file");
        assert!(env.secret("C").unwrap_err().contains("C_FILE=/no/such/file"));
        assert!(env.secret("D").unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
