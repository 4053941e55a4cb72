//! A fleet of apps registered fast through the real API (they need not answer: nothing runs
//! them), with groups, tags and some failed runs, for the tests of filters and bulk actions.

use orchestrator::backup::lifecycle::{self, Failure, Outcome, Phase, Trigger};
use orchestrator::error::Retry;
use reqwest::StatusCode;

/// The shape of a seeded fleet: app `i` of `count` is `app-{i:03}`, in group `db-{i % 4}`,
/// tagged `odoo` (even `i`) or `wp` (odd), plus `prod` unless `i` is a multiple of 5; its last
/// run failed when `i` is a multiple of 7.
#[derive(Debug, Clone, Copy)]
pub struct Fleet {
    /// How many apps.
    pub count: usize,
}

impl Fleet {
    /// App `i`'s name.
    pub fn name(i: usize) -> String {
        format!("app-{i:03}")
    }

    /// App `i`'s group.
    pub fn group(i: usize) -> String {
        format!("db-{}", i % 4)
    }

    /// App `i`'s tags.
    pub fn tags(i: usize) -> Vec<&'static str> {
        let mut tags = vec![if i.is_multiple_of(2) { "odoo" } else { "wp" }];
        if !i.is_multiple_of(5) {
            tags.push("prod");
        }
        tags
    }

    /// Whether app `i`'s last run failed.
    pub fn failing(i: usize) -> bool {
        i.is_multiple_of(7)
    }

    /// The names of the apps for which `pick` holds, sorted.
    pub fn names_where(&self, pick: impl Fn(usize) -> bool) -> Vec<String> {
        (0..self.count).filter(|i| pick(*i)).map(Fleet::name).collect()
    }

    /// Registers the fleet through `POST /api/v1/apps` at `base` with the API token `token`,
    /// then records a failed run for each failing app through the service's `context`.
    pub async fn seed(&self, base: &str, token: &str, context: &orchestrator::startup::Context) {
        let http = crate::web::client();
        for i in 0..self.count {
            let body = serde_json::json!({
                "name": Fleet::name(i),
                "url": format!("http://127.0.0.1:9/app-{i}"),
                "token": "not-used",
                "schedule": "0 3 * * *",
                "folder": format!("fleet/{i}"),
                "group": Fleet::group(i),
                "tags": Fleet::tags(i),
                // Nothing answers there: the fleet is only listed, filtered and acted on.
                "no_check": true,
            });
            let response =
                http.post(format!("{base}/api/v1/apps")).bearer_auth(token).json(&body).send().await.expect("POST");
            let status = response.status();
            assert_eq!(status, StatusCode::CREATED, "registering app {i}: {}", response.text().await.unwrap());
        }
        for i in (0..self.count).filter(|i| Fleet::failing(*i)) {
            fail_a_run(context, &Fleet::name(i)).await;
        }
    }
}

/// Records a run of `name` that failed, settled as the pipeline settles one (so the app's alert
/// state says it is failing).
pub async fn fail_a_run(context: &orchestrator::startup::Context, name: &str) {
    let app = context.registry.get(name).await.expect("the app");
    let run = lifecycle::create(&context.db, app.id, Trigger::Manual).await.expect("a run");
    let failure = Failure::new(
        Phase::Capabilities,
        orchestrator::backup::reason::app(&contract_spec::client::ClientError::Unreachable {
            url: app.url.clone(),
            reason: "connection refused".into(),
        }),
        Retry::Permanent,
    );
    lifecycle::settle(&context.db, &context.notifier, &app, run.id, &Outcome::Failed(failure), None)
        .await
        .expect("the run failed");
}
