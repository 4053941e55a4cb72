//! Verify (restore drills), checked only for the types that advertise `verify: true`: guarded by
//! the token, refuses a body whose sha256 does not match, passes an export of the app's own, and
//! does NOT pass garbage. A verify changes nothing, so these run without `--with-import`.

use bytes::Bytes;
use reqwest::Method;
use sha2::{Digest, Sha256};

use super::Report;
use super::import::Spool;
use crate::client::{AppClient, ClientError};
use crate::{BackupType, HEADER_BACKUP_SHA256, HEADER_BACKUP_TYPE, VERIFY_PATH};

pub(super) async fn check_type(client: &AppClient, backup_type: &BackupType, report: &mut Report) {
    let name = backup_type.name.as_str();
    let good = format!("verify of an export ({name})");
    if !backup_type.verify {
        report.skip(good, "the type does not advertise verify");
        return;
    }
    let unauthenticated = client
        .bare(Method::POST, VERIFY_PATH)
        .header(HEADER_BACKUP_TYPE, name)
        .header(HEADER_BACKUP_SHA256, "0".repeat(64))
        .body(Vec::new());
    super::auth::expect_401(client, report, &format!("POST /backup/verify ({name}) without a token"), unauthenticated)
        .await;

    let spool = Spool::new();
    let (sha, bytes) = match spool.fill(client, name).await {
        Ok(done) => done,
        Err(e) => return report.fail(good, format!("the export to verify failed: {e}")),
    };
    let wrong = format!("{}{}", if sha.starts_with('0') { '1' } else { '0' }, &sha[1..]);
    let mismatch = format!("verify with a wrong Backup-Sha256 ({name})");
    match client.verify(name, &wrong, spool.stream()).await {
        Err(ClientError::Status { status: 422, code, .. }) if code == "checksum_mismatch" => {
            report.pass(mismatch, "422 checksum_mismatch");
        }
        Err(e) => report.fail(mismatch, format!("{e}; expected 422 checksum_mismatch")),
        Ok(_) => report.fail(
            mismatch,
            "the app checked a body whose sha256 does not match Backup-Sha256: hash what arrives and refuse a mismatch with 422 checksum_mismatch",
        ),
    }
    match client.verify(name, &sha, spool.stream()).await {
        Ok(r) if r.ok && r.bytes == bytes => {
            report.pass(good, format!("{bytes} bytes: ok ({} checks)", r.checks.len()))
        }
        Ok(r) if r.ok => {
            report.fail(good, format!("the app checked {} bytes of {bytes}: report the bytes received", r.bytes))
        }
        Ok(r) => report.fail(good, format!("the app's own export does not verify: {}", r.failures())),
        Err(e) => report.fail(good, e.to_string()),
    }

    // Bytes that are no backup of any kind, with their true sha256: a verify that reads the copy
    // must say they would not restore.
    let garbage: Vec<u8> = (0..256 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let garbage_sha = hex::encode(Sha256::digest(&garbage));
    let refused = format!("verify of garbage ({name})");
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(garbage))]);
    match client.verify(name, &garbage_sha, body).await {
        Ok(r) if !r.ok => report.pass(refused, format!("ok: false ({})", r.failures())),
        Ok(_) => report.fail(
            refused,
            "the app advertises verify but passed 256 KiB of garbage: read the whole copy and check it as a restore would (e.g. pg_restore --file=/dev/null, not --list)",
        ),
        Err(ClientError::Status { status, code, .. }) if status == 500 || status == 422 => {
            report.fail(refused, format!("{status} {code}: answer 200 with ok: false and the failed checks"))
        }
        Err(e) => report.fail(refused, e.to_string()),
    }
}
