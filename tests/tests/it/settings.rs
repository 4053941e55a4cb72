//! What an operator meets before anything runs: settings refused at start (all of them at once,
//! each with what to write instead), `serve --demo` kept apart from the installation, and the
//! commands a container needs (`healthcheck`, `tokens`).

use e2e::harness::Harness;

#[tokio::test]
async fn serve_names_every_invalid_setting_at_once_with_what_to_write_instead() {
    let h = Harness::local().await;
    let bad = [
        ("RETRY_DELAY_SECS", "-5"),
        ("STORAGE", "gdrivee"),
        ("MAX_CONCURRENT_BACKUPS", "0"),
        ("EXPORT_IDLE_TIMEOUT", "0"),
        ("SHUTDOWN_GRACE", "0"),
        ("LISTEN_ADDR", "127.0.0.1:0"),
    ];
    let run = h.cli_with(&["serve"], &bad).await;
    assert!(!run.status.success(), "serve refuses to start: {}", run.stderr);
    let expected = [
        ("RETRY_DELAY_SECS=\"-5\"", "write one such as 30"),
        ("STORAGE=\"gdrivee\"", "use gdrive, fs or s3"),
        ("MAX_CONCURRENT_BACKUPS=0", "use 1 to 256"),
        ("EXPORT_IDLE_TIMEOUT=0", "above 0"),
        ("SHUTDOWN_GRACE=0", "use 1 to 3600 seconds"),
    ];
    for (setting, advice) in expected {
        let line = run.stderr.lines().find(|l| l.contains(setting));
        let line = line.unwrap_or_else(|| panic!("{setting} is named: {}", run.stderr));
        assert!(line.contains(advice), "{setting} says what to write ({advice}): {line}");
    }
    assert!(run.stderr.contains("5 settings are invalid"), "{}", run.stderr);

    // The log settings are read before anything else, and reported with the rest.
    let logs = [("LOG", "info,=nonsense[["), ("LOG_FORMAT", "xml"), ("RETRY_DELAY_SECS", "-5")];
    for command in [&["serve"][..], &["apps", "list"][..]] {
        let run = h.cli_with(command, &logs).await;
        assert_eq!(run.status.code(), Some(2), "{command:?}: {}", run.stderr);
        for named in ["LOG=\"info,=nonsense[[\"", "LOG_FORMAT=\"xml\": use json", "RETRY_DELAY_SECS=\"-5\""] {
            assert!(run.stderr.contains(named), "{command:?} names {named}: {}", run.stderr);
        }
        assert!(run.stderr.contains("3 settings are invalid"), "{}", run.stderr);
    }
}

#[tokio::test]
async fn drive_chunk_sizes_off_googles_256_kib_grid_are_refused_with_the_nearest_sizes() {
    let h = Harness::sqlite().await;
    let run = h.cli_with(&["apps", "list"], &[("GDRIVE_CHUNK_SIZE", "300KiB")]).await;
    assert!(!run.status.success());
    assert!(run.stderr.contains("GDRIVE_CHUNK_SIZE=\"300KiB\""), "{}", run.stderr);
    assert!(run.stderr.contains("the nearest are 256KiB and 512KiB"), "{}", run.stderr);
    h.cli_with(&["apps", "list"], &[("GDRIVE_CHUNK_SIZE", "512KiB")]).await.assert_success();
}

#[tokio::test]
async fn a_plain_serve_after_a_demo_finds_nothing_of_it() {
    let h = Harness::sqlite().await;
    let mut demo = h.serve_with(&["--demo"], &[]).await;
    assert!(demo.printed.iter().any(|l| l.contains("data/demo/")), "the demo says where it lives: {:?}", demo.printed);
    demo.terminate().await;
    assert!(h.dir().join("data/demo/orchestrator.db").is_file(), "the demo has a database of its own");

    // The installation's own database (DATABASE_URL) never saw the demo app.
    let listed = h.cli(&["apps", "list"]).await;
    listed.assert_success();
    assert!(!listed.stdout_text().contains("demo"), "{}", listed.stdout_text());
    let mut plain = h.serve(&[]).await;
    let token = cli_token(&h, "e2e").await;
    let apps = api_get(&plain.url, "/api/v1/apps", &token).await;
    assert_eq!(apps.status(), 200);
    let apps: serde_json::Value = apps.json().await.unwrap();
    assert_eq!(apps["total"], 0, "{apps}");
    plain.terminate().await;
}

#[tokio::test]
async fn healthcheck_passes_while_serve_is_ready_and_fails_once_it_stopped() {
    let h = Harness::local().await;
    let mut served = h.serve(&[]).await;
    let listen = served.url.trim_start_matches("http://").to_owned();
    h.cli_with(&["healthcheck"], &[("LISTEN_ADDR", &listen)]).await.assert_success();
    served.terminate().await;
    let run = h.cli_with(&["healthcheck", "--timeout", "2"], &[("LISTEN_ADDR", &listen)]).await;
    assert!(!run.status.success(), "nothing listens any more");
    assert!(run.stderr.contains("not ready"), "{}", run.stderr);
}

/// A token made by `orchestrator tokens create NAME`.
async fn cli_token(h: &Harness, name: &str) -> String {
    let created = h.cli(&["tokens", "create", name]).await;
    created.assert_success();
    let token = created.stdout_text().trim().to_owned();
    assert!(token.starts_with("bko_"), "{token}");
    token
}

async fn api_get(base: &str, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap()
}

#[tokio::test]
async fn a_token_made_on_the_command_line_opens_the_api_until_revoked() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let kept = cli_token(&h, "kept").await;
    let revoked = cli_token(&h, "revoked").await;
    assert_eq!(api_get(&served.url, "/api/v1/apps", &revoked).await.status(), 200);
    let list = h.cli(&["tokens", "list"]).await.stdout_text();
    let id = list.lines().find(|l| l.contains("\trevoked\t")).and_then(|l| l.split('\t').next()).unwrap().to_owned();
    h.cli(&["tokens", "revoke", &id]).await.assert_success();
    assert_eq!(api_get(&served.url, "/api/v1/apps", &revoked).await.status(), 401, "a revoked token is refused");
    assert_eq!(api_get(&served.url, "/api/v1/apps", &kept).await.status(), 200, "another token is not touched");
    let listed = h.cli(&["tokens", "list"]).await.stdout_text();
    assert!(listed.lines().any(|l| l.starts_with(&format!("{id}\t")) && l.ends_with("\trevoked")), "{listed}");
}
