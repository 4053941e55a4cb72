//! Defects found by probing the running product, each kept closed by a test that failed before:
//! open redirects through a tab in `back=` or `next=`, a page number that overflowed and killed
//! the request, and a database file every local user could read.

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::web::{input_value, location, sign_in};
use reqwest::StatusCode;

#[tokio::test]
async fn probes_of_redirects_page_numbers_and_file_modes_find_nothing() {
    let h = Harness::sqlite().await;
    let served = h.serve(&[]).await;

    // The database file is the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = h.dir().join("orchestrator.db");
        let mode = std::fs::metadata(&file).expect("the database file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }

    // A tab, a line break or a backslash in a path of this site makes it another site's address
    // for browsers: such a `back` or `next` goes home instead.
    let client = e2e::web::client();
    for back in ["%2F%09%2Fevil.example", "%2F%0A%2Fevil.example", "%2F%5Cevil.example", "%2F%2Fevil.example"] {
        let answer = client.get(format!("{}/lang/es?back={back}", served.url)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&answer), "/", "back={back}");
        let login = client.get(format!("{}/login?next={back}", served.url)).send().await.unwrap();
        let html = login.text().await.unwrap();
        assert_eq!(input_value(&html, "next").as_deref(), Some("/"), "next={back}");
    }
    let fine = client.get(format!("{}/lang/es?back=%2Fruns%3Fstatus%3Dfailed", served.url)).send().await.unwrap();
    assert_eq!(location(&fine), "/runs?status=failed");

    // A page far past the end is an empty page, not a dead request.
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let huge = u64::MAX;
    for path in [format!("/?page={huge}"), format!("/audit?page={huge}")] {
        assert_eq!(session.get(&path).await.status(), StatusCode::OK, "{path}");
    }
    let token = session.api_token("probe").await;
    let apps = reqwest::Client::new()
        .get(format!("{}/api/v1/apps?page={huge}&per_page=500", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(apps.status(), StatusCode::OK);
    let apps: serde_json::Value = apps.json().await.unwrap();
    assert_eq!(apps["apps"], serde_json::json!([]), "{apps}");
}
