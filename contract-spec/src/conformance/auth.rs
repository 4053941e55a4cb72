//! Every route refuses a request without the right bearer token, with an error body.

use reqwest::Method;
use reqwest::header::AUTHORIZATION;

use super::Report;
use crate::client::{AppClient, read_small};
use crate::{CAPABILITIES_PATH, EXPORT_PATH, ErrorBody, ExportRequest};

pub(super) async fn check(client: &AppClient, report: &mut Report) {
    let wrong = format!("Bearer conformance-wrong-token-{}", std::process::id());
    for (route, method) in [(CAPABILITIES_PATH, Method::GET), (EXPORT_PATH, Method::POST)] {
        let request = || {
            let request = client.bare(method.clone(), route);
            if method == Method::POST { request.json(&ExportRequest::default()) } else { request }
        };
        expect_401(client, report, &format!("{method} {route} without a token"), request()).await;
        let bad = request().header(AUTHORIZATION, wrong.clone());
        expect_401(client, report, &format!("{method} {route} with a wrong token"), bad).await;
    }
}

/// Sends `request` and expects `401` with an error body.
pub(super) async fn expect_401(client: &AppClient, report: &mut Report, check: &str, request: reqwest::RequestBuilder) {
    let resp = match client.send(request).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(check, e.to_string()),
    };
    let status = resp.status().as_u16();
    if status != 401 {
        // Dropping the response closes the connection, so an unguarded export is not read.
        return report.fail(
            check,
            format!("answered {status}, expected 401: require `Authorization: Bearer <token>` on every route"),
        );
    }
    match read_small(resp, client.timeouts().response).await {
        Ok(body) if serde_json::from_slice::<ErrorBody>(&body).is_ok() => report.pass(check, "401 with an error body"),
        Ok(_) => report.fail(check, "answered 401, but the body is not {\"error\": \"...\", \"message\": \"...\"}: send the contract's error body"),
        Err(e) => report.fail(check, format!("answered 401, but reading the body failed: {e}")),
    }
}
