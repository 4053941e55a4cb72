//! Encryption of copies: `ENCRYPTION_RECIPIENTS` (age public keys, or
//! `ENCRYPTION_RECIPIENTS_FILE`, one per line) and `ENCRYPTION_IDENTITY_FILE` (the secret key
//! that opens copies on restore; leave it unset for a server that can write backups but not read
//! them, and hand the identity in for each restore).

use std::path::PathBuf;
use std::sync::Arc;

use super::Env;
use crate::codec::keys::{self, Identities, Recipient};

/// Who copies are encrypted to, and what opens them here.
#[derive(Debug, Clone, Default)]
pub struct EncryptionSettings {
    /// Every app's copies are encrypted to these (apps add their own).
    pub recipients: Vec<Recipient>,
    /// Where the recipients came from, for the Encryption page.
    pub recipients_source: Option<String>,
    /// The identity file, when the orchestrator holds one.
    pub identity_file: Option<PathBuf>,
    /// Its identities, read at start.
    pub identities: Option<Arc<Identities>>,
}

impl EncryptionSettings {
    /// Reads them; every bad key is reported.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut recipients = Vec::new();
        let mut sources = Vec::new();
        if let Some(text) = env.get("ENCRYPTION_RECIPIENTS") {
            sources.push("ENCRYPTION_RECIPIENTS".to_owned());
            match keys::parse_recipients(&text) {
                Ok(r) => recipients.extend(r),
                Err(e) => errors.extend(e.into_iter().map(|e| format!("ENCRYPTION_RECIPIENTS: {e}"))),
            }
        }
        if let Some(path) = env.get("ENCRYPTION_RECIPIENTS_FILE") {
            sources.push(format!("ENCRYPTION_RECIPIENTS_FILE={path}"));
            match std::fs::read_to_string(&path) {
                Ok(text) => match keys::parse_recipients(&text) {
                    Ok(r) if r.is_empty() => errors.push(format!(
                        "ENCRYPTION_RECIPIENTS_FILE={path}: the file holds no recipient: put one age public key (age1...) per line"
                    )),
                    Ok(r) => recipients.extend(r.into_iter().filter(|r| !recipients.contains(r)).collect::<Vec<_>>()),
                    Err(e) => errors.extend(e.into_iter().map(|e| format!("ENCRYPTION_RECIPIENTS_FILE={path}: {e}"))),
                },
                Err(e) => errors.push(format!("ENCRYPTION_RECIPIENTS_FILE={path}: cannot read the file: {e}")),
            }
        }
        let identity_file = env.get("ENCRYPTION_IDENTITY_FILE").map(PathBuf::from);
        let identities = match &identity_file {
            Some(path) => match Identities::read(path) {
                Ok(ids) => Some(Arc::new(ids)),
                Err(e) => {
                    errors.push(format!("ENCRYPTION_IDENTITY_FILE={e}"));
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let recipients_source = (!sources.is_empty()).then(|| sources.join(" and "));
        Ok(EncryptionSettings { recipients, recipients_source, identity_file, identities })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn recipients_come_from_the_variable_and_the_file_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("orch-enc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (secret, a) = keys::generate();
        let (_, b) = keys::generate();
        let file = dir.join("recipients.txt");
        std::fs::write(&file, format!("# team\n{}\n{}\n", b.as_str(), a.as_str())).unwrap();
        let id_file = dir.join("key.txt");
        std::fs::write(&id_file, secret.expose_secret()).unwrap();
        let env = Env::from_pairs([
            ("ENCRYPTION_RECIPIENTS", a.as_str()),
            ("ENCRYPTION_RECIPIENTS_FILE", file.to_str().unwrap()),
            ("ENCRYPTION_IDENTITY_FILE", id_file.to_str().unwrap()),
        ]);
        let s = EncryptionSettings::from_env(&env).unwrap();
        assert_eq!(s.recipients, vec![a.clone(), b]);
        assert_eq!(s.identities.unwrap().fingerprints(), vec![a.fingerprint()]);

        let env = Env::from_pairs([
            ("ENCRYPTION_RECIPIENTS", "age1bad"),
            ("ENCRYPTION_RECIPIENTS_FILE", "/no/such/file"),
            ("ENCRYPTION_IDENTITY_FILE", file.to_str().unwrap()),
        ]);
        let errors = EncryptionSettings::from_env(&env).unwrap_err().join("\n");
        assert!(errors.contains("ENCRYPTION_RECIPIENTS: \"age1bad\" is not an age public key"), "{errors}");
        assert!(errors.contains("ENCRYPTION_RECIPIENTS_FILE=/no/such/file: cannot read"), "{errors}");
        assert!(errors.contains("line 2 is a public key"), "{errors}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
