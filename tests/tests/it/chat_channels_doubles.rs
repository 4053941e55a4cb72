//! The doubles of the chat and push services refuse what the services refuse: one test each,
//! sending requests that break a documented rule, straight from the test (not through the
//! orchestrator), so a double that grew lax would fail here, not hide a defect.

use e2e::chat_receivers::{discord, gotify, ntfy, slack, teams, telegram};
use serde_json::{Value, json};

/// POSTs `body` (JSON when it is not a string) to `url` with `headers`: status and body.
async fn post(url: &str, body: Value, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = reqwest::Client::new().post(url);
    request = match body {
        Value::String(raw) => request.header("content-type", "text/plain").body(raw),
        json => request.header("content-type", "application/json").body(json.to_string()),
    };
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn code(body: &str, field: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap_or_default()[field].clone()
}

#[tokio::test]
async fn the_slack_double_refuses_what_slack_refuses() {
    let double = slack::start(Default::default()).await;
    let url = format!("{}{}", double.url, slack::PATH);
    let section = |text: &str| json!({"text": "fallback", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]});

    assert_eq!(
        post(&format!("{}/services/T0/B0/unknown", double.url), json!({"text": "x"}), &[]).await,
        (404, "no_service".into())
    );
    assert_eq!(post(&url, Value::String("text=hello".into()), &[]).await, (400, "invalid_payload".into()));
    assert_eq!(post(&url, json!(["not", "an", "object"]), &[]).await, (400, "invalid_payload".into()));
    assert_eq!(post(&url, json!({"blocks": []}), &[]).await, (400, "no_text".into()), "text is required with blocks");
    assert_eq!(post(&url, section(&"x".repeat(3001)), &[]).await, (400, "invalid_blocks".into()));
    let context = json!({"text": "t", "blocks": [{"type": "context", "elements": vec![json!({"type": "mrkdwn", "text": "e"}); 11]}]});
    assert_eq!(post(&url, context, &[]).await, (400, "invalid_blocks".into()));
    let bad_type = json!({"text": "t", "blocks": [{"type": "section", "text": {"type": "markdown", "text": "x"}}]});
    assert_eq!(post(&url, bad_type, &[]).await, (400, "invalid_blocks".into()));
    assert!(double.shown().is_empty());

    // Taken: 3,000 characters fit; an unescaped "<" is read as a link, as Slack reads it.
    assert_eq!(post(&url, section(&"x".repeat(3000)), &[]).await, (200, "ok".into()));
    assert_eq!(post(&url, section("a &lt;b&gt; &amp; <c> d"), &[]).await, (200, "ok".into()));
    assert_eq!(double.shown()[1]["lines"][0], "a <b> & c d");

    let archived = slack::start(slack::Options { archived: true, ..Default::default() }).await;
    let archived_url = format!("{}{}", archived.url, slack::PATH);
    assert_eq!(post(&archived_url, json!({"text": "x"}), &[]).await, (410, "channel_is_archived".into()));
}

#[tokio::test]
async fn the_teams_double_refuses_what_a_workflow_refuses_and_drops_what_teams_cannot_post() {
    let double = teams::start().await;
    let path = format!("{}{}", double.url, teams::path());
    let card = |body: Value| {
        json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
               "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body}}]})
    };
    let good = card(json!([{"type": "TextBlock", "text": "hello", "wrap": true}]));

    let (status, body) = post(&path, good.clone(), &[]).await;
    assert_eq!((status, code(&body, "error")["code"].clone()), (401, json!("DirectApiAuthorizationRequired")));
    let (status, body) = post(&format!("{path}?api-version=2016-06-01&sig=forged"), good.clone(), &[]).await;
    assert_eq!((status, code(&body, "error")["code"].clone()), (401, json!("DirectApiInvalidAuthorizationSignature")));
    let other = format!("{}/workflows/0000/triggers/manual/paths/invoke?{}", double.url, teams::QUERY);
    assert_eq!(post(&other, good.clone(), &[]).await.0, 404);

    // Accepted with 202, but the flow cannot post these: nothing shows.
    let url = format!("{path}?{}", teams::QUERY);
    let connector_card = json!({"@type": "MessageCard", "@context": "http://schema.org/extensions", "text": "hello"});
    let too_large = card(json!([{"type": "TextBlock", "text": "x".repeat(teams::MESSAGE_BYTES)}]));
    let newer = {
        let mut c = good.clone();
        c["attachments"][0]["content"]["version"] = json!("1.6");
        c
    };
    let untyped_fact = card(json!([{"type": "FactSet", "facts": [{"title": "App", "value": 3}]}]));
    for (n, refused) in [connector_card, too_large, newer, untyped_fact].into_iter().enumerate() {
        assert_eq!(post(&url, refused, &[]).await, (202, String::new()), "request {n}");
    }
    let exchanges = double.exchanges();
    assert!(exchanges.iter().all(|e| e.shown.is_none()), "{exchanges:#?}");
    assert!(
        exchanges[3..].iter().all(|e| e.why.as_deref().is_some_and(|w| w.starts_with("the flow run failed"))),
        "{exchanges:#?}"
    );
    assert!(exchanges[4].why.as_deref().unwrap().contains("Request Entity too large"));

    assert_eq!(post(&url, good, &[]).await, (202, String::new()));
    assert_eq!(double.shown(), [json!({"texts": ["hello"], "facts": [], "actions": []})]);
}

#[tokio::test]
async fn the_discord_double_refuses_what_discord_refuses() {
    let double = discord::start(Default::default()).await;
    let url = format!("{}{}", double.url, discord::path());
    let embed = |embed: Value| json!({"embeds": [embed]});
    let form_error = |r: (u16, String)| (r.0, code(&r.1, "code"));

    let (status, body) =
        post(&format!("{}/api/webhooks/42/{}", double.url, discord::TOKEN), json!({"content": "x"}), &[]).await;
    assert_eq!((status, code(&body, "code")), (404, json!(10015)));
    let (status, body) =
        post(&format!("{}/api/webhooks/{}/wrong", double.url, discord::ID), json!({"content": "x"}), &[]).await;
    assert_eq!((status, code(&body, "code")), (401, json!(50027)));
    assert_eq!(form_error(post(&url, json!({}), &[]).await), (400, json!(50006)), "an empty message");
    assert_eq!(form_error(post(&url, Value::String("content=x".into()), &[]).await), (400, json!(50006)));
    assert_eq!(form_error(post(&url, json!({"content": "x".repeat(2001)}), &[]).await), (400, json!(50035)));
    assert_eq!(form_error(post(&url, embed(json!({"title": "t".repeat(257)})), &[]).await), (400, json!(50035)));
    assert_eq!(form_error(post(&url, embed(json!({"description": "d".repeat(4097)})), &[]).await), (400, json!(50035)));
    let field = |name: &str, value: String| embed(json!({"fields": [{"name": name, "value": value}]}));
    assert_eq!(form_error(post(&url, field("n", "v".repeat(1025)), &[]).await), (400, json!(50035)));
    assert_eq!(form_error(post(&url, field("", "v".into()), &[]).await), (400, json!(50035)), "a field needs a name");
    let total = embed(
        json!({"description": "d".repeat(4096), "fields": [{"name": "n", "value": "v".repeat(1024)}, {"name": "n", "value": "v".repeat(1024)}]}),
    );
    assert_eq!(form_error(post(&url, total, &[]).await), (400, json!(50035)), "6,000 characters in all");
    assert_eq!(form_error(post(&url, embed(json!({"title": "t", "color": "red"})), &[]).await), (400, json!(50035)));
    assert_eq!(
        form_error(post(&url, embed(json!({"title": "t", "url": "not a url"})), &[]).await),
        (400, json!(50035))
    );
    let mentions = json!({"content": "x", "allowed_mentions": {"parse": ["nobody"]}});
    assert_eq!(form_error(post(&url, mentions, &[]).await), (400, json!(50035)));
    assert!(double.shown().is_empty());

    assert_eq!(
        post(&url, embed(json!({"title": "t".repeat(256), "description": "d".repeat(4096)})), &[]).await,
        (204, String::new())
    );
    let (status, body) = post(&format!("{url}?wait=true"), json!({"content": "hello"}), &[]).await;
    assert_eq!((status, code(&body, "content")), (200, json!("hello")));

    let limited = discord::start(discord::Options { rate_limit_first: 1, retry_after: 0.75 }).await;
    let (status, body) = post(&format!("{}{}", limited.url, discord::path()), json!({"content": "x"}), &[]).await;
    assert_eq!((status, code(&body, "retry_after")), (429, json!(0.75)));
}

#[tokio::test]
async fn the_telegram_double_refuses_what_the_bot_api_refuses() {
    let double = telegram::start(Default::default()).await;
    let url = format!("{}/bot{}/sendMessage", double.url, telegram::TOKEN);
    let send = |text: &str| json!({"chat_id": telegram::CHAT, "text": text, "parse_mode": "HTML"});
    let description = |r: (u16, String)| (r.0, code(&r.1, "description").as_str().unwrap_or_default().to_owned());

    let wrong = format!("{}/bot123:wrong/sendMessage", double.url);
    assert_eq!(description(post(&wrong, send("x"), &[]).await), (401, "Unauthorized".into()));
    let other = format!("{}/bot{}/sendTelepathy", double.url, telegram::TOKEN);
    assert_eq!(description(post(&other, send("x"), &[]).await), (404, "Not Found".into()));
    assert_eq!(description(post(&url, json!({"text": "x"}), &[]).await), (400, "Bad Request: chat_id is empty".into()));
    let stranger = json!({"chat_id": -100999, "text": "x"});
    assert_eq!(description(post(&url, stranger, &[]).await), (400, "Bad Request: chat not found".into()));
    assert_eq!(
        description(post(&url, json!({"chat_id": telegram::CHAT}), &[]).await),
        (400, "Bad Request: message text is empty".into())
    );
    for broken in ["<div>x</div>", "a & b", "a > b", "<b>open", "<a>no href</a>", "<b>x</i>"] {
        let (status, said) = description(post(&url, send(broken), &[]).await);
        assert_eq!(status, 400, "{broken:?}");
        assert!(said.starts_with("Bad Request: can't parse entities"), "{broken:?}: {said}");
    }
    let bad_mode = json!({"chat_id": telegram::CHAT, "text": "x", "parse_mode": "BBCode"});
    assert_eq!(description(post(&url, bad_mode, &[]).await), (400, "Bad Request: unsupported parse_mode".into()));
    assert_eq!(
        description(post(&url, send(&"x".repeat(4097)), &[]).await),
        (400, "Bad Request: message is too long".into())
    );
    assert_eq!(description(post(&url, send(&"😀".repeat(2049)), &[]).await).0, 400, "emoji count twice (UTF-16)");
    assert!(double.shown().is_empty());

    // 4,096 characters once entities are read, though the HTML is four times longer.
    let (status, body) = post(&url, send(&"&lt;".repeat(4096)), &[]).await;
    assert_eq!((status, code(&body, "ok")), (200, json!(true)));
    let link = send("<b>Backup failed</b>\n<a href=\"https://backups.example.org/runs/1?a=1&amp;b=2\">Open</a>");
    assert_eq!(post(&url, link, &[]).await.0, 200);
    assert_eq!(
        double.shown()[1]["links"],
        json!([{"text": "Open", "url": "https://backups.example.org/runs/1?a=1&b=2"}])
    );
    assert_eq!(double.shown()[1]["bold"], json!(["Backup failed"]));
}

#[tokio::test]
async fn the_ntfy_double_refuses_what_ntfy_refuses() {
    let double = ntfy::start(ntfy::Options { token: Some("tk_right".into()) }).await;
    let root = format!("{}/", double.url);
    let auth = [("authorization", "Bearer tk_right")];
    let code = |r: (u16, String)| (r.0, code(&r.1, "code"));

    assert_eq!(code(post(&root, json!({"topic": "a/b", "message": "x"}), &auth).await), (400, json!(40009)));
    assert_eq!(code(post(&root, json!({"message": "no topic"}), &auth).await), (400, json!(40009)));
    assert_eq!(code(post(&root, json!({"topic": "t", "priority": 6}), &auth).await), (400, json!(40007)));
    assert_eq!(
        code(post(&root, json!({"topic": "t", "priority": "4"}), &auth).await),
        (400, json!(40024)),
        "a priority is an integer"
    );
    assert_eq!(
        code(post(&root, json!({"topic": "t", "tags": "warning"}), &auth).await),
        (400, json!(40024)),
        "tags are an array"
    );
    assert_eq!(code(post(&root, Value::String("{not json".into()), &auth).await), (400, json!(40024)));
    assert_eq!(
        code(post(&root, json!({"topic": "t", "message": "ñ".repeat(2049)}), &auth).await),
        (400, json!(40014)),
        "4,098 bytes"
    );
    assert_eq!(code(post(&root, json!({"topic": "t", "message": "x"}), &[]).await), (403, json!(40301)));
    assert_eq!(
        code(post(&root, json!({"topic": "t", "message": "x"}), &[("authorization", "Bearer tk_wrong")]).await),
        (401, json!(40101))
    );
    assert!(double.shown().is_empty());

    assert_eq!(post(&root, json!({"topic": "t", "message": "ñ".repeat(2048), "priority": 4}), &auth).await.0, 200);
    // JSON sent to the topic's URL is a message like any other: shown as text.
    assert_eq!(post(&format!("{}/t", double.url), json!({"topic": "t", "message": "x"}), &auth).await.0, 200);
    let shown: Value = serde_json::from_str(double.shown()[1]["message"].as_str().unwrap()).unwrap();
    assert_eq!(shown, json!({"topic": "t", "message": "x"}));
}

#[tokio::test]
async fn the_gotify_double_refuses_what_gotify_refuses() {
    let double = gotify::start().await;
    let url = format!("{}/message", double.url);
    let key = [("x-gotify-key", gotify::APP_TOKEN)];
    let said = |r: (u16, String)| (r.0, code(&r.1, "errorDescription").as_str().unwrap_or_default().to_owned());

    assert_eq!(said(post(&url, json!({"message": "x"}), &[]).await).0, 401);
    assert_eq!(said(post(&url, json!({"message": "x"}), &[("x-gotify-key", "nope")]).await).0, 401);
    assert_eq!(
        said(post(&url, json!({"message": "x"}), &[("x-gotify-key", gotify::CLIENT_TOKEN)]).await),
        (403, "you are not allowed to access this api".into()),
        "a client's token may not send"
    );
    assert_eq!(said(post(&url, json!({"title": "x"}), &key).await), (400, "Field 'message' is required".into()));
    assert_eq!(
        said(post(&url, json!({"message": "x", "priority": "8"}), &key).await).0,
        400,
        "a priority is an integer"
    );
    assert_eq!(said(post(&url, json!({"message": "x", "extras": "click"}), &key).await).0, 400, "extras are an object");
    assert!(double.shown().is_empty());

    assert_eq!(post(&url, json!({"message": "x", "priority": 8}), &key).await.0, 200);
    assert_eq!(double.shown()[0]["title"], gotify::APP_NAME, "an empty title is the application's name");
    // Gotify takes the token from the query too: the client's test checks it never does so.
    assert_eq!(post(&format!("{url}?token={}", gotify::APP_TOKEN), json!({"message": "x"}), &[]).await.0, 200);
}
