//! A fleet of 200 apps in real headless Chromium: the operator filters the dashboard by tag,
//! then by state through the counts at the top, selects every app matching the filter and
//! pauses them in bulk (exactly those end up paused), then ticks two cards and resumes them.

use e2e::browser::Browser;
use e2e::fleet::Fleet;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use serde_json::Value;

/// The names on the dashboard's cards, in order.
const CARD_NAMES: &str = "return Array.from(document.querySelectorAll('.app-card')).map((c) => c.dataset.app);";

async fn card_names(browser: &Browser) -> Vec<String> {
    match browser.execute(CARD_NAMES, &[]).await {
        Value::Array(names) => names.into_iter().map(|n| n.as_str().unwrap_or_default().to_owned()).collect(),
        other => panic!("card names: {other}"),
    }
}

#[tokio::test]
async fn an_operator_filters_two_hundred_apps_by_tag_and_state_and_pauses_exactly_the_matching_ones() {
    let Some(browser) = Browser::start("fleet_filter_and_bulk_pause").await else { return };
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = e2e::web::sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("fleet").await;
    let fleet = Fleet { count: 200 };
    fleet.seed(&served.url, &token, served.context()).await;
    let failing = fleet.names_where(Fleet::failing);
    let target = fleet.names_where(|i| i.is_multiple_of(2) && Fleet::failing(i));

    browser.goto(&format!("{}/", served.url)).await;
    browser.wait_for("#login-form").await;
    browser.fill("#user", ADMIN_USER).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#register-app").await;
    assert_eq!(browser.text("#count-failing").await, failing.len().to_string());
    assert_eq!(browser.text("#count-never_run").await, (200 - failing.len()).to_string());
    let first_page = card_names(&browser).await;
    assert_eq!(first_page.len(), 24, "24 cards a page");
    assert_eq!(first_page[..failing.len().min(24)], failing[..failing.len().min(24)], "failing apps first");
    browser.screenshot("fleet dashboard").await;

    // Page by page through the pager: every app once, the last page short, no page past it.
    let mut seen = first_page.clone();
    for n in 2..=9 {
        let before = browser.current_url().await;
        browser.click("a[rel=next]").await;
        for _ in 0..100 {
            if browser.current_url().await != before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        browser.wait_for_text(".pager span", &format!("Page {n} of 9 (200 apps)")).await;
        assert!(browser.exists("a[rel=prev]").await, "page {n} links back");
        seen.extend(card_names(&browser).await);
    }
    assert_eq!(card_names(&browser).await.len(), 200 - 8 * 24, "the last page holds the rest");
    assert!(!browser.exists("a[rel=next]").await, "no page after the last");
    let distinct: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (200, 200), "every app on exactly one page");
    browser.goto(&format!("{}/", served.url)).await;
    browser.wait_for("#apply-filter").await;

    // By tag, through the filter form.
    browser.select("#filter-tag", "odoo").await;
    browser.click("#apply-filter").await;
    browser.wait_for("#clear-filter").await;
    assert!(browser.current_url().await.contains("tag=odoo"), "the filter is in the address");
    assert_eq!(browser.text("#count-failing").await, target.len().to_string());

    // By state, through its count.
    browser.click("a.state-failing").await;
    browser.wait_for("a.state-failing.current").await;
    let url = browser.current_url().await;
    assert!(url.contains("tag=odoo") && url.contains("state=failing"), "{url}");
    assert_eq!(card_names(&browser).await, target);
    browser.screenshot("failing odoo apps").await;

    // Every app matching the filter, paused in bulk.
    browser.click("#select-all-matching").await;
    browser.select("#bulk-action", "pause").await;
    browser.click("#bulk-apply").await;
    let line = browser.wait_for_text("#bulk-line", "apps paused").await;
    assert_eq!(line, format!("{} apps paused", target.len()));
    assert!(browser.current_url().await.contains("state=failing"), "the filtered view stays");
    assert_eq!(browser.text("#count-paused").await, target.len().to_string());
    browser.screenshot("paused in bulk").await;

    assert_eq!(paused_apps(&h).await, target, "exactly the failing odoo apps are paused");

    // Two ticked cards, resumed.
    browser.click(&format!(".app-card[data-app=\"{}\"] .select-app", target[0])).await;
    browser.click(&format!(".app-card[data-app=\"{}\"] .select-app", target[1])).await;
    browser.select("#bulk-action", "resume").await;
    browser.click("#bulk-apply").await;
    browser.wait_for_text("#bulk-line", "2 apps resumed").await;
    assert_eq!(paused_apps(&h).await, target[2..], "the two ticked apps are resumed, the others stay paused");
}

async fn paused_apps(h: &Harness) -> Vec<String> {
    use sea_orm::EntityTrait;
    let apps = orchestrator::db::entities::app::Entity::find().all(&h.db().await).await.unwrap();
    assert_eq!(apps.len(), 200);
    let mut paused: Vec<String> = apps.iter().filter(|a| !a.enabled).map(|a| a.name.clone()).collect();
    paused.sort();
    paused
}
