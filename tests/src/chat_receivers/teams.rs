//! A Microsoft Teams Workflows webhook ("When a Teams webhook request is received", posting
//! the cards it receives to a channel), as Microsoft documents it.
//!
//! Rules, and where they come from:
//! - The trigger's URL is `/workflows/<id>/triggers/manual/paths/invoke` with `api-version`,
//!   `sp`, `sv` and `sig` (a shared access signature) in the query; it takes `POST`. A missing
//!   or wrong `sig` is refused with 401 before anything runs, an unknown workflow with 404
//!   (https://learn.microsoft.com/en-us/azure/logic-apps/logic-apps-securing-a-logic-app#generate-shared-access-signatures-sas,
//!   https://learn.microsoft.com/en-us/azure/connectors/connectors-native-reqres). Errors are
//!   `{"error": {"code": ..., "message": ...}}`.
//! - An accepted request is answered `202 Accepted` at once; the flow runs afterwards
//!   (https://learn.microsoft.com/en-us/azure/connectors/connectors-native-reqres). So a card
//!   Teams cannot post still gets 202: the double records the failed run (`why`) and shows
//!   nothing, as Teams would.
//! - The flow posts each attachment whose `contentType` is
//!   `application/vnd.microsoft.card.adaptive`; Workflows post Adaptive Cards only, not the
//!   connectors' message cards
//!   (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
//! - A card is an object with `type` `AdaptiveCard`, a `version` (Teams renders up to 1.5), and
//!   a `body` of elements: a `TextBlock` has a string `text`; a `FactSet` has `facts` of
//!   string `title` and `value`; an `Action.OpenUrl` has a `title` and an absolute `url`
//!   (https://adaptivecards.io/explorer/,
//!   https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card).
//! - A posted message is at most about 28 KB, else "Request Entity too large"
//!   (https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations); the
//!   double holds the request body to 28,000 bytes.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Receiver, Reply, Request};

/// The workflow the double knows.
pub const WORKFLOW: &str = "4f1d9c2a8b7e4e0f9a3b5c6d7e8f9012";
/// The query of its trigger URL, with the right signature.
pub const QUERY: &str =
    "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Qm9ndXNTaWduYXR1cmVGb3JUZXN0czEyMzQ1Ng";
const SIG: &str = "Qm9ndXNTaWduYXR1cmVGb3JUZXN0czEyMzQ1Ng";
/// The request body's size.
pub const MESSAGE_BYTES: usize = 28_000;

/// The path of the trigger URL; the whole URL is `url + path() + "?" + QUERY`.
pub fn path() -> String {
    format!("/workflows/{WORKFLOW}/triggers/manual/paths/invoke")
}

/// Starts the double.
pub async fn start() -> Receiver {
    Receiver::serve(Arc::new(rules), None).await
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"code": code, "message": message}}))
}

fn rules(r: &Request) -> Reply {
    let Some(workflow) =
        r.path.strip_prefix("/workflows/").and_then(|p| p.strip_suffix("/triggers/manual/paths/invoke"))
    else {
        return error(404, "InvalidPath", "The request path is not a workflow trigger's.");
    };
    match r.query_param("sig") {
        None => {
            return error(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            );
        }
        Some(sig) if sig != SIG => {
            return error(
                401,
                "DirectApiInvalidAuthorizationSignature",
                "The provided 'sig' query parameter is not valid.",
            );
        }
        Some(_) => {}
    }
    if workflow != WORKFLOW {
        return error(404, "WorkflowNotFound", &format!("The workflow '{workflow}' could not be found."));
    }
    if r.method != axum::http::Method::POST {
        return error(
            400,
            "TriggerRequestMethodNotValid",
            &format!("The HTTP method for this request is not valid: expected 'Post' and actual '{}'.", r.method),
        );
    }
    // Accepted: what follows is the flow's run, which the caller never hears of.
    let accepted = Reply::empty(202);
    match post_cards(r) {
        Ok(shown) => accepted.showing(shown),
        Err(why) => accepted.because(format!("the flow run failed: {why}")),
    }
}

fn post_cards(r: &Request) -> Result<Value, String> {
    if r.body.len() > MESSAGE_BYTES {
        return Err(format!("Request Entity too large ({} bytes)", r.body.len()));
    }
    if r.media_type() != "application/json" {
        return Err(format!("the body is {:?}, not JSON", r.media_type()));
    }
    let message = r.json_object().ok_or("the body is not a JSON object")?;
    let attachments = message.get("attachments").and_then(Value::as_array).ok_or("no attachments")?;
    let cards: Vec<&Value> = attachments
        .iter()
        .filter(|a| a["contentType"] == "application/vnd.microsoft.card.adaptive")
        .map(|a| &a["content"])
        .collect();
    if cards.is_empty() {
        return Err("no Adaptive Card among the attachments".into());
    }
    let mut texts = Vec::new();
    let mut facts = Vec::new();
    let mut actions = Vec::new();
    for card in cards {
        if card["type"] != "AdaptiveCard" {
            return Err(format!("the card's type is {}", card["type"]));
        }
        let version = card["version"].as_str().ok_or("the card has no version")?;
        let number = |n: &str| n.parse::<u32>().map_err(|_| format!("the card's version {version:?} is not N.N"));
        let (major, minor) = version.split_once('.').ok_or("the card's version is not N.N")?;
        if (number(major)?, number(minor)?) > (1, 5) {
            return Err(format!("version {version}: Teams renders up to 1.5"));
        }
        for element in card["body"].as_array().ok_or("the card has no body")? {
            match element["type"].as_str() {
                Some("TextBlock") => texts.push(element["text"].as_str().ok_or("a TextBlock without text")?.to_owned()),
                Some("FactSet") => {
                    for fact in element["facts"].as_array().ok_or("a FactSet without facts")? {
                        let (Some(title), Some(value)) = (fact["title"].as_str(), fact["value"].as_str()) else {
                            return Err("a fact without a string title and value".into());
                        };
                        facts.push(json!([title, value]));
                    }
                }
                other => return Err(format!("element type {other:?}")),
            }
        }
        for action in card["actions"].as_array().into_iter().flatten() {
            if action["type"] != "Action.OpenUrl" {
                return Err(format!("action type {}", action["type"]));
            }
            let url = action["url"].as_str().ok_or("an Action.OpenUrl without url")?;
            reqwest::Url::parse(url).map_err(|e| format!("the action's url {url:?}: {e}"))?;
            actions.push(json!({"title": action["title"], "url": url}));
        }
    }
    Ok(json!({"texts": texts, "facts": facts, "actions": actions}))
}
