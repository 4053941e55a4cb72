//! age keys: recipients (public, `age1...`) that copies are encrypted to, and identities
//! (secret, `AGE-SECRET-KEY-1...`) that open them. Only X25519 keys, the kind the upstream `age`
//! command makes with `age-keygen`, so any copy opens without this product.

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::catalogue::Msg;

/// A public key copies are encrypted to.
#[derive(Clone)]
pub struct Recipient {
    key: age::x25519::Recipient,
    text: String,
}

impl Recipient {
    /// Parses an `age1...` public key; the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, Msg> {
        let text = text.trim();
        if text.starts_with("AGE-SECRET-KEY-") {
            return Err(Msg::new("recipient.secret_key"));
        }
        let key = age::x25519::Recipient::from_str(text)
            .map_err(|_| Msg::new("recipient.not_age").with("given", shorten(text)))?;
        Ok(Recipient { key, text: text.to_owned() })
    }

    /// The key as written (`age1...`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A short, stable name for the key: the first 12 hex digits of the sha256 of its text.
    /// Written into each copy's marks, so the copies say which keys open them.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.text)
    }

    pub(crate) fn key(&self) -> &age::x25519::Recipient {
        &self.key
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Recipient {}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The fingerprint of a recipient written as `age1...` (see [`Recipient::fingerprint`]).
pub fn fingerprint(recipient: &str) -> String {
    hex::encode(&Sha256::digest(recipient.trim().as_bytes())[..6])
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 24 { format!("{}...", text.chars().take(20).collect::<String>()) } else { text.into() }
}

/// Parses recipients separated by commas, spaces or lines (`#` starts a comment, as in age's
/// recipients files). Every bad entry is reported; duplicates are kept once.
pub fn parse_recipients(text: &str) -> Result<Vec<Recipient>, Vec<Msg>> {
    let mut recipients: Vec<Recipient> = Vec::new();
    let mut errors = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        for word in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
            match Recipient::parse(word) {
                Ok(r) if recipients.contains(&r) => {}
                Ok(r) => recipients.push(r),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() { Ok(recipients) } else { Err(errors) }
}

/// Secret keys that open copies. Never printed, never stored by the orchestrator: read from
/// `ENCRYPTION_IDENTITY_FILE` or handed in for one restore.
pub struct Identities {
    keys: Vec<age::x25519::Identity>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} keys, redacted)", self.keys.len())
    }
}

impl Identities {
    /// Parses an age identity file: `AGE-SECRET-KEY-1...` lines, `#` comments. The error never
    /// repeats what was given (it may be a secret).
    pub fn parse(text: &SecretString) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (n, line) in text.expose_secret().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match age::x25519::Identity::from_str(line) {
                Ok(key) => keys.push(key),
                Err(_) if line.starts_with("age1") => {
                    return Err(format!(
                        "line {} is a public key (age1...), not an identity: give the secret key file (AGE-SECRET-KEY-1...) made with the recipient",
                        n + 1
                    ));
                }
                Err(_) => {
                    return Err(format!(
                        "line {} is not an age identity: an identity file holds AGE-SECRET-KEY-1... lines (made by `age-keygen` or `orchestrator keys new`) and # comments",
                        n + 1
                    ));
                }
            }
        }
        if keys.is_empty() {
            return Err("holds no identity: give a file with an AGE-SECRET-KEY-1... line".to_owned());
        }
        Ok(Identities { keys })
    }

    /// Reads and parses an identity file; the error names the file.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the file: {e}", path.display()))?;
        Identities::parse(&SecretString::from(text)).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The fingerprints of the recipients these identities open.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(|k| fingerprint(&k.to_public().to_string())).collect()
    }

    pub(crate) fn as_dyn(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k as &dyn age::Identity)
    }
}

/// A new identity, and its recipient.
pub fn generate() -> (SecretString, Recipient) {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public();
    let text = public.to_string();
    (identity.to_string(), Recipient { key: public, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_parse_from_any_separator_and_bad_ones_are_all_named() {
        let (_, a) = generate();
        let (_, b) = generate();
        let text = format!("# ops team\n{}, {}\n{}  # again\n", a.as_str(), b.as_str(), a.as_str());
        let parsed = parse_recipients(&text).unwrap();
        assert_eq!(parsed, vec![a.clone(), b.clone()]);
        assert_eq!(a.fingerprint().len(), 12);
        assert_ne!(a.fingerprint(), b.fingerprint());

        let errors = parse_recipients("age1nope, AGE-SECRET-KEY-1ABC").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].to_string().contains("is not an age public key"), "{errors:?}");
        assert!(errors[1].to_string().contains("is a secret key"), "{errors:?}");
        assert!(!errors[1].to_string().contains("1ABC"), "a secret is never repeated: {errors:?}");
    }

    #[test]
    fn identities_parse_and_say_which_line_is_wrong_without_repeating_it() {
        let (secret, recipient) = generate();
        let file = SecretString::from(format!("# created: today\n{}\n", secret.expose_secret()));
        let ids = Identities::parse(&file).unwrap();
        assert_eq!(ids.fingerprints(), vec![recipient.fingerprint()]);
        assert!(!format!("{ids:?}").contains("AGE-SECRET"));

        let err = Identities::parse(&SecretString::from(format!("{}\n", recipient.as_str()))).unwrap_err();
        assert!(err.contains("line 1 is a public key"), "{err}");
        let err = Identities::parse(&SecretString::from("AGE-SECRET-KEY-1QQQQ-typo".to_owned())).unwrap_err();
        assert!(err.contains("line 1 is not an age identity") && !err.contains("QQQQ"), "{err}");
        assert!(Identities::parse(&SecretString::from("# nothing\n".to_owned())).unwrap_err().contains("no identity"));
    }
}
