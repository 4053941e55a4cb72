//! What a stored copy's properties say about restoring it: whose it is, whether it was
//! verified, its checksum and its backup type. Pure: no I/O.

use crate::catalogue::Msg;
use crate::error::Error;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// What a copy's properties say about restoring it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Checked {
    pub(super) backup_type: String,
    pub(super) sha256: String,
}

/// The checks on the copy itself: the app's own, verified, with a checksum and a known type.
pub(super) fn check_copy(deployment: &str, app: &App, file: &StoredFile) -> Result<Checked, Error> {
    let name = &file.name;
    if !crate::backup::inventory::owned_by(file, deployment, app) {
        return Err(Error::refused(Msg::new("refusal.not_ours").with("copy", name).with("app", &app.name)));
    }
    if file.properties.get("verified").is_none_or(|v| v != "1") {
        return Err(Error::refused(Msg::new("refusal.unverified").with("copy", name)));
    }
    let sha256 = match file.properties.get("sha256") {
        Some(sha) if contract_spec::is_sha256_hex(sha) => sha.to_ascii_lowercase(),
        _ => {
            return Err(Error::refused(Msg::new("refusal.no_sha256").with("copy", name)));
        }
    };
    let backup_type = backup_type_of(file, &app.name)
        .ok_or_else(|| Error::refused(Msg::new("refusal.no_type").with("copy", name).with("app", &app.name)))?;
    Ok(Checked { backup_type, sha256 })
}

/// The type a run stored with the copy, else the one its name carries
/// (`{app}_{type}_{YYYYMMDD}_{HHMMSS}Z_{run}.{ext}`, see [`crate::backup::run::file_name`]).
fn backup_type_of(file: &StoredFile, app: &str) -> Option<String> {
    if let Some(t) = file.properties.get("type").filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    let stem = file.name.strip_prefix(app)?.strip_prefix('_')?.split('.').next()?;
    let mut parts = stem.rsplitn(4, '_');
    let (run, time, date, backup_type) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = digits(date, 8)
        && time.strip_suffix('Z').is_some_and(|t| digits(t, 6))
        && !run.is_empty()
        && run.bytes().all(|b| b.is_ascii_digit())
        && !backup_type.is_empty();
    well_formed.then(|| backup_type.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn copy(name: &str, props: &[(&str, &str)]) -> StoredFile {
        StoredFile {
            id: name.to_owned(),
            name: name.to_owned(),
            size: 1,
            created: None,
            sha256: None,
            md5: None,
            properties: props.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn the_type_comes_from_the_properties_else_from_the_name() {
        let typed = copy("anything.bin", &[("type", "schema")]);
        assert_eq!(backup_type_of(&typed, "billing").as_deref(), Some("schema"));
        let named = copy("billing_full_20261122_030405Z_42.sql.gz", &[]);
        assert_eq!(backup_type_of(&named, "billing").as_deref(), Some("full"));
        let underscored = copy("my_app_data_set_20261122_030405Z_7.tar.gz", &[]);
        assert_eq!(backup_type_of(&underscored, "my_app").as_deref(), Some("data_set"));
    }

    #[test]
    fn a_name_that_is_not_a_run_name_gives_no_type() {
        for name in
            ["billing.sql", "billing_full.sql.gz", "billing_full_2026_030405Z_1.gz", "crm_full_20261122_030405Z_1.gz"]
        {
            assert_eq!(backup_type_of(&copy(name, &[]), "billing"), None, "{name}");
        }
        assert_eq!(backup_type_of(&copy("billing__20261122_030405Z_1.gz", &[]), "billing"), None);
    }
}
