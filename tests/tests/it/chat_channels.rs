//! Slack, Teams, Discord, Telegram, ntfy and Gotify channels, black-box: `serve` as a process,
//! channels added in the UI and through the API, and doubles of the services that check each
//! request as the service's documentation says and answer as the service does
//! (`e2e::chat_receivers`). A real failed backup reaches all six; the test button says what
//! each answered; a pause a service asks for is honoured; Telegram's token never shows.

use std::time::Duration;

use e2e::chat_receivers::{Receiver, discord, gotify, ntfy, slack, teams, telegram};
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{WebSession, element_text, element_words, follow_to_end, location, sign_in};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn api(method: Method, url: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = e2e::web::client().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        },
    )
}

/// Adds a channel through the API; its id.
async fn add(base: &str, token: &str, body: Value) -> i64 {
    let (status, created) = api(Method::POST, &format!("{base}/api/v1/notification-channels"), token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().unwrap()
}

/// Presses "Send a test notification" through the API: `(sent, error)`.
async fn test_channel(base: &str, token: &str, id: i64) -> (bool, String) {
    let (status, tested) =
        api(Method::POST, &format!("{base}/api/v1/notification-channels/{id}/test"), token, None).await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    (tested["sent"].as_bool().unwrap(), tested["error"].as_str().unwrap_or_default().to_owned())
}

async fn add_in_ui(session: &WebSession, fields: &[(&str, &str)]) {
    let response = session.post("/notifications", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "channel {fields:?} was refused");
}

fn slack_url(r: &Receiver) -> String {
    format!("{}{}", r.url, slack::PATH)
}

fn teams_url(r: &Receiver) -> String {
    format!("{}{}?{}", r.url, teams::path(), teams::QUERY)
}

fn discord_url(r: &Receiver) -> String {
    format!("{}{}", r.url, discord::path())
}

async fn pending_and_failed(base: &str, token: &str) -> (i64, i64) {
    let stats = e2e::web::get_json(&format!("{base}/api/v1/stats"), token).await;
    (stats["notifications_pending"].as_i64().unwrap(), stats["notifications_failed"].as_i64().unwrap())
}

#[tokio::test]
async fn a_failed_backup_reaches_slack_teams_discord_telegram_ntfy_and_gotify() {
    let h = Harness::sqlite().await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 21).await;
    h.add_app("billing", &broken.url, &h.folder("billing"), &[]).await;
    let slack = slack::start(Default::default()).await;
    let teams = teams::start().await;
    let discord = discord::start(Default::default()).await;
    let telegram = telegram::start(Default::default()).await;
    let ntfy = ntfy::start(ntfy::Options { token: Some("tk_publisher0123456789abcdefgh".into()) }).await;
    let gotify = gotify::start().await;
    let served =
        h.serve(&[("MAX_ATTEMPTS", "1"), ("NOTIFY_RETRY_SECS", "1"), ("PUBLIC_URL", "http://backups.test")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("kinds").await;

    // Slack and Telegram through the form, the others through the API.
    add_in_ui(&session, &[("kind", "slack"), ("name", "slack"), ("url", &slack_url(&slack)), ("on_failure", "on")])
        .await;
    let chat = telegram::CHAT.to_string();
    add_in_ui(
        &session,
        &[
            ("kind", "telegram"),
            ("name", "telegram"),
            ("telegram_bot_token", telegram::TOKEN),
            ("telegram_chat_id", &chat),
            ("telegram_api_url", &telegram.url),
            ("on_failure", "on"),
        ],
    )
    .await;
    let base = served.url.as_str();
    add(base, &token, json!({"kind": "teams", "name": "teams", "url": teams_url(&teams), "events": ["failure"]})).await;
    add(
        base,
        &token,
        json!({"kind": "discord", "name": "discord", "url": discord_url(&discord), "events": ["failure"]}),
    )
    .await;
    let ntfy_channel = json!({"kind": "ntfy", "name": "ntfy", "ntfy_server": ntfy.url, "ntfy_topic": "backups-7f3a9c",
                              "ntfy_token": "tk_publisher0123456789abcdefgh", "events": ["failure"]});
    add(base, &token, ntfy_channel).await;
    let gotify_channel = json!({"kind": "gotify", "name": "gotify", "gotify_server": gotify.url,
                                "gotify_token": gotify::APP_TOKEN, "events": ["failure"]});
    add(base, &token, gotify_channel).await;

    let queued = session.post("/apps/billing/run", &[]).await;
    let run_url = location(&queued);
    let run: i64 = run_url.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(follow_to_end(session.get(&format!("{run_url}/events")).await, WAIT).await["status"], "failed");
    let link = format!("http://backups.test/runs/{run}");
    let reason = "the database is unreachable";

    let shown = &slack.wait_shown(1, WAIT).await[0];
    assert!(shown["fallback"].as_str().unwrap().starts_with("billing: backup failed"), "{shown}");
    let first = shown["lines"][0].as_str().unwrap();
    assert!(first.starts_with("billing: backup failed") && first.contains(reason), "{shown}");
    assert!(shown["lines"].as_array().unwrap().iter().any(|l| l == "App: billing"), "{shown}");
    assert_eq!(shown["links"], json!([{"url": link, "label": "Open in the backup orchestrator"}]));

    let shown = &teams.wait_shown(1, WAIT).await[0];
    assert!(shown["texts"][0].as_str().unwrap().starts_with("billing: backup failed"), "{shown}");
    assert!(shown["texts"][1].as_str().unwrap().contains(reason), "{shown}");
    assert!(shown["facts"].as_array().unwrap().contains(&json!(["App", "billing"])), "{shown}");
    assert_eq!(shown["actions"][0]["url"], link);

    let shown = &discord.wait_shown(1, WAIT).await[0];
    let embed = &shown["embeds"][0];
    assert!(embed["title"].as_str().unwrap().starts_with("billing: backup failed"), "{shown}");
    assert!(embed["description"].as_str().unwrap().contains(reason), "{shown}");
    assert_eq!(embed["url"], link);
    assert_eq!(shown["allowed_mentions"], json!({"parse": []}), "a reason never pings anyone");

    let shown = &telegram.wait_shown(1, WAIT).await[0];
    assert_eq!(shown["chat_id"], chat);
    assert!(shown["bold"][0].as_str().unwrap().starts_with("billing: backup failed"), "{shown}");
    assert!(shown["text"].as_str().unwrap().contains(reason), "{shown}");
    assert_eq!(shown["links"], json!([{"text": "Open in the backup orchestrator", "url": link}]));
    assert_eq!(shown["preview_disabled"], true);

    let shown = &ntfy.wait_shown(1, WAIT).await[0];
    assert_eq!(shown["topic"], "backups-7f3a9c");
    assert!(shown["title"].as_str().unwrap().starts_with("billing: backup failed"), "{shown}");
    assert!(shown["message"].as_str().unwrap().contains(reason), "{shown}");
    assert_eq!((shown["priority"].clone(), shown["tags"].clone()), (json!(4), json!(["rotating_light"])));
    assert_eq!(shown["click"], link);
    let published = ntfy.exchanges().into_iter().find(|e| e.shown.is_some()).unwrap();
    assert_eq!(published.path, "/", "JSON is published to the server's root");

    let shown = &gotify.wait_shown(1, WAIT).await[0];
    assert!(shown["title"].as_str().unwrap().starts_with("billing: backup failed"), "{shown}");
    assert!(shown["message"].as_str().unwrap().contains(reason), "{shown}");
    assert_eq!(shown["priority"], 8);
    assert_eq!(shown["extras"]["client::notification"]["click"]["url"], link);
    let sent = gotify.exchanges().into_iter().find(|e| e.shown.is_some()).unwrap();
    assert_eq!((sent.header("x-gotify-key"), sent.query.as_str()), (Some(gotify::APP_TOKEN), ""), "never in the URL");

    // Each was sent once, at the first attempt.
    let deadline = tokio::time::Instant::now() + WAIT;
    while pending_and_failed(base, &token).await != (0, 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries left: {:?}",
            pending_and_failed(base, &token).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for receiver in [&slack, &teams, &discord, &telegram, &ntfy, &gotify] {
        assert_eq!(receiver.exchanges().len(), 1, "{:#?}", receiver.exchanges());
    }
}

#[tokio::test]
async fn the_test_button_says_what_each_service_answered_and_refusals_are_not_retried() {
    let h = Harness::sqlite().await;
    let slack = slack::start(slack::Options { archived: true, ..Default::default() }).await;
    let teams = teams::start().await;
    let discord = discord::start(Default::default()).await;
    let telegram = telegram::start(Default::default()).await;
    let ntfy = ntfy::start(ntfy::Options { token: Some("tk_publisher0123456789abcdefgh".into()) }).await;
    let gotify = gotify::start().await;
    let served = h.serve(&[("NOTIFY_RETRY_SECS", "1")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("kinds").await;
    let base = served.url.as_str();

    let refused = [
        (
            json!({"kind": "slack", "name": "archived", "url": slack_url(&slack)}),
            "127.0.0.1 answered 410 Gone: channel_is_archived (the channel is archived",
        ),
        (
            json!({"kind": "teams", "name": "teams", "url": format!("{}{}?api-version=2016-06-01&sig=stale", teams.url, teams::path())}),
            "127.0.0.1 answered 401 Unauthorized: DirectApiInvalidAuthorizationSignature",
        ),
        (
            json!({"kind": "discord", "name": "discord", "url": format!("{}/api/webhooks/{}/revoked-token", discord.url, discord::ID)}),
            "127.0.0.1 answered 401 Unauthorized: Invalid Webhook Token (code 50027) (the webhook was deleted",
        ),
        (
            json!({"kind": "telegram", "name": "telegram", "telegram_bot_token": telegram::TOKEN,
                   "telegram_chat_id": "-100999", "telegram_api_url": telegram.url}),
            "127.0.0.1 answered 400 Bad Request: Bad Request: chat not found (the bot does not know this chat",
        ),
        (
            json!({"kind": "ntfy", "name": "ntfy", "ntfy_server": ntfy.url, "ntfy_topic": "backups-7f3a9c"}),
            "127.0.0.1 answered 403 Forbidden: forbidden (code 40301) (the topic is protected",
        ),
        (
            json!({"kind": "gotify", "name": "gotify", "gotify_server": gotify.url, "gotify_token": gotify::CLIENT_TOKEN}),
            "127.0.0.1 answered 403 Forbidden: you are not allowed to access this api (this token may not send messages",
        ),
    ];
    for (body, expected) in refused {
        let kind = body["kind"].clone();
        let id = add(base, &token, body).await;
        let (sent, error) = test_channel(base, &token, id).await;
        assert!(!sent && error.starts_with(expected), "{kind}: {error}");
        // The UI says the same.
        let page = session.post(&format!("/notifications/{id}/test"), &[]).await.text().await.unwrap();
        let message = element_words(&page, "test-result").unwrap();
        assert!(message.contains(expected), "{kind}: {message}");
    }
    for receiver in [&slack, &teams, &discord, &telegram, &ntfy, &gotify] {
        assert_eq!(receiver.exchanges().len(), 2, "one request per press: {:#?}", receiver.exchanges());
        assert!(receiver.shown().is_empty());
    }

    // Fixed, each one is sent.
    let fixes = [
        (2, json!({"url": teams_url(&teams)})),
        (3, json!({"url": discord_url(&discord)})),
        (4, json!({"telegram_chat_id": telegram::CHAT.to_string()})),
        (5, json!({"ntfy_token": "tk_publisher0123456789abcdefgh"})),
        (6, json!({"gotify_token": gotify::APP_TOKEN})),
    ];
    for (id, patch) in fixes {
        let url = format!("{base}/api/v1/notification-channels/{id}");
        let (status, changed) = api(Method::PATCH, &url, &token, Some(patch)).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(test_channel(base, &token, id).await, (true, String::new()), "channel {id}");
    }
    for receiver in [&teams, &discord, &telegram, &ntfy, &gotify] {
        let shown = receiver.shown();
        assert_eq!(shown.len(), 1, "{:#?}", receiver.exchanges());
        assert!(shown[0].to_string().contains("Test notification from the backup orchestrator"), "{}", shown[0]);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pending_and_failed(base, &token).await.0, 0, "tests are never left to the outbox");
    assert_eq!(slack.exchanges().len(), 2, "a refused test is not retried");
}

#[tokio::test]
async fn a_pause_a_service_asks_for_is_waited_out_when_short_and_reported_when_long() {
    let h = Harness::sqlite().await;
    let discord = discord::start(discord::Options { rate_limit_first: 1, retry_after: 0.4 }).await;
    let telegram = telegram::start(telegram::Options { flood_first: 1 }).await;
    let slack = slack::start(slack::Options { rate_limit_first: 1, ..Default::default() }).await;
    let patient = discord::start(discord::Options { rate_limit_first: 100, retry_after: 30.0 }).await;
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("kinds").await;
    let base = served.url.as_str();

    let discord_id =
        add(base, &token, json!({"kind": "discord", "name": "discord", "url": discord_url(&discord)})).await;
    let telegram_id = add(
        base,
        &token,
        json!({"kind": "telegram", "name": "telegram", "telegram_bot_token": telegram::TOKEN,
               "telegram_chat_id": telegram::CHAT.to_string(), "telegram_api_url": telegram.url}),
    )
    .await;
    let slack_id = add(base, &token, json!({"kind": "slack", "name": "slack", "url": slack_url(&slack)})).await;
    for (id, receiver, pause) in [(discord_id, &discord, 400), (telegram_id, &telegram, 1000), (slack_id, &slack, 1000)]
    {
        assert_eq!(test_channel(base, &token, id).await, (true, String::new()), "channel {id}");
        let exchanges = receiver.exchanges();
        assert_eq!(exchanges.iter().map(|e| e.status).collect::<Vec<_>>()[0], 429, "{exchanges:#?}");
        assert_eq!(exchanges.len(), 2);
        let waited = exchanges[1].at - exchanges[0].at;
        assert!(waited >= Duration::from_millis(pause), "waited {waited:?}, asked {pause} ms");
        assert_eq!(receiver.shown().len(), 1);
    }

    // A long pause is not waited out: the answer says it, and the outbox will try later.
    let id = add(base, &token, json!({"kind": "discord", "name": "patient", "url": discord_url(&patient)})).await;
    let (sent, error) = test_channel(base, &token, id).await;
    assert!(!sent, "{error}");
    assert!(
        error.starts_with("127.0.0.1 answered 429 Too Many Requests: You are being rate limited.")
            && error.ends_with("(it asks to wait 30 s)"),
        "{error}"
    );
    assert_eq!(patient.exchanges().len(), 1);
}

#[tokio::test]
async fn the_telegram_bot_token_never_shows_in_answers_pages_logs_or_the_api() {
    let h = Harness::sqlite().await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 22).await;
    h.add_app("billing", &broken.url, &h.folder("billing"), &[]).await;
    let telegram = telegram::start(Default::default()).await;
    let down = e2e::receivers::Recorder::start(1000).await; // answers 500, always
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let log = h.dir().join("serve.log");
    let served = h
        .serve_logging_to(
            &log,
            &[("MAX_ATTEMPTS", "1"), ("NOTIFY_RETRY_SECS", "1"), ("NOTIFY_MAX_ATTEMPTS", "2"), ("LOG", "debug")],
        )
        .await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("kinds").await;
    let base = served.url.as_str();
    // A token Telegram refuses, an API that answers 500, one that cannot be reached.
    let wrong = "7012345678:AAWrongWrongWrongWrongWrongWrongWro";
    let channels = [(wrong, telegram.url.clone()), (telegram::TOKEN, down.url.clone()), (telegram::TOKEN, closed)];
    for (n, (bot, api_url)) in channels.iter().enumerate() {
        let body = json!({"kind": "telegram", "name": format!("telegram {n}"), "telegram_bot_token": bot,
                          "telegram_chat_id": telegram::CHAT.to_string(), "telegram_api_url": api_url, "events": ["failure"]});
        add(base, &token, body).await;
    }
    let mut answers = Vec::new();
    for id in 1..=3 {
        let (sent, error) = test_channel(base, &token, id).await;
        assert!(!sent);
        answers.push(error);
        let page = session.post(&format!("/notifications/{id}/test"), &[]).await.text().await.unwrap();
        answers.push(element_words(&page, "test-result").unwrap());
    }
    assert!(
        answers[0].starts_with("127.0.0.1 answered 401 Unauthorized: Unauthorized (Telegram refused the bot token"),
        "{answers:?}"
    );
    assert!(answers[2].starts_with("127.0.0.1 answered 500 Internal Server Error"), "{answers:?}");
    assert!(answers[4].starts_with("127.0.0.1: could not connect"), "{answers:?}");
    assert!(down.received().iter().all(|r| r.path == format!("/bot{}/sendMessage", telegram::TOKEN)));

    // A real failure: retried where it may pass, logged, listed.
    let queued = session.post("/apps/billing/run", &[]).await;
    follow_to_end(session.get(&format!("{}/events", location(&queued))).await, WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while pending_and_failed(base, &token).await != (0, 9) {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", pending_and_failed(base, &token).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let secrets =
        [telegram::TOKEN, wrong, telegram::TOKEN.split_once(':').unwrap().1, wrong.split_once(':').unwrap().1];
    let (_, list) = api(Method::GET, &format!("{base}/api/v1/notification-channels"), &token, None).await;
    assert_eq!(list[0]["secrets"], json!({"telegram_bot_token": true}));
    assert_eq!(list[0]["target"], format!("chat {} via 127.0.0.1", telegram::CHAT));
    let pages = [
        session.page("/notifications").await,
        session.page("/notifications/1/edit").await,
        session.page("/audit").await,
        list.to_string(),
        answers.join("\n"),
        std::fs::read_to_string(&log).unwrap(),
    ];
    assert!(pages[5].contains("a notification could not be sent"), "the log has the attempts");
    for (n, text) in pages.iter().enumerate() {
        for secret in secrets {
            assert!(!text.contains(secret), "text {n} shows the token: {text}");
        }
    }
}

#[tokio::test]
async fn new_kinds_are_added_and_edited_in_the_ui_keeping_their_secrets() {
    let h = Harness::sqlite().await;
    let telegram = telegram::start(Default::default()).await;
    let ntfy = ntfy::start(ntfy::Options { token: Some("tk_publisher0123456789abcdefgh".into()) }).await;
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;

    let form = session.page("/notifications").await;
    for tab in ["webhook", "email", "ping", "slack", "teams", "discord", "telegram", "ntfy", "gotify"] {
        assert!(form.contains(&format!("?kind={tab}&amp;")), "a tab for {tab}");
    }
    let form = session.page("/notifications?kind=telegram").await;
    for field in ["telegram_bot_token", "telegram_chat_id", "telegram_api_url"] {
        assert!(form.contains(&format!("name=\"{field}\"")), "{field} in {form}");
    }

    // Bad input: a message per field, and the typed token is not echoed.
    let bad = [
        ("kind", "telegram"),
        ("name", "tg"),
        ("telegram_bot_token", "no-colon-token"),
        ("telegram_chat_id", "me"),
        ("on_failure", "on"),
    ];
    let refused = session.post("/notifications", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    for field in ["telegram_bot_token-error", "telegram_chat_id-error"] {
        assert!(element_text(&html, field).is_some(), "{field} shown in {html}");
    }
    assert!(!html.contains("no-colon-token"), "a typed token is not echoed back");

    let chat = telegram::CHAT.to_string();
    let good = [
        ("kind", "telegram"),
        ("name", "tg"),
        ("telegram_bot_token", telegram::TOKEN),
        ("telegram_chat_id", chat.as_str()),
        ("telegram_api_url", telegram.url.as_str()),
        ("on_failure", "on"),
    ];
    add_in_ui(&session, &good).await;
    let ntfy_fields = [
        ("kind", "ntfy"),
        ("name", "phone"),
        ("ntfy_server", ntfy.url.as_str()),
        ("ntfy_topic", "backups-7f3a9c"),
        ("ntfy_token", "tk_publisher0123456789abcdefgh"),
        ("on_failure", "on"),
    ];
    add_in_ui(&session, &ntfy_fields).await;

    // The edit form has everything but the secrets; left empty, they are kept.
    let form = session.page("/notifications/1/edit").await;
    assert_eq!(e2e::web::input_value(&form, "telegram_chat_id").as_deref(), Some(chat.as_str()));
    assert_eq!(e2e::web::input_value(&form, "telegram_api_url").as_deref(), Some(telegram.url.as_str()));
    assert!(form.contains("id=\"telegram_bot_token-kept\""), "{form}");
    assert!(!form.contains(telegram::TOKEN));
    let renamed = [
        ("kind", "telegram"),
        ("name", "on-call group"),
        ("telegram_bot_token", ""),
        ("telegram_chat_id", chat.as_str()),
        ("telegram_api_url", telegram.url.as_str()),
        ("on_failure", "on"),
    ];
    assert_eq!(session.post("/notifications/1/edit", &renamed).await.status(), StatusCode::SEE_OTHER);
    let page = session.post("/notifications/1/test", &[]).await.text().await.unwrap();
    assert_eq!(element_words(&page, "test-result").unwrap(), "The test notification to on-call group was sent.");

    let form = session.page("/notifications/2/edit").await;
    assert!(form.contains("id=\"ntfy_topic-kept\"") && form.contains("id=\"ntfy_token-kept\""), "{form}");
    assert!(!form.contains("backups-7f3a9c") && !form.contains("tk_publisher"));
    let kept = [
        ("kind", "ntfy"),
        ("name", "phone"),
        ("ntfy_server", ntfy.url.as_str()),
        ("ntfy_topic", ""),
        ("ntfy_token", ""),
        ("on_failure", "on"),
    ];
    assert_eq!(session.post("/notifications/2/edit", &kept).await.status(), StatusCode::SEE_OTHER);
    let page = session.post("/notifications/2/test", &[]).await.text().await.unwrap();
    assert_eq!(element_words(&page, "test-result").unwrap(), "The test notification to phone was sent.");
    assert_eq!(ntfy.shown()[0]["topic"], "backups-7f3a9c");

    // The list names where each goes, never a secret.
    let list = session.page("/notifications").await;
    assert!(list.contains(&format!("chat {chat} via 127.0.0.1")), "{list}");
    assert!(!list.contains(telegram::TOKEN) && !list.contains("backups-7f3a9c"));
}
