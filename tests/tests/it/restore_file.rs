//! `restore APP --from-file PATH`: a copy that only exists on someone's laptop is streamed into
//! the app's folder (kept there as an adopted, uploaded copy outside retention), verified and
//! hashed, then restored like any copy. Encrypted files open with an identity given for that
//! restore. A file that is not what it says, an empty or missing file, a type the app does not
//! offer: refused, nothing left in the folder, nothing sent to the app.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use e2e::web::{follow_to_end, location, sign_in};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

const SIZE: u64 = 250_000;
const SEED: u64 = 23;

fn good() -> Behaviour {
    Behaviour::Good { size: SIZE, delay: Duration::ZERO }
}

#[tokio::test]
async fn a_copy_kept_only_on_a_laptop_is_uploaded_then_restored_and_bad_files_are_refused() {
    let h = Harness::local().await;
    let app = sdk_apps::spawn_restorable(good(), SEED).await;
    h.add_app("wiki", &app.url, "wiki", &["--keep-last", "1"]).await;
    let copy = h.backup("wiki", &[]).await;
    let folder = h.dir().join("backups/wiki");
    let laptop = h.dir().join("laptop");
    std::fs::create_dir_all(&laptop).unwrap();
    let kept = laptop.join(&copy);
    std::fs::rename(folder.join(&copy), &kept).unwrap();
    std::fs::remove_file(folder.join(format!("{copy}.props.json"))).unwrap();
    assert!(h.stored_files("wiki").is_empty(), "the copy is only on the laptop now");

    // Bad inputs first: each refused, nothing stored, nothing sent to the app.
    let missing = h.cli(&["restore", "wiki", "--from-file", laptop.join("nope.bin").to_str().unwrap()]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stderr.contains("cannot read the file"), "{}", missing.stderr);
    let dir = h.cli(&["restore", "wiki", "--from-file", laptop.to_str().unwrap()]).await;
    assert!(!dir.status.success() && dir.stderr.contains("not a file"), "{}", dir.stderr);
    let empty = laptop.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let out = h.cli(&["restore", "wiki", "--from-file", empty.to_str().unwrap(), "--no-safety-backup"]).await;
    assert!(!out.status.success() && out.stderr.contains("is empty: it is not a copy"), "{}", out.stderr);
    let wrong_type = h.cli(&["restore", "wiki", "--from-file", kept.to_str().unwrap(), "--type", "nope"]).await;
    assert!(!wrong_type.status.success());
    assert!(wrong_type.stderr.contains("does not offer the backup type \"nope\""), "{}", wrong_type.stderr);
    let fake = laptop.join("wiki.bin.age");
    std::fs::write(&fake, b"just some bytes, not an age file").unwrap();
    let out = h.cli(&["restore", "wiki", "--from-file", fake.to_str().unwrap(), "--no-safety-backup"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("no identity was given"), "{}", out.stderr);
    let key = h.dir().join("key.txt");
    let kit = h.cli(&["keys", "new"]).await.stdout_text();
    std::fs::write(&key, kit).unwrap();
    let args = ["restore", "wiki", "--from-file", fake.to_str().unwrap(), "--no-safety-backup", "--identity"];
    let out = h.cli(&[&args[..], &[key.to_str().unwrap()]].concat()).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("is named .age but is not an age file"), "{}", out.stderr);
    assert!(h.stored_files("wiki").is_empty(), "every refused file was deleted again: {:?}", h.stored_files("wiki"));
    assert!(app.restored().is_empty(), "nothing was sent to the app");

    let out = h.cli(&["restore", "wiki", "--from-file", kept.to_str().unwrap()]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, SEED)));
    assert_eq!(app.restored(), vec![expected_sha256(SIZE, SEED)]);
    let stored = h.stored_files("wiki");
    let uploaded = stored.iter().find(|n| n.starts_with("wiki_uploaded_")).expect("the uploaded copy is kept");
    assert!(uploaded.ends_with(&copy), "{uploaded}");
    assert_eq!(stored.len(), 2, "the uploaded copy and the safety backup: {stored:?}");

    // It stays, outside retention's rules (keep-last 1 keeps the safety backup and it).
    let list = h.cli(&["copies", "list", "wiki"]).await.stdout_text();
    assert!(list.contains(uploaded.as_str()) && list.contains("uploaded from"), "{list}");
    h.backup("wiki", &[]).await;
    assert!(h.stored_files("wiki").contains(uploaded), "retention left the uploaded copy alone");
}

#[tokio::test]
async fn an_encrypted_copy_from_a_file_restores_with_the_identity_given() {
    let mut h = Harness::sqlite().await;
    let kit = h.cli(&["keys", "new"]).await.stdout_text();
    let recipient = kit
        .lines()
        .find_map(|l| l.split_once("ENCRYPTION_RECIPIENTS=").map(|(_, r)| r.trim().to_owned()))
        .expect("the recipient");
    let key = h.dir().join("key.txt");
    std::fs::write(&key, &kit).unwrap();
    h.set("ENCRYPTION_RECIPIENTS", &recipient);
    let app = sdk_apps::spawn_restorable(good(), SEED).await;
    let folder = h.folder("wiki");
    h.add_app("wiki", &app.url, &folder, &["--compress", "zstd"]).await;
    let copy = h.backup("wiki", &[]).await;
    assert!(copy.ends_with(".zst.age"), "{copy}");
    let file = h.double.files_in(&folder).remove(0);
    let laptop = h.dir().join(&copy);
    std::fs::write(&laptop, h.double.content(&file.id).unwrap()).unwrap();

    let refused = h.cli(&["restore", "wiki", "--from-file", laptop.to_str().unwrap(), "--no-safety-backup"]).await;
    assert!(!refused.status.success() && refused.stderr.contains("no identity was given"), "{}", refused.stderr);
    assert_eq!(h.double.files_in(&folder).len(), 1, "nothing was stored");

    let args = ["restore", "wiki", "--from-file", laptop.to_str().unwrap(), "--no-safety-backup", "--identity"];
    let out = h.cli(&[&args[..], &[key.to_str().unwrap()]].concat()).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, SEED)));
    assert_eq!(app.restored(), vec![expected_sha256(SIZE, SEED)], "the app took the plaintext in");
    let uploaded = h.double.files_in(&folder).into_iter().find(|f| f.name.starts_with("wiki_uploaded_")).unwrap();
    assert_eq!(uploaded.app_properties.get("codec").map(String::as_str), Some("zstd+age"));
    assert_eq!(uploaded.app_properties.get("sha256"), Some(&expected_sha256(SIZE, SEED)), "the plaintext's");
    assert_eq!(uploaded.app_properties.get("uploaded").map(String::as_str), Some("1"));
}

/// The restore-from-a-file page's form, with its parts in the page's order (small fields, then
/// the file) unless `file_first`.
fn file_form(csrf: &str, fields: &[(&str, &str)], file: Option<(&str, Vec<u8>)>, file_first: bool) -> Form {
    let mut form = Form::new();
    let part = file.map(|(name, bytes)| Part::bytes(bytes).file_name(name.to_owned()));
    let mut part = part;
    if file_first && let Some(p) = part.take() {
        form = form.part("copy", p);
    }
    form = form.text("csrf", csrf.to_owned());
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some(p) = part {
        form = form.part("copy", p);
    }
    form
}

#[tokio::test]
async fn a_copy_file_chosen_in_the_browser_is_streamed_in_and_restored_and_bad_forms_store_nothing() {
    // Larger than any form body the pages accept elsewhere: the route streams, it does not buffer.
    const BIG: u64 = 5_000_000;
    let h = Harness::local().await;
    let app = sdk_apps::spawn_restorable(Behaviour::Good { size: BIG, delay: Duration::ZERO }, SEED).await;
    h.add_app("wiki", &app.url, "wiki", &[]).await;
    let copy = h.backup("wiki", &[]).await;
    let folder = h.dir().join("backups/wiki");
    let bytes = std::fs::read(folder.join(&copy)).unwrap();
    std::fs::remove_file(folder.join(&copy)).unwrap();
    std::fs::remove_file(folder.join(format!("{copy}.props.json"))).unwrap();

    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    assert!(session.page("/apps/wiki").await.contains("href=\"/apps/wiki/restore-file\""), "the app page links it");
    let page = session.page("/apps/wiki/restore-file").await;
    let form_at = page.find("id=\"restore-file-form\"").expect("the form");
    assert!(page[form_at..].find("name=\"password\"") < page[form_at..].find("name=\"copy\""), "the file comes last");
    let path = "/apps/wiki/restore-file";
    let good = [("confirm", "wiki"), ("password", ADMIN_PASSWORD)];
    let file = || Some((copy.as_str(), bytes.clone()));

    let cases: Vec<(&str, Form, StatusCode, &str)> = vec![
        ("no CSRF token", file_form("", &good, file(), false), StatusCode::FORBIDDEN, "did not come from this site"),
        (
            "the file before the fields",
            file_form(&session.csrf, &good, file(), true),
            StatusCode::FORBIDDEN,
            "did not come from this site",
        ),
        (
            "the name mistyped",
            file_form(&session.csrf, &[("confirm", "wik"), good[1]], file(), false),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Type the app&#39;s name exactly",
        ),
        (
            "a wrong password",
            file_form(&session.csrf, &[good[0], ("password", "guess")], file(), false),
            StatusCode::FORBIDDEN,
            "That password is not right",
        ),
        // Refused before the file is read: the rest of it is read and dropped, so a client still
        // sending gets the page, not a reset connection.
        (
            "a wrong password with a large file",
            file_form(
                &session.csrf,
                &[good[0], ("password", "guess")],
                Some((copy.as_str(), vec![7u8; 64 << 20])),
                false,
            ),
            StatusCode::FORBIDDEN,
            "That password is not right",
        ),
        (
            "no file",
            file_form(&session.csrf, &good, None, false),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose the copy&#39;s file",
        ),
        (
            "a type not offered",
            file_form(&session.csrf, &[good[0], good[1], ("type", "nope")], file(), false),
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not offer the backup type",
        ),
        (
            "an empty file",
            file_form(&session.csrf, &good, Some((copy.as_str(), Vec::new())), false),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is empty: it is not a copy",
        ),
        (
            "a bad identity",
            file_form(&session.csrf, &[good[0], good[1], ("identity", "AGE-SECRET-KEY-1NOPE")], file(), false),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line 1 is not an age identity",
        ),
    ];
    for (what, form, status, says) in cases {
        let response = session.post_multipart(path, form).await;
        assert_eq!(response.status(), status, "{what}");
        let body = response.text().await.unwrap();
        assert!(body.contains(says), "{what}: {body}");
        assert!(h.stored_files("wiki").is_empty(), "{what}: nothing stored: {:?}", h.stored_files("wiki"));
    }
    assert!(app.restored().is_empty(), "nothing was sent to the app");

    let started = session.post_multipart(path, file_form(&session.csrf, &good, file(), false)).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{}", started.text().await.unwrap_or_default());
    let restore_path = location(&started);
    assert!(restore_path.starts_with("/restores/"), "{restore_path}");
    let end = follow_to_end(session.get(&format!("{restore_path}/events")).await, Duration::from_secs(90)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(app.restored(), vec![expected_sha256(BIG, SEED)], "the app took the file's content in");
    let stored = h.stored_files("wiki");
    let uploaded = stored.iter().find(|n| n.starts_with("wiki_uploaded_")).expect("the uploaded copy is kept");
    assert_eq!(std::fs::read(folder.join(uploaded)).unwrap(), bytes, "stored byte for byte");
    let audit = session.page("/audit").await;
    assert!(audit.contains("<code>copy.upload</code>"), "the upload is in the audit log");
    served.stop().await;
}
