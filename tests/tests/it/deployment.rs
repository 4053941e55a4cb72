//! The deployment id: generated once, printed by `serve` at every start, settable, and never
//! silently replaced by a different one.

use e2e::harness::Harness;
use e2e::postgres::TestPostgres;

/// The id `serve` printed before listening.
async fn printed_id(h: &Harness) -> String {
    let mut served = h.serve(&[]).await;
    let line = served
        .printed
        .iter()
        .find_map(|l| l.strip_prefix("deployment id: "))
        .unwrap_or_else(|| panic!("serve prints the deployment id: {:?}", served.printed))
        .to_owned();
    served.terminate().await;
    line.split(' ').next().expect("an id").to_owned()
}

async fn the_id_is_kept_and_a_different_one_is_refused(mut h: Harness) {
    let id = printed_id(&h).await;
    assert_eq!(orchestrator::deployment::validate(&id), Ok(()), "{id}");
    assert_eq!(printed_id(&h).await, id, "the same id at every start");

    h.set("DEPLOYMENT_ID", &id);
    h.cli(&["apps", "list"]).await.assert_success();

    h.set("DEPLOYMENT_ID", "someone-else");
    let refused = h.cli(&["apps", "list"]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("DEPLOYMENT_ID=\"someone-else\" does not match"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("set DEPLOYMENT_ID={id}")), "{}", refused.stderr);

    h.set("DEPLOYMENT_ID", "prod eu");
    let invalid = h.cli(&["apps", "list"]).await;
    assert!(!invalid.status.success());
    assert!(invalid.stderr.contains("' ' is not allowed"), "{}", invalid.stderr);

    h.set("DEPLOYMENT_ID", "");
    assert_eq!(printed_id(&h).await, id, "nothing changed the stored id");
}

#[tokio::test]
async fn the_deployment_id_is_generated_once_and_a_different_one_is_refused() {
    the_id_is_kept_and_a_different_one_is_refused(Harness::local().await).await;
}

#[tokio::test]
async fn the_deployment_id_is_generated_once_and_a_different_one_is_refused_on_postgres() {
    let Some(pg) =
        TestPostgres::from_env("the_deployment_id_is_generated_once_and_a_different_one_is_refused_on_postgres")
    else {
        return;
    };
    let database = pg.create_database("orch_deployment");
    the_id_is_kept_and_a_different_one_is_refused(Harness::postgres(pg.url_for(&database)).await).await;
    pg.drop_database(&database);
}

#[tokio::test]
async fn a_new_database_takes_the_configured_deployment_id() {
    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "prod-eu.1");
    assert_eq!(printed_id(&h).await, "prod-eu.1");
    h.set("DEPLOYMENT_ID", "");
    assert_eq!(printed_id(&h).await, "prod-eu.1", "kept once set");
}
