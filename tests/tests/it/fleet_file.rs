//! The fleet as a file: `apps export` writes every app's settings with tokens as references only;
//! `apps apply -f` shows a plan of adds, changes and removals and applies exactly it (`--prune`,
//! `--dry-run`), refusing — with nothing applied — a file with an inline token, an unknown key or
//! an app that refuses its token; the API does the same with environment references only.

use e2e::apps::TOKEN;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, sign_in};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn good() -> Behaviour {
    Behaviour::Good { size: 1000, delay: std::time::Duration::ZERO }
}

async fn apply(h: &Harness, file: &std::path::Path, extra: &[&str]) -> e2e::cli::Run {
    let path = file.to_str().unwrap();
    let mut args = vec!["apps", "apply", "-f", path];
    args.extend_from_slice(extra);
    h.cli_with(&args, &[("BACKUP_TOKEN_CRM", TOKEN)]).await
}

async fn audit_details(h: &Harness) -> Vec<String> {
    use sea_orm::EntityTrait;
    orchestrator::db::entities::audit_entry::Entity::find()
        .all(&h.db().await)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| {
            e.detail
                .filter(|d| d.starts_with("fleet file"))
                .map(|d| format!("{} {} {d}", e.action, e.target.unwrap_or_default()))
        })
        .collect()
}

#[tokio::test]
async fn a_fleet_file_is_exported_planned_applied_and_pruned_with_tokens_by_reference_only() {
    let h = Harness::sqlite().await;
    let crm = sdk_apps::spawn(good(), 61).await;
    let erp = sdk_apps::spawn(good(), 62).await;
    h.add_app("crm", &crm.url, &h.folder("crm"), &["--tag", "odoo"]).await;
    h.add_app("old", "http://127.0.0.1:9", "old", &["--no-check"]).await;

    let exported = h.cli(&["apps", "export"]).await;
    exported.assert_success();
    let yaml = exported.stdout_text();
    assert!(!yaml.contains(TOKEN), "no token in the export");
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    let first = &doc["apps"][0];
    assert_eq!((&first["name"], &first["token"]), (&json!("crm"), &json!({"env": "BACKUP_TOKEN_CRM"})), "{doc}");
    assert_eq!(first["tags"], json!(["odoo"]));

    // The file: crm at 02:00 with another tag; erp added (its token in a file); old left out.
    let dir = h.dir().join("fleet");
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("erp.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let fleet = dir.join("fleet.yaml");
    let text = format!(
        "apps:\n  - name: crm\n    url: {}\n    token: {{env: BACKUP_TOKEN_CRM}}\n    schedule: '0 2 * * *'\n    folder: {}\n    compress: none\n    tags: [odoo, prod]\n  - name: erp\n    url: {}\n    token: {{file: {}}}\n    schedule: '0 4 * * *'\n    time_zone: Europe/Madrid\n    folder: {}\n    group: db-1\n",
        crm.url,
        h.folder("crm"),
        erp.url,
        token_file.display(),
        h.folder("erp")
    );
    std::fs::write(&fleet, &text).unwrap();
    let plan = apply(&h, &fleet, &["--prune", "--dry-run"]).await;
    plan.assert_success();
    let out = plan.stdout_text();
    assert!(out.contains("+ erp (add)"), "{out}");
    assert!(out.contains("~ crm (change)") && out.contains("schedule: 0 3 * * * -> 0 2 * * *"), "{out}");
    assert!(out.contains("tags: [odoo] -> [odoo, prod]"), "{out}");
    assert!(out.contains("- old (remove; its stored copies stay)"), "{out}");
    assert!(out.contains("Plan (dry run, nothing changed): 1 to add, 1 to change, 1 to remove, 0 unchanged."), "{out}");
    let listed = h.cli(&["apps", "list"]).await.stdout_text();
    assert!(listed.contains("old") && !listed.contains("erp"), "a dry run changes nothing: {listed}");

    let applied = apply(&h, &fleet, &["--prune"]).await;
    applied.assert_success();
    assert!(
        applied.stdout_text().contains("Applied: 1 to add, 1 to change, 1 to remove, 0 unchanged."),
        "{}",
        applied.stdout_text()
    );
    let shown = h.cli(&["apps", "show", "erp"]).await.stdout_text();
    assert!(shown.contains("0 4 * * * (Europe/Madrid)"), "{shown}");
    assert!(!h.cli(&["apps", "list"]).await.stdout_text().contains("old"));
    let audit = audit_details(&h).await;
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert!(
        audit.iter().any(|a| a.starts_with("app.update crm fleet file: schedule: 0 3 * * * -> 0 2 * * *")),
        "{audit:?}"
    );
    // The registry now is the file: applying it again changes nothing, and a backup works.
    let again = apply(&h, &fleet, &["--prune"]).await;
    assert!(
        again.stdout_text().contains("0 to add, 0 to change, 0 to remove, 2 unchanged."),
        "{}",
        again.stdout_text()
    );
    h.backup("erp", &[]).await;

    // Refused whole, nothing applied: an inline token, a wrong token, an unknown key.
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, text.replace("{env: BACKUP_TOKEN_CRM}", "s3cret").replace("'0 4 * * *'", "'0 5 * * *'"))
        .unwrap();
    let refused = apply(&h, &bad, &[]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("crm: token: the token is written inline"), "{}", refused.stderr);
    std::fs::write(&token_file, "wrong-token\n").unwrap();
    std::fs::write(&bad, text.replace("'0 4 * * *'", "'0 5 * * *'").replace("Europe/Madrid", "UTC")).unwrap();
    let refused = apply(&h, &bad, &[]).await;
    assert!(refused.stderr.contains("erp: token: the app refused the token"), "{}", refused.stderr);
    std::fs::write(&bad, text.replace("    group: db-1\n", "    grup: db-1\n")).unwrap();
    let refused = apply(&h, &bad, &[]).await;
    assert!(refused.stderr.contains("unknown field `grup`"), "{}", refused.stderr);
    assert!(h.cli(&["apps", "show", "erp"]).await.stdout_text().contains("0 4 * * *"), "nothing was applied");
}

#[tokio::test]
async fn the_api_exports_and_applies_a_fleet_with_environment_references_only() {
    let h = Harness::sqlite().await;
    let crm = sdk_apps::spawn(good(), 63).await;
    let served = h.serve(&[("BACKUP_TOKEN_FLEET_CRM", TOKEN), ("NOT_A_TOKEN", "the server's own secret")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("fleet").await;
    let http = web::client();
    let body = |reference: Value, dry_run: bool| json!({"apps": [{"name": "crm", "url": crm.url, "token": reference, "schedule": "@daily", "folder": h.folder("crm")}], "dry_run": dry_run});
    let post =
        |body: Value| http.post(format!("{}/api/v1/fleet/apply", served.url)).bearer_auth(&token).json(&body).send();

    let refused = post(body(json!({"file": "/etc/hostname"}), false)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(answer["fields"][0]["field"], "crm.token", "{answer}");
    assert!(answer["fields"][0]["message"].as_str().unwrap().contains("not taken through the API"), "{answer}");
    // A variable that is not a token's (the server's own secrets) is refused before it is read.
    for name in ["NOT_A_TOKEN", "SECRET_KEY", "DATABASE_URL"] {
        let refused = post(body(json!({ "env": name }), false)).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let answer: Value = refused.json().await.unwrap();
        let message = answer["fields"][0]["message"].as_str().unwrap();
        assert!(message.contains("starts with BACKUP_TOKEN_") && message.contains(name), "{answer}");
    }

    let planned: Value =
        post(body(json!({"env": "BACKUP_TOKEN_FLEET_CRM"}), true)).await.unwrap().json().await.unwrap();
    assert_eq!(
        planned,
        json!({"applied": false, "steps": [{"action": "add", "app": "crm", "changes": []}], "groups": []})
    );
    let applied = post(body(json!({"env": "BACKUP_TOKEN_FLEET_CRM"}), false)).await.unwrap();
    assert_eq!(applied.status(), StatusCode::OK);
    let exported: Value = http
        .get(format!("{}/api/v1/fleet", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exported["apps"][0]["name"], "crm");
    assert_eq!(exported["apps"][0]["token"], json!({"env": "BACKUP_TOKEN_CRM"}));
    assert!(!exported.to_string().contains(TOKEN));
}

#[tokio::test]
async fn a_fleet_file_carries_the_groups_settings_planned_applied_refused_and_pruned() {
    let h = Harness::sqlite().await;
    let crm = sdk_apps::spawn(good(), 63).await;
    h.add_app("crm", &crm.url, &h.folder("crm"), &["--group", "db-1"]).await;
    h.cli(&["groups", "set", "db-1", "--max-concurrent", "2", "--window", "2h"]).await.assert_success();
    h.cli(&["groups", "set", "db-2", "--jitter", "10m"]).await.assert_success();

    // Exported: each group with settings, only the settings it has.
    let yaml = h.cli(&["apps", "export"]).await.stdout_text();
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(
        doc["groups"],
        json!([{"name": "db-1", "max_concurrent": 2, "window": "2h"}, {"name": "db-2", "jitter": "10m"}]),
        "{yaml}"
    );
    let dir = h.dir().join("fleet-groups");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fleet.yaml");
    let with_groups = |groups: &str| {
        let mut doc = doc.clone();
        doc["groups"] = serde_yaml::from_str(groups).unwrap();
        serde_yaml::to_string(&doc).unwrap()
    };

    // A bad value: refused with where, and nothing applied.
    std::fs::write(&file, with_groups("[{name: db-1, max_concurrent: 0}, {name: 'Bad Name'}]")).unwrap();
    let refused = apply(&h, &file, &[]).await;
    assert!(!refused.status.success(), "{}", refused.stdout_text());
    assert!(refused.stderr.contains("group db-1: max_concurrent: "), "{}", refused.stderr);
    assert!(refused.stderr.contains("group Bad Name: name: "), "{}", refused.stderr);
    let listed = h.cli(&["groups", "list"]).await.stdout_text();
    assert!(listed.contains("db-1\t1\t2\t2h\t-") && listed.contains("db-2\t0\t-\t-\t10m"), "{listed}");

    // db-1 down to one at a time and no window, db-3 new; the dry run changes nothing.
    std::fs::write(
        &file,
        with_groups("[{name: db-1, max_concurrent: 1}, {name: db-2, jitter: 10m}, {name: db-3, window: 1h}]"),
    )
    .unwrap();
    let planned = apply(&h, &file, &["--dry-run"]).await;
    planned.assert_success();
    let plan = planned.stdout_text();
    assert!(plan.contains("~ group db-1 (change)\n    max_concurrent: 2 -> 1\n    window: 2h -> -\n"), "{plan}");
    assert!(plan.contains("+ group db-3 (add)\n    window: - -> 1h\n"), "{plan}");
    assert!(!plan.contains("group db-2"), "an unchanged group is not listed: {plan}");
    assert_eq!(h.cli(&["groups", "list"]).await.stdout_text(), listed, "a dry run changes nothing");
    apply(&h, &file, &[]).await.assert_success();
    let listed = h.cli(&["groups", "list"]).await.stdout_text();
    assert!(listed.contains("db-1\t1\t1\t-\t-") && listed.contains("db-3\t0\t-\t1h\t-"), "{listed}");

    // Pruned: a group the file leaves out loses its settings.
    std::fs::write(&file, with_groups("[{name: db-1, max_concurrent: 1}]")).unwrap();
    let pruned = apply(&h, &file, &["--prune"]).await;
    pruned.assert_success();
    assert!(pruned.stdout_text().contains("- group db-2 (remove)\n    jitter: 10m -> -\n"), "{}", pruned.stdout_text());
    let listed = h.cli(&["groups", "list"]).await.stdout_text();
    assert!(!listed.contains("db-2") && !listed.contains("db-3"), "{listed}");
    assert!(listed.contains("db-1\t1\t1\t-\t-"), "{listed}");
}
