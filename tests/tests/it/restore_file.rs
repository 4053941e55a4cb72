//! `restore APP --from-file PATH`: a copy that only exists on someone's laptop is streamed into
//! the app's folder (kept there as an adopted, uploaded copy outside retention), verified and
//! hashed, then restored like any copy. Encrypted files open with an identity given for that
//! restore. A file that is not what it says, an empty or missing file, a type the app does not
//! offer: refused, nothing left in the folder, nothing sent to the app.

use std::time::Duration;

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour, expected_sha256};

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
