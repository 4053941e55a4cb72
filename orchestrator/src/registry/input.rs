//! What an operator types to register or change an app, and its validation: every field error
//! at once, each saying what to fix.

use secrecy::{ExposeSecret, SecretString};

use super::App;
use crate::backup::retention::Policy;
use crate::catalogue::Msg;
use crate::codec::Compress;
use crate::codec::keys::{self, Recipient};
use crate::schedule::cron::CronSchedule;
use crate::schedule::spread::{MAX_JITTER_SECS, MAX_WINDOW_SECS, format_span, parse_span};

/// The order in which queued backups are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub enum Priority {
    /// Taken first.
    High,
    /// The default.
    #[default]
    Normal,
    /// Taken last.
    Low,
}

impl Priority {
    /// The queue's priority number: higher is taken first.
    pub fn rank(self) -> i32 {
        match self {
            Priority::High => 10,
            Priority::Normal => 5,
            Priority::Low => 1,
        }
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        })
    }
}

/// A priority that is not one of high, normal or low.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.msg())]
pub struct UnknownPriority(pub String);

impl UnknownPriority {
    /// What to write instead.
    pub fn msg(&self) -> Msg {
        Msg::new("field.priority.unknown").with("given", &self.0)
    }
}

impl std::str::FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, UnknownPriority> {
        match s.trim().to_ascii_lowercase().as_str() {
            "high" => Ok(Priority::High),
            "normal" | "" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            other => Err(UnknownPriority(other.to_owned())),
        }
    }
}

/// An invalid field and what to do about it: a text of the catalogue, whose key is the
/// error's machine code, said in the reader's language where it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name (`name`, `url`, `token`, `schedule`, ...).
    pub field: String,
    /// What is wrong and how to fix it.
    pub msg: Msg,
}

impl FieldError {
    /// An error for `field`.
    pub fn new(field: &str, msg: Msg) -> Self {
        FieldError { field: field.to_owned(), msg }
    }

    /// The stable machine code of the rule broken.
    pub fn code(&self) -> &'static str {
        self.msg.code()
    }
}

/// In English, for logs and errors that reach no reader of another language.
impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.msg)
    }
}

/// Fields as given; `None` means "not given" (keep the current value when editing).
#[derive(Debug, Clone, Default)]
pub struct AppInput {
    /// Unique slug.
    pub name: Option<String>,
    /// Internal base URL.
    pub url: Option<String>,
    /// Bearer token (replaced only when given).
    pub token: Option<SecretString>,
    /// Cron expression.
    pub schedule: Option<String>,
    /// IANA time zone (default UTC).
    pub time_zone: Option<String>,
    /// Destination folder.
    pub folder: Option<String>,
    /// Keep the N newest.
    pub keep_last: Option<u32>,
    /// One per day for N days.
    pub keep_daily: Option<u32>,
    /// One per week for N weeks.
    pub keep_weekly: Option<u32>,
    /// One per month for N months.
    pub keep_monthly: Option<u32>,
    /// Everything newer than N days.
    pub keep_within_days: Option<u32>,
    /// Backup type; `Some("")` clears it (use the app's first type).
    pub backup_type: Option<String>,
    /// high | normal | low.
    pub priority: Option<String>,
    /// Scheduled or paused.
    pub enabled: Option<bool>,
    /// `zstd`, `none` or `auto`.
    pub compress: Option<String>,
    /// `Some(Some(b))` sets it, `Some(None)` goes back to the default (encrypt whenever
    /// recipients are configured).
    pub encrypt: Option<Option<bool>>,
    /// The app's own recipients (age public keys); `Some(empty)` removes them.
    pub recipients: Option<Vec<String>>,
    /// When restore drills run (cron, in the app's time zone); `Some("")` or `Some("off")`
    /// turns them off.
    pub drill_schedule: Option<String>,
    /// Which copy a scheduled drill takes: `newest` or `random`.
    pub drill_copy: Option<String>,
    /// The app's group (one label); `Some("")` removes it.
    pub group: Option<String>,
    /// The app's tags; `Some(empty)` removes them all.
    pub tags: Option<Vec<String>>,
    /// How long after its scheduled time a run may still start (`2h`); `Some("")` or
    /// `Some("off")` = its group's window, or none.
    pub window: Option<String>,
    /// Over how long its scheduled start is spread (`15m`); `Some("off")` = its group's.
    pub jitter: Option<String>,
}

/// A validated app, ready to store.
#[derive(Debug, Clone)]
pub struct ValidApp {
    /// Slug.
    pub name: String,
    /// Normalized URL.
    pub url: String,
    /// New token, when one was given.
    pub token: Option<SecretString>,
    /// Cron expression.
    pub schedule: String,
    /// Time zone.
    pub time_zone: String,
    /// Folder.
    pub folder: String,
    /// Retention.
    pub retention: Policy,
    /// Backup type.
    pub backup_type: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Enabled.
    pub enabled: bool,
    /// Compression.
    pub compress: Compress,
    /// Encryption; `None` = whenever recipients are configured.
    pub encrypt: Option<bool>,
    /// The app's own recipients.
    pub recipients: Vec<Recipient>,
    /// Restore drills' schedule, if any.
    pub drill_schedule: Option<String>,
    /// `newest` or `random`.
    pub drill_copy: String,
    /// Group, if any.
    pub group: Option<String>,
    /// Tags, sorted, without duplicates.
    pub tags: Vec<String>,
    /// Backup window (seconds), if its own.
    pub window_secs: Option<i64>,
    /// Jitter (seconds), if its own.
    pub jitter_secs: Option<i64>,
}

impl AppInput {
    /// This input laid over an existing app: given fields win.
    pub fn over(&self, current: &App) -> AppInput {
        AppInput {
            name: self.name.clone().or_else(|| Some(current.name.clone())),
            url: self.url.clone().or_else(|| Some(current.url.clone())),
            token: self.token.clone(),
            schedule: self.schedule.clone().or_else(|| Some(current.schedule.clone())),
            time_zone: self.time_zone.clone().or_else(|| Some(current.time_zone.clone())),
            folder: self.folder.clone().or_else(|| Some(current.folder.clone())),
            keep_last: self.keep_last.or(Some(current.retention.keep_last)),
            keep_daily: self.keep_daily.or(Some(current.retention.keep_daily)),
            keep_weekly: self.keep_weekly.or(Some(current.retention.keep_weekly)),
            keep_monthly: self.keep_monthly.or(Some(current.retention.keep_monthly)),
            keep_within_days: self.keep_within_days.or(Some(current.retention.keep_within_days)),
            backup_type: self.backup_type.clone().or_else(|| current.backup_type.clone()),
            priority: self.priority.clone().or_else(|| Some(current.priority.to_string())),
            enabled: self.enabled.or(Some(current.enabled)),
            compress: self.compress.clone().or_else(|| Some(current.compress.as_str().to_owned())),
            encrypt: self.encrypt.or(Some(current.encrypt)),
            recipients: self
                .recipients
                .clone()
                .or_else(|| Some(current.recipients.iter().map(|r| r.as_str().to_owned()).collect())),
            drill_schedule: self.drill_schedule.clone().or_else(|| current.drill_schedule.clone()),
            drill_copy: self.drill_copy.clone().or_else(|| Some(current.drill_copy.clone())),
            group: self.group.clone().or_else(|| current.group.clone()),
            tags: self.tags.clone().or_else(|| Some(current.tags.clone())),
            window: self.window.clone().or_else(|| current.window_secs.map(format_span)),
            jitter: self.jitter.clone().or_else(|| current.jitter_secs.map(format_span)),
        }
    }

    /// Checks every field; `new` requires a token.
    pub fn validate(&self, new: bool) -> Result<ValidApp, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut required = |field: &str, value: &Option<String>, rule: &'static str| -> String {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => v.to_owned(),
                _ => {
                    errors.push(FieldError::new(field, Msg::new(rule)));
                    String::new()
                }
            }
        };
        let name = required("name", &self.name, "field.name.required");
        let url = required("url", &self.url, "field.url.required");
        let schedule = required("schedule", &self.schedule, "field.schedule.required");
        let folder = required("folder", &self.folder, "field.folder.required");
        if !name.is_empty() && !is_slug(&name) {
            errors.push(FieldError::new("name", Msg::new("field.name.slug")));
        } else if RESERVED_NAMES.contains(&name.as_str()) {
            errors.push(FieldError::new("name", Msg::new("field.name.reserved").with("name", &name)));
        }
        let url = if url.is_empty() {
            url
        } else {
            match url_problem(&url) {
                Some(reason) => {
                    errors.push(FieldError::new(
                        "url",
                        Msg::new("field.url.invalid").with("url", &url).with_msg("reason", reason),
                    ));
                    url
                }
                None => {
                    match contract_spec::client::AppClient::new(&url, SecretString::from("x"), Default::default()) {
                        Ok(client) => client.base_url().to_string(),
                        Err(e) => {
                            errors.push(FieldError::new(
                                "url",
                                Msg::new("field.url.unusable").with("url", &url).with("detail", e),
                            ));
                            url
                        }
                    }
                }
            }
        };
        let token = match &self.token {
            Some(t) if t.expose_secret().trim().is_empty() => {
                errors.push(FieldError::new("token", Msg::new("field.token.empty")));
                None
            }
            Some(t) if t.expose_secret().chars().any(|c| c.is_whitespace() || c.is_control()) => {
                errors.push(FieldError::new("token", Msg::new("field.token.spaces")));
                None
            }
            Some(t) if t.expose_secret().len() > 4096 => {
                errors.push(FieldError::new("token", Msg::new("field.token.too_long").with("max", 4096)));
                None
            }
            Some(t) => Some(t.clone()),
            None if new => {
                errors.push(FieldError::new("token", Msg::new("field.token.required")));
                None
            }
            None => None,
        };
        let time_zone = self.time_zone.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC").to_owned();
        if jiff::tz::TimeZone::get(&time_zone).is_err() {
            errors.push(FieldError::new("time_zone", Msg::new("field.time_zone.unknown").with("zone", &time_zone)));
        } else if !schedule.is_empty()
            && let Err(e) = CronSchedule::parse(&schedule, &time_zone)
        {
            errors.push(FieldError::new("schedule", e.0));
        }
        // A NUL or a line break would pass here and then fail at the destination on every run,
        // looking like a passing outage.
        if folder.chars().any(char::is_control) {
            errors.push(FieldError::new("folder", Msg::new("field.folder.control")));
        } else if !folder.is_empty()
            && (folder.starts_with('/') || folder.split('/').any(|p| p == ".." || p == ".") || folder.len() > 1024)
        {
            errors.push(FieldError::new("folder", Msg::new("field.folder.path")));
        }
        let retention = Policy {
            keep_last: self.keep_last.unwrap_or(7),
            keep_daily: self.keep_daily.unwrap_or(0),
            keep_weekly: self.keep_weekly.unwrap_or(0),
            keep_monthly: self.keep_monthly.unwrap_or(0),
            keep_within_days: self.keep_within_days.unwrap_or(0),
        };
        for (field, problem) in retention.problems() {
            errors.push(FieldError::new(field, problem));
        }
        let backup_type = self.backup_type.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        if let Some(t) = &backup_type {
            let probe = contract_spec::BackupType::new(t.clone(), "application/octet-stream", "bin");
            if !probe.problems().is_empty() {
                errors.push(FieldError::new("backup_type", Msg::new("field.backup_type.name")));
            }
        }
        let priority = match self.priority.as_deref().unwrap_or("normal").parse::<Priority>() {
            Ok(p) => p,
            Err(e) => {
                errors.push(FieldError::new("priority", e.msg()));
                Priority::Normal
            }
        };
        let compress = Compress::parse(self.compress.as_deref().unwrap_or_default()).unwrap_or_else(|e| {
            errors.push(FieldError::new("compress", e));
            Compress::Auto
        });
        let drill_schedule = match self.drill_schedule.as_deref().map(str::trim) {
            None | Some("") | Some("off") => None,
            Some(expression) => match CronSchedule::parse(expression, &time_zone) {
                Ok(_) => Some(expression.to_owned()),
                Err(e) => {
                    errors.push(FieldError::new(
                        "drill_schedule",
                        Msg::new("field.drill_schedule.invalid").with_msg("problem", e.0),
                    ));
                    None
                }
            },
        };
        let drill_copy = match self.drill_copy.as_deref().map(str::trim).unwrap_or("") {
            "" | "newest" => "newest".to_owned(),
            "random" => "random".to_owned(),
            other => {
                errors.push(FieldError::new("drill_copy", Msg::new("field.drill_copy.unknown").with("given", other)));
                "newest".to_owned()
            }
        };
        let mut recipients: Vec<Recipient> = Vec::new();
        for text in self.recipients.iter().flatten() {
            match keys::parse_recipients(text) {
                Ok(parsed) => {
                    recipients.extend(parsed.into_iter().filter(|r| !recipients.contains(r)).collect::<Vec<_>>())
                }
                Err(problems) => errors.extend(problems.into_iter().map(|p| FieldError::new("recipients", p))),
            }
        }
        let group = super::labels::group(self.group.as_deref().unwrap_or("")).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let tags = super::labels::tags("tags", self.tags.as_deref().unwrap_or_default()).unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let window_secs =
            parse_span("window", self.window.as_deref().unwrap_or(""), MAX_WINDOW_SECS).unwrap_or_else(|e| {
                errors.push(e);
                None
            });
        let jitter_secs =
            parse_span("jitter", self.jitter.as_deref().unwrap_or(""), MAX_JITTER_SECS).unwrap_or_else(|e| {
                errors.push(e);
                None
            });
        if let (Some(window), Some(jitter)) = (window_secs, jitter_secs)
            && jitter > window
        {
            errors.push(FieldError::new(
                "jitter",
                Msg::new("field.jitter.over_window")
                    .with("jitter", format_span(jitter))
                    .with("window", format_span(window)),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidApp {
            name,
            url,
            token,
            schedule,
            time_zone,
            folder,
            retention,
            backup_type,
            priority,
            enabled: self.enabled.unwrap_or(true),
            compress,
            encrypt: self.encrypt.flatten(),
            recipients,
            drill_schedule,
            drill_copy,
            group,
            tags,
            window_secs,
            jitter_secs,
        })
    }
}

/// `url` as the app client calls it (scheme, host, port and path, ending in '/'), or `None`
/// when it is no usable app URL.
pub fn normal_url(url: &str) -> Option<String> {
    if url_problem(url).is_some() {
        return None;
    }
    contract_spec::client::AppClient::new(url, SecretString::from("x"), Default::default())
        .ok()
        .map(|client| client.base_url().to_string())
}

/// Whether two URLs name the same app address once normalised (`http://App:80` is
/// `http://app/`). A URL that is not usable is never the same as another.
pub fn same_address(a: &str, b: &str) -> bool {
    matches!((normal_url(a), normal_url(b)), (Some(a), Some(b)) if a == b)
}

/// What makes `url` unusable as an app's base URL, if anything: the same rules as the app
/// client's, said from the catalogue.
fn url_problem(url: &str) -> Option<Msg> {
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else { return Some(Msg::new("field.url.reason.unparsable")) };
    if !matches!(parsed.scheme(), "http" | "https") {
        Some(Msg::new("field.url.reason.scheme"))
    } else if parsed.host_str().is_none_or(str::is_empty) {
        Some(Msg::new("field.url.reason.no_host"))
    } else if !parsed.username().is_empty() || parsed.password().is_some() {
        Some(Msg::new("field.url.reason.credentials"))
    } else if parsed.query().is_some() || parsed.fragment().is_some() {
        Some(Msg::new("field.url.reason.query"))
    } else {
        None
    }
}

/// Names the pages and the API use as paths of their own under `/apps/`.
const RESERVED_NAMES: [&str; 2] = ["new", "bulk"];

fn is_slug(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AppInput {
        AppInput {
            name: Some("billing".into()),
            url: Some("http://billing:8080".into()),
            token: Some(SecretString::from("s3cret-token")),
            schedule: Some("0 3 * * *".into()),
            folder: Some("1AbCdEf".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_app_validates_with_defaults() {
        let v = good().validate(true).unwrap();
        assert_eq!(v.time_zone, "UTC");
        assert_eq!(v.retention.keep_last, 7);
        assert_eq!(v.priority, Priority::Normal);
        assert!(v.enabled);
        assert_eq!(v.url, "http://billing:8080/");
    }

    #[test]
    fn every_field_error_is_reported_at_once() {
        let input = AppInput {
            name: Some("Billing App".into()),
            url: Some("ftp://billing".into()),
            token: Some(SecretString::from("has space")),
            schedule: Some("0 3 * *".into()),
            folder: Some("../etc".into()),
            keep_last: Some(0),
            priority: Some("urgent".into()),
            backup_type: Some("full dump".into()),
            ..Default::default()
        };
        let errors = input.validate(true).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "url", "token", "schedule", "folder", "keep_last", "backup_type", "priority"],
            "{errors:#?}"
        );
        assert!(errors[1].msg.to_string().contains("only http:// and https://"));
        assert_eq!(errors[1].code(), "field.url.invalid");
        assert!(errors[3].msg.to_string().contains("4 fields"));
    }

    #[test]
    fn required_fields_and_time_zones() {
        let errors = AppInput::default().validate(true).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "url", "schedule", "folder", "token"]);
        let mut input = good();
        input.time_zone = Some("Mars/Base".into());
        let errors = input.validate(true).unwrap_err();
        assert_eq!(errors[0].field, "time_zone");
        input.time_zone = Some("Europe/Madrid".into());
        assert!(input.validate(true).is_ok());
    }

    #[test]
    fn a_folder_with_a_control_character_is_refused() {
        for folder in ["1AbC\0dEf", "crm\nother", "crm\r\nother", "a\tb", "crm\u{7f}", "\0"] {
            let mut input = good();
            input.folder = Some(folder.into());
            let errors = input.validate(true).unwrap_err();
            assert_eq!(errors.len(), 1, "{folder:?}: {errors:#?}");
            assert_eq!((errors[0].field.as_str(), errors[0].code()), ("folder", "field.folder.control"), "{folder:?}");
        }
        let mut input = good();
        input.folder = Some("ops/crm-2024".into());
        assert!(input.validate(true).is_ok());
    }

    #[test]
    fn groups_and_tags_are_validated_with_the_other_fields() {
        let mut input = good();
        input.group = Some("DB-1".into());
        input.tags = Some(vec!["prod, Odoo".into(), "odoo".into()]);
        let v = input.validate(true).unwrap();
        assert_eq!(
            (v.group.as_deref(), v.tags.as_slice()),
            (Some("db-1"), ["odoo".to_owned(), "prod".to_owned()].as_slice())
        );
        input.group = Some("db host".into());
        input.tags = Some(vec!["bad!".into()]);
        let errors = input.validate(true).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["group", "tags"]);
        assert!(errors.iter().all(|e| e.code() == super::super::labels::RULE_KEY));
    }

    #[test]
    fn addresses_are_compared_once_normalised() {
        assert!(same_address("http://billing:8080", "http://Billing:8080/"));
        assert!(same_address("http://billing:80/app", "http://billing/app/"));
        assert!(same_address("https://billing:443/", " https://billing "));
        assert!(!same_address("http://billing/", "https://billing/"));
        assert!(!same_address("http://billing/", "http://billing:8080/"));
        assert!(!same_address("http://billing/", "http://attacker/"));
        assert!(!same_address("http://billing/a", "http://billing/b"));
        assert!(!same_address("not a url", "not a url"), "an unusable URL is no known address");
    }

    #[test]
    fn an_edit_needs_no_token_and_keeps_what_it_does_not_change() {
        let mut input = good();
        input.token = None;
        assert!(input.validate(false).is_ok());
        assert!(input.validate(true).is_err());
    }
}
