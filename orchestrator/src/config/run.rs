//! Limits on every backup run: export timeouts, the size guard and Drive's upload budget.

use std::time::Duration;

use contract_spec::client::Timeouts;

use super::{Env, parse_size};

/// How patient a run is with an app, and how big a backup may be.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunSettings {
    /// How much a Drive account may upload per window before runs wait.
    pub drive_budget: super::budget::BudgetSettings,
    /// Connect / response / idle / total timeouts for calls to apps.
    pub timeouts: Timeouts,
    /// A larger export is stopped and fails (`MAX_BACKUP_SIZE`); `None` = no limit.
    pub max_backup_size: Option<u64>,
    /// Bytes per second every upload of the process shares (`UPLOAD_BANDWIDTH_LIMIT`); `None` =
    /// no limit.
    pub upload_bandwidth: Option<u64>,
}

impl RunSettings {
    /// `EXPORT_CONNECT_TIMEOUT`, `EXPORT_IDLE_TIMEOUT`, `EXPORT_TIMEOUT` (seconds) and
    /// `MAX_BACKUP_SIZE` (e.g. `50GiB`), `GDRIVE_DAILY_UPLOAD_LIMIT`, `GDRIVE_DAILY_UPLOAD_WINDOW`
    /// and `UPLOAD_BANDWIDTH_LIMIT` (e.g. `20MiB`, per second).
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let defaults = Timeouts::default();
        let secs = |name: &str, default: Duration, errors: &mut Vec<String>| {
            let n: u64 = env.number(name, default.as_secs(), errors);
            if n == 0 {
                errors.push(format!("{name}=0: give a number of seconds above 0"));
            }
            Duration::from_secs(n.max(1))
        };
        let connect = secs("EXPORT_CONNECT_TIMEOUT", defaults.connect, &mut errors);
        let idle = secs("EXPORT_IDLE_TIMEOUT", defaults.idle, &mut errors);
        let total = secs("EXPORT_TIMEOUT", defaults.total, &mut errors);
        let max_backup_size = match env.get("MAX_BACKUP_SIZE") {
            None => None,
            Some(v) => match parse_size(&v) {
                Some(n) if n > 0 => Some(n),
                _ => {
                    errors.push(format!(
                        "MAX_BACKUP_SIZE={v:?}: give a size such as 50GiB, or leave it unset for no limit"
                    ));
                    None
                }
            },
        };
        let upload_bandwidth = match env.get("UPLOAD_BANDWIDTH_LIMIT") {
            None => None,
            Some(v) if matches!(v.trim().to_ascii_lowercase().as_str(), "" | "off" | "0") => None,
            Some(v) => {
                let per_second = v.trim().trim_end_matches("/s").trim_end_matches("/S");
                match parse_size(per_second) {
                    Some(n) if n >= crate::backup::bandwidth::MIN_BYTES_PER_SEC => Some(n),
                    _ => {
                        errors.push(format!(
                            "UPLOAD_BANDWIDTH_LIMIT={v:?}: give bytes per second such as 20MiB (or 20MiB/s, 512KiB), at least 16KiB, or off"
                        ));
                        None
                    }
                }
            }
        };
        let drive_budget = super::budget::BudgetSettings::from_env(env, &mut errors);
        let timeouts = Timeouts { connect, response: idle.max(Duration::from_secs(1)), idle, total };
        if errors.is_empty() {
            Ok(RunSettings { timeouts, max_backup_size, drive_budget, upload_bandwidth })
        } else {
            Err(errors)
        }
    }
}
