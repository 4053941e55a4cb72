//! Where backups are stored: `STORAGE` = `gdrive` | `fs` | `s3`, and each one's settings.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::{Env, parse_size};
use crate::storage::gdrive::{DeleteMode, GdriveConfig};

/// The destination kind and its settings.
#[derive(Debug, Clone)]
pub enum StorageSettings {
    /// Google Drive through our streaming service.
    Gdrive(GdriveConfig),
    /// A local folder: FOLDER arguments are sub-folders of `root`.
    Fs {
        /// The root folder.
        root: PathBuf,
    },
    /// S3-compatible storage: FOLDER arguments are key prefixes in `bucket`.
    S3(S3Settings),
}

/// Settings of S3-compatible storage.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint URL (empty for AWS).
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<SecretString>,
    /// Multipart part size.
    pub part_size: usize,
}

impl StorageSettings {
    /// Reads `STORAGE` and the settings of the chosen destination; every problem at once.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let credentials = match read_credentials(env) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let kind =
            env.get("STORAGE").unwrap_or_else(|| if credentials.is_some() { "gdrive".into() } else { "fs".into() });
        let settings = match kind.as_str() {
            "gdrive" => {
                let mut config = GdriveConfig::default();
                // Without credentials, an account is connected on the Destination page.
                if let Some(c) = &credentials {
                    config.credentials = c.expose_secret().to_owned();
                }
                config.subject = env.get("GDRIVE_SUBJECT");
                if let Some(endpoint) = env.get("GDRIVE_ENDPOINT") {
                    config.endpoint = endpoint;
                }
                config.token_uri = env.get("GDRIVE_TOKEN_URI");
                if let Some(size) = env.get("GDRIVE_CHUNK_SIZE") {
                    match parse_size(&size) {
                        Some(n) if n >= 256 * 1024 && n.is_multiple_of(256 * 1024) && n <= 1 << 30 => {
                            config.chunk_size = n as usize
                        }
                        other => errors.push(chunk_size_error(&size, other)),
                    }
                }
                if let Some(size) = env.get("GDRIVE_READ_AHEAD_BUDGET") {
                    match parse_size(&size) {
                        Some(n) if n <= 1 << 40 => config.read_ahead_budget = n as usize,
                        _ => errors.push(format!(
                            "GDRIVE_READ_AHEAD_BUDGET={size:?}: give a size such as 64MiB (0 sends each chunk before reading the next)"
                        )),
                    }
                }
                match env.get("GDRIVE_DELETE").as_deref() {
                    None | Some("trash") => config.delete = DeleteMode::Trash,
                    Some("permanent") => config.delete = DeleteMode::Permanent,
                    Some(other) => errors.push(format!("GDRIVE_DELETE={other:?}: use \"trash\" or \"permanent\"")),
                }
                config.max_retries =
                    env.number_in("GDRIVE_MAX_RETRIES", config.max_retries, (0, 100), "retries", &mut errors);
                config.retry_delay_ms = env.number_in(
                    "GDRIVE_RETRY_DELAY_MS",
                    config.retry_delay_ms,
                    (1, 600_000),
                    "milliseconds",
                    &mut errors,
                );
                config.page_size =
                    env.number_in("GDRIVE_PAGE_SIZE", config.page_size, (1, 1000), "files a page", &mut errors);
                StorageSettings::Gdrive(config)
            }
            "fs" => StorageSettings::Fs { root: env.get("FS_ROOT").unwrap_or_else(|| "data/backups".into()).into() },
            "s3" => {
                let bucket = env.get("S3_BUCKET").unwrap_or_else(|| {
                    errors.push("STORAGE=s3 needs S3_BUCKET".into());
                    String::new()
                });
                let secret_access_key = env.secret("S3_SECRET_ACCESS_KEY").unwrap_or_else(|e| {
                    errors.push(e);
                    None
                });
                let part_size = match env.get("S3_PART_SIZE") {
                    None => 8 << 20,
                    Some(size) => match parse_size(&size) {
                        Some(n) if (5 << 20..=5 << 30).contains(&n) => n as usize,
                        _ => {
                            errors.push(format!("S3_PART_SIZE={size:?}: use 5MiB to 5GiB"));
                            8 << 20
                        }
                    },
                };
                StorageSettings::S3(S3Settings {
                    bucket,
                    endpoint: env.get("S3_ENDPOINT"),
                    region: env.get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: env.get("S3_ACCESS_KEY_ID"),
                    secret_access_key,
                    part_size,
                })
            }
            other => {
                errors.push(format!("STORAGE={other:?}: use gdrive, fs or s3"));
                StorageSettings::Fs { root: "data/backups".into() }
            }
        };
        if errors.is_empty() { Ok(settings) } else { Err(errors) }
    }
}

/// Google takes a resumable upload in chunks of a multiple of 256 KiB: say so, with the
/// nearest sizes that fit when the value was a size.
fn chunk_size_error(text: &str, parsed: Option<u64>) -> String {
    const GRID: u64 = 256 * 1024;
    let mut message = format!(
        "GDRIVE_CHUNK_SIZE={text:?}: use a multiple of 256KiB between 256KiB and 1GiB, e.g. 8MiB (the default)"
    );
    if let Some(n) = parsed.filter(|n| *n > 0 && *n < 1 << 30) {
        let below = n / GRID * GRID;
        let above = below + GRID;
        let kib = |b: u64| format!("{}KiB", b / 1024);
        if below >= GRID {
            message.push_str(&format!("; the nearest are {} and {}", kib(below), kib(above)));
        } else {
            message.push_str(&format!("; the nearest is {}", kib(above)));
        }
    }
    message
}

/// The OAuth client behind **Connect Google Drive** (the web-server flow), from the environment.
/// A client JSON uploaded on the Destination page is used when these are unset.
#[derive(Debug, Clone)]
pub struct DriveOAuthSettings {
    /// `GDRIVE_OAUTH_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `GDRIVE_OAUTH_CLIENT_SECRET` (or `_FILE`).
    pub client_secret: Option<SecretString>,
    /// `GDRIVE_AUTH_URI`: Google's authorization endpoint unless set.
    pub auth_uri: String,
    /// `GDRIVE_TOKEN_URI`: Google's token endpoint unless set.
    pub token_uri: String,
}

/// Google's authorization endpoint for web-server apps.
pub const GOOGLE_AUTH_URI: &str = "https://accounts.google.com/o/oauth2/v2/auth";

impl DriveOAuthSettings {
    /// Reads them; every problem at once.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let client_id = env.get("GDRIVE_OAUTH_CLIENT_ID");
        let client_secret = env.secret("GDRIVE_OAUTH_CLIENT_SECRET").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if client_id.is_some() != client_secret.is_some() {
            errors.push(
                "GDRIVE_OAUTH_CLIENT_ID and GDRIVE_OAUTH_CLIENT_SECRET go together: set both (from the OAuth client of type \"Web application\" in the Google Cloud console), or neither".into(),
            );
        }
        let mut url_setting = |name: &str, default: &str| {
            let value = env.get(name).unwrap_or_else(|| default.to_owned());
            match reqwest::Url::parse(&value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => errors.push(format!("{name}={value:?}: give an http(s) URL, e.g. {default}")),
            }
            value
        };
        let auth_uri = url_setting("GDRIVE_AUTH_URI", GOOGLE_AUTH_URI);
        let token_uri = url_setting("GDRIVE_TOKEN_URI", crate::storage::gdrive::GOOGLE_TOKEN_URI);
        if errors.is_empty() {
            Ok(DriveOAuthSettings { client_id, client_secret, auth_uri, token_uri })
        } else {
            Err(errors)
        }
    }
}

/// `GDRIVE_CREDENTIALS` (or `GDRIVE_CREDENTIALS_FILE`): the JSON itself, or the path of a file
/// holding it.
fn read_credentials(env: &Env) -> Result<Option<SecretString>, String> {
    let Some(value) = env.secret("GDRIVE_CREDENTIALS")? else { return Ok(None) };
    if value.expose_secret().starts_with('{') {
        return Ok(Some(value));
    }
    let path = value.expose_secret();
    std::fs::read_to_string(path)
        .map(|s| Some(SecretString::from(s)))
        .map_err(|e| format!("GDRIVE_CREDENTIALS={path}: cannot read the credentials file: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_drive_credentials_the_default_is_a_local_folder() {
        match StorageSettings::from_env(&Env::default()).unwrap() {
            StorageSettings::Fs { root } => assert_eq!(root, PathBuf::from("data/backups")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn drive_credentials_select_drive() {
        let env = Env::from_pairs([
            ("GDRIVE_CREDENTIALS", r#"{"type":"service_account"}"#),
            ("GDRIVE_CHUNK_SIZE", "16MiB"),
            ("GDRIVE_READ_AHEAD_BUDGET", "0"),
        ]);
        match StorageSettings::from_env(&env).unwrap() {
            StorageSettings::Gdrive(c) => assert_eq!((c.chunk_size, c.read_ahead_budget), (16 << 20, 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let env = Env::from_pairs([
            ("STORAGE", "gdrive"),
            ("GDRIVE_CREDENTIALS", "{}"),
            ("GDRIVE_CHUNK_SIZE", "1000"),
            ("GDRIVE_DELETE", "shred"),
            ("GDRIVE_PAGE_SIZE", "5000"),
        ]);
        let errors = StorageSettings::from_env(&env).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].contains("GDRIVE_CHUNK_SIZE"));
        assert!(errors[1].contains("GDRIVE_DELETE"));
        assert!(errors[2].contains("GDRIVE_PAGE_SIZE"));
        let errors = StorageSettings::from_env(&Env::from_pairs([("STORAGE", "ftp")])).unwrap_err();
        assert!(errors[0].contains("use gdrive, fs or s3"));
        // Drive without credentials waits for an account connected in the UI.
        assert!(matches!(
            StorageSettings::from_env(&Env::from_pairs([("STORAGE", "gdrive")])),
            Ok(StorageSettings::Gdrive(_))
        ));
        let errors = DriveOAuthSettings::from_env(&Env::from_pairs([
            ("GDRIVE_OAUTH_CLIENT_ID", "123.apps.googleusercontent.com"),
            ("GDRIVE_AUTH_URI", "accounts.google.com"),
        ]))
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].contains("go together") && errors[1].contains("GDRIVE_AUTH_URI"));
    }

    #[test]
    fn chunk_sizes_off_the_256_kib_grid_name_the_nearest_that_fit() {
        let cases = [
            ("1000", "the nearest is 256KiB"),
            ("300KiB", "the nearest are 256KiB and 512KiB"),
            ("8MB", "the nearest are 7680KiB and 7936KiB"),
            ("0", "e.g. 8MiB"),
            ("2GiB", "between 256KiB and 1GiB"),
            ("eight", "e.g. 8MiB"),
        ];
        for (text, advice) in cases {
            let env = Env::from_pairs([("STORAGE", "gdrive"), ("GDRIVE_CHUNK_SIZE", text)]);
            let errors = StorageSettings::from_env(&env).unwrap_err();
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert!(errors[0].contains(advice), "{text}: {}", errors[0]);
        }
        for fits in ["256KiB", "512KiB", "8MiB", "1GiB"] {
            assert!(
                StorageSettings::from_env(&Env::from_pairs([("STORAGE", "gdrive"), ("GDRIVE_CHUNK_SIZE", fits)]))
                    .is_ok()
            );
        }
    }
}
