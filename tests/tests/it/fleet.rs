//! A fleet of apps, black-box: groups and tags through the API, the form and the CLI; the
//! filters of `GET /api/v1/apps` and `orchestrator apps list`; bulk actions through the API, the
//! dashboard's form and the CLI — each change audited per app, a bad batch refused whole.

use e2e::fleet::Fleet;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::postgres::TestPostgres;
use e2e::web::{element_text, get_json, location, sign_in};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use orchestrator::db::entities::{app, audit_entry};

fn names(list: &Value) -> Vec<String> {
    list["apps"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
}

async fn post_json(url: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = e2e::web::client().post(url).bearer_auth(token).json(body).send().await.expect("POST");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

/// `name` -> enabled, for every app.
async fn enabled(h: &Harness) -> std::collections::BTreeMap<String, bool> {
    app::Entity::find().all(&h.db().await).await.unwrap().into_iter().map(|a| (a.name, a.enabled)).collect()
}

async fn audited(h: &Harness, action: &str) -> Vec<String> {
    let rows =
        audit_entry::Entity::find().filter(audit_entry::Column::Action.eq(action)).all(&h.db().await).await.unwrap();
    let mut targets: Vec<String> = rows.into_iter().filter_map(|r| r.target).collect();
    targets.sort();
    targets
}

#[tokio::test]
async fn groups_and_tags_are_validated_stored_and_shown_through_the_api_and_the_form() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("labels").await;
    let apps = format!("{}/api/v1/apps", served.url);
    let mut body = json!({
        "name": "erp", "url": "http://127.0.0.1:9", "token": "t", "schedule": "0 3 * * *", "folder": "erp",
        "group": "DB-1", "tags": ["Prod", "odoo", "prod"], "no_check": true,
    });
    let (status, created) = post_json(&apps, &token, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((&created["group"], &created["tags"]), (&json!("db-1"), &json!(["odoo", "prod"])));
    // A bad tag and a bad group: refused, each field named, nothing stored.
    body["name"] = json!("crm");
    body["group"] = json!("db host");
    body["tags"] = json!(["ok", "not/ok"]);
    let (status, refused) = post_json(&apps, &token, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let text = refused.to_string();
    assert!(text.contains("group") && text.contains("tags") && text.contains("1 to 40"), "{text}");
    assert_eq!(get_json(&apps, &token).await["total"], 1);
    // The form shows them, takes them, and says what is wrong in the page's language.
    let form = session.page("/apps/erp/edit").await;
    assert!(form.contains("name=\"group\" value=\"db-1\"") && form.contains("value=\"odoo, prod\""), "{form}");
    let page = session.page("/apps/erp").await;
    assert!(element_text(&page, "app-group").is_some() && page.contains("href=\"/?tag=odoo\""));
    let mut fields = vec![
        ("name", "erp"),
        ("url", "http://127.0.0.1:9"),
        ("schedule_preset", "0 3 * * *"),
        ("time_zone", "UTC"),
        ("folder", "erp"),
        ("keep_last", "7"),
        ("priority", "normal"),
        ("enabled", "on"),
        ("group", "db-2"),
        ("tags", "Bad Tag!"),
        ("action", "save"),
    ];
    let refused = session.post("/apps/erp/edit", &fields).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(element_text(&html, "tags-error").unwrap().contains("1 to 40 lowercase"), "{html}");
    fields.retain(|(k, _)| *k != "tags");
    fields.push(("tags", "staging"));
    let saved = session.post("/apps/erp/edit", &fields).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let shown = get_json(&format!("{apps}/erp"), &token).await;
    assert_eq!((&shown["group"], &shown["tags"]), (&json!("db-2"), &json!(["staging"])));
    // The same error in Spanish.
    fields.retain(|(k, _)| *k != "group");
    fields.push(("group", "a b"));
    let es = e2e::web::client()
        .post(format!("{}/apps/erp/edit", served.url))
        .header("cookie", format!("{}; lang=es", session.cookie))
        .form(&[fields.as_slice(), &[("csrf", session.csrf.as_str())]].concat())
        .send()
        .await
        .unwrap();
    let html = es.text().await.unwrap();
    assert!(element_text(&html, "group-error").unwrap().contains("use de 1 a 40 letras"), "{html}");
}

#[tokio::test]
async fn the_api_filters_apps_by_tag_group_and_state_and_lists_failing_apps_first() {
    filters_story(Harness::local().await).await;
}

#[tokio::test]
async fn the_api_filters_apps_the_same_on_postgres() {
    let Some(pg) = TestPostgres::from_env("the_api_filters_apps_the_same_on_postgres") else { return };
    let database = pg.create_database("fleet_filters");
    filters_story(Harness::postgres(pg.url_for(&database)).await).await;
    pg.drop_database(&database);
}

async fn filters_story(h: Harness) {
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("filters").await;
    let fleet = Fleet { count: 30 };
    fleet.seed(&served.url, &token, served.context()).await;
    let list = |query: &str| {
        let url = format!("{}/api/v1/apps?per_page=500&{query}", served.url);
        let token = token.clone();
        async move { get_json(&url, &token).await }
    };

    let all = list("").await;
    assert_eq!(all["total"], 30);
    let failing = fleet.names_where(Fleet::failing);
    assert_eq!(names(&all)[..failing.len()], failing[..], "failing apps come first");
    assert_eq!(all["states"]["failing"], failing.len());
    assert_eq!(all["states"]["never_run"], 30 - failing.len());
    assert_eq!(all["states"]["paused"], 0);

    let odoo = list("tag=odoo").await;
    let mut got = names(&odoo);
    got.sort();
    assert_eq!(got, fleet.names_where(|i| i.is_multiple_of(2)));
    let mut got = names(&list("tag=odoo&group=db-2&state=failing").await);
    got.sort();
    assert_eq!(got, fleet.names_where(|i| i.is_multiple_of(2) && i % 4 == 2 && Fleet::failing(i)));
    assert_eq!(
        names(&list("state=never_run&q=app-00").await).len(),
        10 - fleet.names_where(|i| i < 10 && Fleet::failing(i)).len()
    );
    // A tag with `_` in it is matched exactly, not as a LIKE wildcard.
    let edit = e2e::web::client()
        .patch(format!("{}/api/v1/apps/app-001", served.url))
        .bearer_auth(&token)
        .json(&json!({"tags": ["a_b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), StatusCode::OK);
    assert_eq!(names(&list("tag=axb").await), Vec::<String>::new());
    assert_eq!(names(&list("tag=a_b").await), ["app-001"]);

    // A run waiting in the queue makes its app running; an app without a verified copy for
    // longer than its schedule allows is stale.
    let db = h.db().await;
    let app_003 = app::Entity::find().filter(app::Column::Name.eq("app-003")).one(&db).await.unwrap().unwrap();
    orchestrator::backup::lifecycle::create(&db, app_003.id, orchestrator::backup::lifecycle::Trigger::Manual)
        .await
        .unwrap();
    assert_eq!(names(&list("state=running").await), ["app-003"]);
    let ten_days_ago = orchestrator::db::now_ms() - 10 * 24 * 3600 * 1000;
    app::Entity::update_many()
        .col_expr(app::Column::UpdatedAt, sea_orm::sea_query::Expr::value(ten_days_ago))
        .filter(app::Column::Name.is_in(["app-004", "app-005"]))
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(names(&list("state=stale").await), ["app-004", "app-005"]);
    assert_eq!(names(&list("state=stale&tag=odoo").await), ["app-004"]);

    let (status, body) = e2e::web::get_with_token(&format!("{}/api/v1/apps?state=sleepy", served.url), &token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("state") && body.contains("never_run"), "{body}");
}

#[tokio::test]
async fn bulk_actions_through_the_api_change_and_audit_each_app_and_a_bad_batch_changes_nothing() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("bulk").await;
    let fleet = Fleet { count: 20 };
    fleet.seed(&served.url, &token, served.context()).await;
    let bulk = format!("{}/api/v1/apps/bulk", served.url);

    // Refused whole: a bad schedule, a bad retention, an unknown app; nothing changes.
    let before = app::Entity::find().all(&h.db().await).await.unwrap();
    for (body, field) in [
        (json!({"filter": {"tag": "odoo"}, "action": "set_schedule", "schedule": "0 3 * *"}), "schedule"),
        (json!({"apps": ["app-001"], "action": "set_retention", "keep_last": 0}), "keep_last"),
        (json!({"apps": ["app-001", "nope"], "action": "pause"}), "apps"),
        (json!({"apps": ["app-001"], "filter": {}, "action": "pause"}), "apps"),
        (json!({"apps": ["app-001"], "action": "add_tags", "tags": ["Not Ok!"]}), "tags"),
        (json!({"apps": ["app-001"], "action": "explode"}), "action"),
    ] {
        let (status, answer) = post_json(&bulk, &token, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(answer.to_string().contains(field), "{body}: {answer}");
    }
    assert_eq!(app::Entity::find().all(&h.db().await).await.unwrap(), before, "a refused batch changes nothing");

    // Pause the failing odoo apps, by filter.
    let (status, report) =
        post_json(&bulk, &token, &json!({"filter": {"tag": "odoo", "state": "failing"}, "action": "pause"})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let picked = fleet.names_where(|i| i.is_multiple_of(2) && Fleet::failing(i));
    assert_eq!(report["changed"], picked.len(), "{report}");
    let state = enabled(&h).await;
    for (name, on) in &state {
        assert_eq!(*on, !picked.contains(name), "{name}");
    }
    assert_eq!(audited(&h, "app.pause").await, picked);
    // Again: already paused, nothing to do; one named app resumed.
    let (_, again) = post_json(&bulk, &token, &json!({"apps": picked, "action": "pause"})).await;
    assert_eq!((again["changed"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(picked.len() as u64)));
    let (_, resumed) = post_json(&bulk, &token, &json!({"apps": [picked[0]], "action": "resume"})).await;
    assert_eq!(resumed["results"][0]["result"], "changed");
    assert_eq!(audited(&h, "app.resume").await, [picked[0].clone()]);

    // Schedule, retention, tags and group on a group of apps; each app audited.
    let group = json!({"group": "db-1"});
    let in_group = fleet.names_where(|i| i % 4 == 1);
    for body in [
        json!({"filter": group, "action": "set_schedule", "schedule": "30 2 * * *"}),
        json!({"filter": group, "action": "set_retention", "keep_last": 3, "keep_daily": 7}),
        json!({"filter": group, "action": "add_tags", "tags": ["critical"]}),
        json!({"filter": group, "action": "remove_tags", "tags": ["prod"]}),
        json!({"filter": {"tag": "critical"}, "action": "set_group", "group": "db-9"}),
    ] {
        let (status, report) = post_json(&bulk, &token, &body).await;
        assert_eq!(status, StatusCode::OK, "{body}: {report}");
        assert_eq!(report["failed"], 0, "{body}: {report}");
    }
    let shown = get_json(&format!("{}/api/v1/apps/{}", served.url, in_group[0]), &token).await;
    assert_eq!(shown["schedule"], "30 2 * * *");
    assert_eq!((&shown["retention"]["keep_last"], &shown["retention"]["keep_daily"]), (&json!(3), &json!(7)));
    assert_eq!(shown["tags"], json!(["critical", "wp"]));
    assert_eq!(shown["group"], "db-9");
    let updates = audited(&h, "app.update").await;
    for (i, name) in (0..fleet.count).filter(|i| i % 4 == 1).zip(&in_group) {
        // Apps without `prod` had nothing to remove: four changes, not five.
        let changes = if Fleet::tags(i).contains(&"prod") { 5 } else { 4 };
        assert_eq!(updates.iter().filter(|n| *n == name).count(), changes, "{name}: {updates:?}");
    }

    // Test now on two apps queues one run each, through the Test now path.
    let (status, report) =
        post_json(&bulk, &token, &json!({"apps": ["app-002", "app-003"], "action": "test_now"})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report["results"].as_array().unwrap().iter().all(|r| r["run_id"].as_i64().is_some()), "{report}");
    assert_eq!(audited(&h, "run.start").await, ["app-002", "app-003"]);
}

#[tokio::test]
async fn the_dashboard_bulk_form_pauses_the_ticked_apps_and_refuses_a_bad_schedule_whole() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("form").await;
    Fleet { count: 6 }.seed(&served.url, &token, served.context()).await;
    let page = session.page("/?tag=odoo&state=failing").await;
    assert_eq!(element_text(&page, "count-failing").as_deref(), Some("1"), "app-000 is the only failing odoo app");
    let ticked = [("action", "pause"), ("app", "app-002"), ("app", "app-004"), ("filter_tag", "odoo"), ("q", "")];
    let done = session.post("/apps/bulk", &ticked).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let to = location(&done);
    assert!(to.starts_with("/?tag=odoo&done=pause&changed=2"), "{to}");
    let after = session.page(&to).await;
    assert_eq!(element_text(&after, "bulk-line").as_deref(), Some("2 apps paused"));
    let state = enabled(&h).await;
    assert_eq!(
        state.iter().filter(|(_, on)| !**on).map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["app-002", "app-004"]
    );

    let bad =
        session.post("/apps/bulk", &[("action", "set_schedule"), ("schedule", "nope"), ("all_matching", "on")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(element_text(&bad.text().await.unwrap(), "bulk-refused").is_some());
    let schedules: Vec<String> =
        app::Entity::find().all(&h.db().await).await.unwrap().into_iter().map(|a| a.schedule).collect();
    assert!(schedules.iter().all(|s| s == "0 3 * * *"), "{schedules:?}");
    // Without the session's CSRF token, nothing is done.
    let forged = session.post_raw("/apps/bulk", &[("action", "resume"), ("all_matching", "on"), ("csrf", "x")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(enabled(&h).await, state);
}

#[tokio::test]
async fn the_cli_lists_apps_by_filter_and_pauses_them_in_bulk() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("cli").await;
    let fleet = Fleet { count: 12 };
    fleet.seed(&served.url, &token, served.context()).await;

    let listed = h.cli(&["apps", "list", "--tag", "odoo", "--state", "failing"]).await;
    listed.assert_success();
    let text = listed.stdout_text();
    let rows: Vec<&str> = text.lines().skip(1).map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(rows, fleet.names_where(|i| i.is_multiple_of(2) && Fleet::failing(i)), "{text}");
    assert!(text.lines().nth(1).unwrap().contains("failing"), "{text}");

    let refused = h.cli(&["apps", "bulk", "--tag", "wp", "set-schedule", "0 3 * *"]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("schedule") && refused.stderr.contains("nothing was saved"), "{}", refused.stderr);
    let nothing = h.cli(&["apps", "bulk", "pause"]).await;
    assert!(!nothing.status.success() && nothing.stderr.contains("--all"), "{}", nothing.stderr);

    let paused = h.cli(&["apps", "bulk", "--tag", "wp", "--group", "db-1", "pause"]).await;
    paused.assert_success();
    let expected = fleet.names_where(|i| i % 2 == 1 && i % 4 == 1);
    assert!(paused.stdout_text().contains(&format!("pause: {} changed", expected.len())), "{}", paused.stdout_text());
    let state = enabled(&h).await;
    for (name, on) in &state {
        assert_eq!(*on, !expected.contains(name), "{name}");
    }
    assert_eq!(audited(&h, "app.pause").await, expected);
    let tagged = h.cli(&["apps", "bulk", "--app", "app-000", "--app", "app-001", "add-tags", "legacy"]).await;
    tagged.assert_success();
    let shown = h.cli(&["apps", "show", "app-001"]).await.stdout_text();
    assert!(shown.contains("tags: legacy, prod, wp"), "{shown}");
}
