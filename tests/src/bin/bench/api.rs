//! A running `serve` as an operator's scripts use it: an API token made on the tokens page,
//! "Test now" through the API, and waiting for runs to end.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Served};

/// A client of `/api/v1` with a bearer token.
pub(crate) struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// Signs in as the admin and makes an API token.
    pub(crate) async fn new(served: &Served) -> Api {
        let session = e2e::web::sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
        let token = session.api_token("bench").await;
        Api { base: served.url.clone(), token, http: reqwest::Client::new() }
    }

    /// GET `path` with the token.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.expect("GET")
    }

    /// "Test now": `POST /api/v1/apps/{app}/runs`; returns the run id.
    pub(crate) async fn run_now(&self, app: &str) -> i64 {
        let response = self
            .http
            .post(format!("{}/api/v1/apps/{app}/runs", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("POST run now");
        assert_eq!(response.status().as_u16(), 202, "run now is accepted");
        let run: serde_json::Value = response.json().await.expect("the run");
        run["id"].as_i64().expect("a run id")
    }
}

/// Waits until run `id` has ended (any status) and returns it.
pub(crate) async fn wait_ended(
    db: &sea_orm::DatabaseConnection,
    id: i64,
) -> orchestrator::db::entities::backup_run::Model {
    loop {
        let run = orchestrator::backup::lifecycle::get(db, id).await.expect("database").expect("the run exists");
        if run.finished_at.is_some() {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
