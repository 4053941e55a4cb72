//! The API answers as `orchestrator/api/openapi.yaml` says: schemathesis sends requests generated
//! from the document (valid and invalid ones, with a fixed seed and a bounded number per
//! operation) to a real `serve` with an app that has a copy and runs, and checks every status,
//! content type, header and body against it. Zero mismatches.

use std::time::{Duration, Instant};

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour};

/// True when schemathesis is installed. Outside CI its absence skips the test with a
/// reason; under `CI=true` (where `.ci/run` installs it) it is a failure.
fn schemathesis_installed() -> bool {
    let found = std::process::Command::new("st").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "schemathesis is missing: in CI nothing skips");
        eprintln!("SKIPPED the API conformance test: schemathesis is not installed (pip install schemathesis)");
    }
    found
}

/// Runs schemathesis over the operations `filter` selects and returns whether it found nothing,
/// with what it printed.
async fn conformance(url: &str, token: &str, copy: &str, filter: &[&str]) -> (bool, String) {
    let root = e2e::binaries::workspace_root();
    let cache = e2e::harness::temp_dir();
    // Generated names and ids almost never name what exists: half of them name the seeded app,
    // its copy and the first run (and token), so the answers past the 404s are checked too.
    let committed = std::fs::read_to_string(root.join("tests/tools/schemathesis.toml")).expect("the settings");
    let config = cache.join("schemathesis.toml");
    let seeded = format!(
        "{committed}\n[dictionaries.apps]\nvalues = [\"probe\"]\n[dictionaries.copies]\nvalues = [{copy:?}]\n\
         [dictionaries.ids]\nvalues = [1]\n[parameters]\n\
         \"path.name\" = {{ dictionary = \"apps\", probability = 0.5 }}\n\
         \"path.copy\" = {{ dictionary = \"copies\", probability = 0.5 }}\n\
         \"path.id\" = {{ dictionary = \"ids\", probability = 0.5 }}\n"
    );
    std::fs::write(&config, seeded).expect("write the settings");
    let mut cmd = tokio::process::Command::new("st");
    cmd.current_dir(&cache)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(root.join("orchestrator/api/openapi.yaml"))
        .args(["--url", url, "--checks", "all", "--seed", "20261207", "--max-examples", "20"])
        .args(["--workers", "2", "--request-timeout", "20", "--no-shrink", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .args(filter)
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(600), cmd.output())
        .await
        .expect("schemathesis finishes within 10 minutes")
        .expect("run schemathesis");
    let _ = std::fs::remove_dir_all(&cache);
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), printed)
}

#[tokio::test]
async fn every_answer_of_the_api_matches_its_openapi_document() {
    if !schemathesis_installed() {
        return;
    }
    let started = Instant::now();
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 2048, delay: Duration::ZERO }, 7).await;
    h.add_app("probe", &app.url, &h.folder("probe"), &[]).await;
    let copy = h.backup("probe", &[]).await;
    let served = h.serve(&[]).await;
    // May confirm dangerous actions, so restores and deletions are tried, not only refused.
    let created = h.cli(&["tokens", "create", "conformance", "--confirms"]).await;
    created.assert_success();
    let token = created.stdout_text().trim().to_owned();

    // Changing or removing users and tokens can take away the test's own token (a role lowered,
    // its owner removed, the token revoked): those operations go last, on their own.
    let own = ["/api/v1/users/{name}", "/api/v1/tokens/{id}"];
    let mut rest = Vec::new();
    let mut last = Vec::new();
    for path in own {
        rest.extend(["--exclude-path", path]);
        last.extend(["--include-path", path]);
    }
    let mut failures = Vec::new();
    for filter in [rest, last] {
        let (ok, printed) = conformance(&served.url, &token, &copy, &filter).await;
        // Its summary (operations tested, cases, warnings such as operations that only met 404s).
        let summary = printed.rfind("SUMMARY").map_or(printed.as_str(), |at| &printed[at..]);
        eprintln!("{summary}");
        if !ok {
            failures.push(printed);
        }
    }
    eprintln!("API conformance took {:.0?}", started.elapsed());
    assert!(failures.is_empty(), "the API and orchestrator/api/openapi.yaml disagree:\n{}", failures.join("\n"));
}

/// The events of a Server-Sent Events body: (name, data) pairs.
fn sse_events(body: &str) -> Vec<(String, serde_json::Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            // Keep-alive comments and the end of the body carry no event.
            let name = name?;
            let data = serde_json::from_str(&data).unwrap_or_else(|e| panic!("event data is JSON ({e}): {block}"));
            Some((name, data))
        })
        .collect()
}

/// Asserts that `value` has every field the document's schema `name` requires and no other.
fn has_shape_of(value: &serde_json::Value, name: &str) {
    let doc = orchestrator::http::api::openapi::document_value();
    let schema = &doc["components"]["schemas"][name];
    let documented: std::collections::BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} is documented"))
        .keys()
        .map(String::as_str)
        .collect();
    let required: std::collections::BTreeSet<&str> =
        schema["required"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
    let sent: std::collections::BTreeSet<&str> =
        value.as_object().expect("an object").keys().map(String::as_str).collect();
    assert!(sent.is_subset(&documented), "{name}: {sent:?} sent, {documented:?} documented");
    assert!(required.is_subset(&sent), "{name}: {required:?} required, {sent:?} sent");
}

#[tokio::test]
async fn the_events_of_a_run_have_the_documented_names_and_shapes() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 2048, delay: Duration::ZERO }, 8).await;
    h.add_app("probe", &app.url, &h.folder("probe"), &[]).await;
    h.backup("probe", &[]).await;
    let served = h.serve(&[]).await;
    let created = h.cli(&["tokens", "create", "events"]).await;
    created.assert_success();
    let token = created.stdout_text().trim().to_owned();
    let http = e2e::web::client();
    let runs: serde_json::Value =
        http.get(format!("{}/api/v1/runs", served.url)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let id = runs["runs"][0]["id"].as_i64().expect("the backup's run");
    let response = http
        .get(format!("{}/api/v1/runs/{id}/events", served.url))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_events(&response.text().await.unwrap());
    assert_eq!(events.last().map(|(n, _)| n.as_str()), Some("end"), "{events:?}");
    assert!(events.iter().any(|(n, _)| n == "log"), "{events:?}");
    for (name, data) in &events {
        match name.as_str() {
            "progress" | "end" => has_shape_of(data, "Progress"),
            "log" => data.as_array().expect("log lines").iter().for_each(|line| has_shape_of(line, "RunLogLine")),
            other => panic!("undocumented event {other}: {data}"),
        }
    }
    assert_eq!(events.last().unwrap().1["done"], true);
}
