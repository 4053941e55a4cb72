//! The orchestrator's own backup: `SELF_BACKUP_SCHEDULE`, `SELF_BACKUP_FOLDER`, `SELF_BACKUP_KEEP`.

use super::Env;
use super::storage::StorageSettings;
use crate::schedule::cron::CronSchedule;

/// The default schedule: every day at 02:15 UTC.
pub const DEFAULT_SCHEDULE: &str = "15 2 * * *";
/// The default folder on a local folder or S3: a sub-folder (prefix) of the root.
pub const DEFAULT_FOLDER: &str = "orchestrator";

/// When and where self-backups are made.
#[derive(Debug, Clone)]
pub struct SelfBackupSettings {
    /// When `serve` makes one (UTC); `None` when `SELF_BACKUP_SCHEDULE=off`.
    pub schedule: Option<CronSchedule>,
    /// Where they go: a Drive folder id, or a sub-folder on fs and s3. `None` on Drive when
    /// `SELF_BACKUP_FOLDER` is unset: self-backups are off.
    pub folder: Option<String>,
    /// How many of this deployment's verified self-backups are kept.
    pub keep: usize,
    storage_kind: &'static str,
}

impl SelfBackupSettings {
    /// Reads them; on fs and s3 the folder defaults to [`DEFAULT_FOLDER`], on Drive it must be
    /// given (a folder id).
    pub fn from_env(env: &Env, storage: &StorageSettings) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let schedule = match env.get("SELF_BACKUP_SCHEDULE").as_deref().unwrap_or(DEFAULT_SCHEDULE) {
            "off" | "none" => None,
            expression => match CronSchedule::parse(expression, "UTC") {
                Ok(schedule) => Some(schedule),
                Err(e) => {
                    errors.push(format!(
                        "SELF_BACKUP_SCHEDULE={expression:?}: {e}; use a cron expression such as {DEFAULT_SCHEDULE:?} (UTC), or off"
                    ));
                    None
                }
            },
        };
        let storage_kind = match storage {
            StorageSettings::Gdrive(_) => "gdrive",
            StorageSettings::Fs { .. } => "fs",
            StorageSettings::S3(_) => "s3",
        };
        let folder =
            env.get("SELF_BACKUP_FOLDER").or_else(|| (storage_kind != "gdrive").then(|| DEFAULT_FOLDER.into()));
        if let Some(folder) = &folder
            && (folder.starts_with('/')
                || folder.split('/').any(|p| p == ".." || p == ".")
                || folder.chars().any(char::is_control))
        {
            errors.push(format!(
                "SELF_BACKUP_FOLDER={folder:?}: use a folder inside the destination (a Drive folder id, or a sub-folder such as {DEFAULT_FOLDER}), without a leading '/', '..' or control characters"
            ));
        }
        let keep: usize = env.number("SELF_BACKUP_KEEP", 7, &mut errors);
        if keep == 0 {
            errors.push("SELF_BACKUP_KEEP=0: keep at least 1 (the newest self-backup is never deleted)".into());
        }
        if errors.is_empty() { Ok(SelfBackupSettings { schedule, folder, keep, storage_kind }) } else { Err(errors) }
    }

    /// Why self-backups cannot be made, and what to set.
    pub fn off_reason(&self) -> String {
        self.off_msg().to_string()
    }

    /// The same, as a text of the catalogue for a page.
    pub fn off_msg(&self) -> crate::catalogue::Msg {
        crate::catalogue::Msg::new(match self.storage_kind {
            "gdrive" => "self_backup.off.gdrive",
            _ => "self_backup.off.folder",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fs() -> StorageSettings {
        StorageSettings::Fs { root: PathBuf::from("data/backups") }
    }

    #[test]
    fn defaults_back_up_daily_into_a_folder_of_their_own_keeping_seven() {
        let s = SelfBackupSettings::from_env(&Env::from_pairs([]), &fs()).unwrap();
        assert_eq!(s.schedule.as_ref().map(CronSchedule::expression), Some(DEFAULT_SCHEDULE));
        assert_eq!(s.folder.as_deref(), Some(DEFAULT_FOLDER));
        assert_eq!(s.keep, 7);
    }

    #[test]
    fn off_turns_the_schedule_off_and_bad_values_say_what_to_use() {
        let env = Env::from_pairs([("SELF_BACKUP_SCHEDULE", "off"), ("SELF_BACKUP_FOLDER", "ops/self")]);
        let s = SelfBackupSettings::from_env(&env, &fs()).unwrap();
        assert!(s.schedule.is_none());
        assert_eq!(s.folder.as_deref(), Some("ops/self"));
        let env = Env::from_pairs([
            ("SELF_BACKUP_SCHEDULE", "every day"),
            ("SELF_BACKUP_KEEP", "0"),
            ("SELF_BACKUP_FOLDER", "../elsewhere"),
        ]);
        let errors = SelfBackupSettings::from_env(&env, &fs()).unwrap_err().join("\n");
        assert!(errors.contains("SELF_BACKUP_SCHEDULE=\"every day\"") && errors.contains("or off"), "{errors}");
        assert!(errors.contains("SELF_BACKUP_KEEP=0: keep at least 1"), "{errors}");
        assert!(errors.contains("SELF_BACKUP_FOLDER=\"../elsewhere\""), "{errors}");
        let env = Env::from_pairs([("SELF_BACKUP_FOLDER", "ops\tself")]);
        let errors = SelfBackupSettings::from_env(&env, &fs()).unwrap_err().join("\n");
        assert!(errors.contains("SELF_BACKUP_FOLDER=\"ops\\tself\"") && errors.contains("control"), "{errors}");
    }
}
