//! Copies compressed and encrypted in the stream, in standard formats: a stored copy, fetched raw
//! from the destination, opens with the upstream `age` command and `zstd -d`, giving the app's
//! export byte for byte. Restores decrypt in the stream with an identity handed in for that
//! restore only (which lands in no table, log or file), or held by the orchestrator; a wrong
//! identity imports nothing.

use std::process::Stdio;
use std::time::Duration;

use e2e::harness::Harness;
use e2e::s3::MotoServer;
use e2e::sdk_apps::{self, Behaviour, SdkApp, expected_sha256};

const SIZE: u64 = 300_000;
const SEED: u64 = 19;

fn good() -> Behaviour {
    Behaviour::Good { size: SIZE, delay: Duration::ZERO }
}

/// A key made by `orchestrator keys new`: (identity line, recipient), the identity also written
/// to `key.txt` in the harness's folder.
async fn new_key(h: &Harness, file: &str) -> (String, String, std::path::PathBuf) {
    let kit = h.cli(&["keys", "new"]).await;
    kit.assert_success();
    let text = kit.stdout_text();
    let identity = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1")).expect("an identity line").to_owned();
    let recipient = text
        .lines()
        .find_map(|l| l.split_once("ENCRYPTION_RECIPIENTS=").map(|(_, r)| r.trim().to_owned()))
        .expect("the recipient");
    assert!(text.contains("age --decrypt -i key.txt COPY.zst.age | zstd -d > COPY"), "{text}");
    let path = h.dir().join(file);
    std::fs::write(&path, format!("{identity}\n")).unwrap();
    (identity, recipient, path)
}

fn which(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `age --decrypt -i KEY | zstd -d`, as an operator would type it, on `stored`; the sha256 of
/// what comes out.
fn open_by_hand(stored: &[u8], key: &std::path::Path, dir: &std::path::Path) -> String {
    let copy = dir.join("copy.zst.age");
    std::fs::write(&copy, stored).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("age --decrypt -i '{}' '{}' | zstd -d | sha256sum", key.display(), copy.display()))
        .output()
        .expect("run age and zstd");
    assert!(out.status.success(), "age | zstd failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_owned()
}

/// The story on any destination: a copy made encrypted and compressed opens by hand; restore
/// with the identity handed in works, with a wrong one or none it is refused and nothing is
/// imported; the identity is left nowhere.
async fn story(h: &Harness, app: &SdkApp, identity: &str, raw: impl AsyncFn(&str) -> Vec<u8>) {
    for tool in ["age", "zstd", "sha256sum"] {
        if !which(tool) {
            assert!(std::env::var_os("CI").is_none(), "{tool} is missing: .ci/run installs it");
            eprintln!("SKIPPED: {tool} is not installed (apt-get install age zstd)");
            return;
        }
    }
    let copy = h.backup("wiki", &[]).await;
    assert!(copy.ends_with(".bin.zst.age"), "named with the codecs' suffixes in order: {copy}");

    let key = h.dir().join("key.txt");
    let stored = raw(&copy).await;
    assert!(stored.starts_with(b"age-encryption.org/v1\n"), "stored encrypted");
    assert_eq!(open_by_hand(&stored, &key, h.dir()), expected_sha256(SIZE, SEED), "opens with age and zstd alone");

    let list = h.cli(&["copies", "list", "wiki"]).await;
    list.assert_success();
    let text = list.stdout_text();
    assert!(text.contains("[compressed, encrypted]"), "{text}");
    assert!(text.contains(&format!("    sha256: {}", expected_sha256(SIZE, SEED))), "the plaintext's: {text}");
    assert!(text.contains("    recipients: "), "{text}");

    // The orchestrator holds no identity: a restore without one is refused, changing nothing.
    let none = h.cli(&["restore", "wiki", &copy, "--no-safety-backup"]).await;
    assert!(!none.status.success());
    assert!(none.stderr.contains("is encrypted and this orchestrator holds no identity"), "{}", none.stderr);
    let (_, _, wrong) = new_key(h, "other.txt").await;
    let refused = h.cli(&["restore", "wiki", &copy, "--no-safety-backup", "--identity", wrong.to_str().unwrap()]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("the identity given does not open"), "{}", refused.stderr);
    let not_a_key = h.cli(&["restore", "wiki", &copy, "--identity", h.dir().join("nope.txt").to_str().unwrap()]).await;
    assert!(!not_a_key.status.success() && not_a_key.stderr.contains("cannot read the file"), "{}", not_a_key.stderr);
    assert!(app.restored().is_empty(), "nothing was imported");

    let out = h.cli(&["restore", "wiki", &copy, "--identity", key.to_str().unwrap()]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, SEED)));
    assert_eq!(app.restored(), vec![expected_sha256(SIZE, SEED)], "the app took the plaintext in");
    let safety = out.field("safety backup").unwrap_or_default();
    assert!(safety.contains(".bin.zst.age"), "the safety backup is encrypted too: {safety}");

    // The identity was for that restore only.
    let secret = identity.as_bytes();
    for entry in walk(h.dir()) {
        if entry.ends_with("key.txt") || entry.ends_with("other.txt") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!contains(&bytes, secret), "the identity was written into {}", entry.display());
        assert!(
            !contains(&bytes, identity.to_lowercase().as_bytes()),
            "the identity was written into {}",
            entry.display()
        );
    }
    assert!(!out.stderr.contains(identity) && !out.stdout_text().contains(identity));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A deployment encrypting to a key of `keys new` (its identity in `key.txt`), and the app
/// `wiki`, registered with `extra`.
async fn register(h: &mut Harness, folder: &str, extra: &[&str]) -> (SdkApp, String) {
    let (identity, recipient, _) = new_key(h, "key.txt").await;
    h.set("ENCRYPTION_RECIPIENTS", &recipient);
    let app = sdk_apps::spawn_restorable(good(), SEED).await;
    // The default: compressed unless the export already is (this one is not).
    let mut args = vec!["--compress", "auto"];
    args.extend_from_slice(extra);
    h.add_app("wiki", &app.url, folder, &args).await;
    (app, identity)
}

#[tokio::test]
async fn on_drive_a_copy_opens_with_age_and_zstd_and_restores_with_an_identity_given_for_that_restore() {
    let mut h = Harness::sqlite().await;
    let folder = h.folder("wiki");
    // The app is also encrypted to a key of its own: its copies open with either.
    let (_, own, own_key) = new_key(&h, "app-key.txt").await;
    let (app, identity) = register(&mut h, &folder, &["--recipient", &own]).await;
    story(&h, &app, &identity, async |name: &str| {
        let file = h.double.files_in(&folder).into_iter().find(|x| x.name == name).expect("the copy in the double");
        assert_eq!(file.app_properties.get("codec").map(String::as_str), Some("zstd+age"));
        assert_eq!(file.app_properties.get("size").map(String::as_str), Some(SIZE.to_string().as_str()));
        assert_eq!(file.app_properties.get("rcpt").map(|r| r.split(',').count()), Some(2), "both recipients");
        h.double.content(&file.id).expect("its content")
    })
    .await;
    let copy = h.double.files_in(&folder).remove(0).name;
    let out = h.cli(&["restore", "wiki", &copy, "--no-safety-backup", "--identity", own_key.to_str().unwrap()]).await;
    out.assert_success();
    let keys = h.cli(&["keys", "list"]).await;
    keys.assert_success();
    let text = keys.stdout_text();
    assert!(text.contains("wiki: encrypt yes (recipients configured)"), "{text}");
    assert!(text.contains("identity held by this orchestrator: none"), "{text}");
    assert!(text.lines().any(|l| l.contains("copies encrypted to ") && l.contains(',')), "{text}");
}

#[tokio::test]
async fn on_a_local_folder_and_with_the_identity_held_by_the_orchestrator() {
    let mut h = Harness::local().await;
    let (app, identity) = register(&mut h, "wiki", &[]).await;
    let root = h.dir().join("backups/wiki");
    story(&h, &app, &identity, async |name: &str| std::fs::read(root.join(name)).unwrap()).await;

    // With ENCRYPTION_IDENTITY_FILE the orchestrator opens its copies itself.
    let key = h.dir().join("key.txt");
    let copy = h.stored_files("wiki").into_iter().find(|n| n.ends_with(".zst.age")).unwrap();
    let out = h
        .cli_with(
            &["restore", "wiki", &copy, "--no-safety-backup"],
            &[("ENCRYPTION_IDENTITY_FILE", key.to_str().unwrap())],
        )
        .await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, SEED)));
}

#[tokio::test]
async fn on_s3_a_copy_opens_by_hand_and_restores() {
    let Some(s3) = MotoServer::start("on_s3_a_copy_opens_by_hand_and_restores", "backups").await else {
        return;
    };
    let mut h = Harness::sqlite().await;
    for (k, v) in [
        ("STORAGE", "s3"),
        ("S3_BUCKET", "backups"),
        ("S3_ENDPOINT", s3.endpoint.as_str()),
        ("S3_REGION", "us-east-1"),
        ("S3_ACCESS_KEY_ID", "test"),
        ("S3_SECRET_ACCESS_KEY", "test"),
    ] {
        h.set(k, v);
    }
    let (app, identity) = register(&mut h, "wiki", &[]).await;
    story(&h, &app, &identity, async |name: &str| {
        let out = h.cli(&["remote", "get", "wiki", name]).await;
        out.assert_success();
        out.stdout
    })
    .await;
}

#[tokio::test]
async fn bad_encryption_settings_and_fields_are_refused_and_change_nothing() {
    let mut h = Harness::local().await;
    let app = sdk_apps::spawn(good(), 1).await;
    let encrypt = h
        .cli_with(
            &["apps", "add", "crm", "--url", &app.url, "--folder", "crm", "--schedule", "0 3 * * *", "--encrypt"],
            &[("BACKUP_TOKEN", e2e::apps::TOKEN)],
        )
        .await;
    assert!(!encrypt.status.success());
    assert!(encrypt.stderr.contains("no recipient would be able to open the copies"), "{}", encrypt.stderr);
    let bad = h
        .cli_with(
            &[
                "apps",
                "add",
                "crm",
                "--url",
                &app.url,
                "--folder",
                "crm",
                "--schedule",
                "0 3 * * *",
                "--compress",
                "brotli",
                "--recipient",
                "age1nope",
            ],
            &[("BACKUP_TOKEN", e2e::apps::TOKEN)],
        )
        .await;
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("compress: \"brotli\": use zstd, none or auto"), "{}", bad.stderr);
    assert!(bad.stderr.contains("recipients: \"age1nope\" is not an age public key"), "{}", bad.stderr);
    assert!(!h.cli(&["apps", "list"]).await.stdout_text().contains("crm"), "nothing was registered");

    h.set("ENCRYPTION_RECIPIENTS", "age1bad,AGE-SECRET-KEY-1XYZ");
    let out = h.cli(&["apps", "list"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("ENCRYPTION_RECIPIENTS: \"age1bad\" is not an age public key"), "{}", out.stderr);
    assert!(out.stderr.contains("is a secret key") && !out.stderr.contains("XYZ"), "{}", out.stderr);

    // Plain when asked: no suffix, no codec.
    h.set("ENCRYPTION_RECIPIENTS", "");
    h.add_app("crm", &app.url, "crm", &["--compress", "none"]).await;
    let copy = h.backup("crm", &[]).await;
    assert!(copy.ends_with(".bin"), "{copy}");
    let shown = h.cli(&["apps", "show", "crm"]).await.stdout_text();
    assert!(shown.contains("compress: none") && shown.contains("encrypt: auto"), "{shown}");
}

/// In the browser: the Encryption page names the recipients by fingerprint and says the server
/// holds no identity; the run page shows what was stored beside what the app sent; a restore
/// whose identity is chosen as a file in the form (never pasted, never stored) opens the copy.
#[tokio::test]
async fn in_the_browser_the_encryption_page_and_a_restore_with_an_identity_file() {
    let mut h = Harness::sqlite().await;
    let folder = h.folder("wiki");
    let (app, _) = register(&mut h, &folder, &[]).await;
    let copy = h.backup("wiki", &[]).await;
    let key = h.dir().join("key.txt");
    let served = h.serve(&[]).await;
    let Some(browser) =
        e2e::browser::Browser::start("in_the_browser_the_encryption_page_and_a_restore_with_an_identity_file").await
    else {
        return;
    };
    browser.goto(&format!("{}/login", served.url)).await;
    browser.fill("#user", e2e::harness::ADMIN_USER).await;
    browser.fill("#password", e2e::harness::ADMIN_PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#register-app").await;

    browser.goto(&format!("{}/settings/encryption", served.url)).await;
    browser.wait_for("#recipients").await;
    browser.screenshot("encryption page").await;
    let recipients = browser.text("#recipients").await;
    let list = h.cli(&["keys", "list"]).await.stdout_text();
    let fingerprint = list.lines().nth(1).and_then(|l| l.split_whitespace().next()).expect("a fingerprint").to_owned();
    assert!(recipients.contains(&fingerprint), "{recipients} / {list}");
    assert!(browser.exists("#identity-none").await, "the server holds no identity");
    assert!(!browser.exists("#clear-apps").await, "every copy is encrypted");
    assert!(browser.text("#encryption-apps").await.contains("1 of 1 copies encrypted"));

    let run = {
        use sea_orm::{EntityTrait, QueryOrder};
        let runs = orchestrator::db::entities::backup_run::Entity::find()
            .order_by_desc(orchestrator::db::entities::backup_run::Column::Id);
        runs.one(&h.db().await).await.unwrap().expect("the run")
    };
    browser.goto(&format!("{}/runs/{}", served.url, run.id)).await;
    assert_eq!(browser.text("#run-codec").await, "zstd+age");
    assert_eq!(browser.text("#run-sha256").await, expected_sha256(SIZE, SEED), "the plaintext's");
    let stored = browser.text("#run-stored-sha256").await;
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, expected_sha256(SIZE, SEED));
    assert!(browser.text("#run-stored-bytes").await.contains('%'));

    browser.goto(&format!("{}/apps/wiki/copies/{copy}/restore", served.url)).await;
    browser.wait_for("#restore-form").await;
    browser.fill("#confirm", "wiki").await;
    browser.fill("#password", e2e::harness::ADMIN_PASSWORD).await;
    browser.fill("#identity_file", key.to_str().unwrap()).await;
    browser.click("#safety_backup").await;
    browser.screenshot("restore with an identity file").await;
    browser.click("#confirm-restore").await;
    browser.wait_for_text("#restore-status", "Succeeded").await;
    assert_eq!(app.restored(), vec![expected_sha256(SIZE, SEED)], "the app took the plaintext in");
    let identity = std::fs::read_to_string(&key).unwrap();
    for entry in walk(h.dir()).into_iter().filter(|p| *p != key) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!contains(&bytes, identity.trim().as_bytes()), "the identity was written into {}", entry.display());
    }
}
