//! Exports: each advertised type streams cleanly, unknown types are refused, and two exports at
//! once are either refused or both complete.

use std::time::Instant;

use reqwest::Method;

use super::{Options, Report};
use crate::client::{AppClient, ClientError, Export, Framing, framing_of, ok_or_error, read_small};
use crate::{BackupType, EXPORT_PATH, ErrorBody, ErrorCode, ExportRequest};

fn export_request(client: &AppClient, backup_type: Option<&str>) -> reqwest::RequestBuilder {
    client
        .authorized(Method::POST, EXPORT_PATH)
        .header(reqwest::header::TE, "trailers")
        .json(&ExportRequest { backup_type: backup_type.map(str::to_owned) })
}

fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

pub(super) async fn check_type(client: &AppClient, backup_type: &BackupType, options: &Options, report: &mut Report) {
    let name = |what: &str| format!("export[{}] {what}", backup_type.name);
    let started = Instant::now();
    let resp = match client.send(export_request(client, Some(&backup_type.name))).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(name("answers 200"), e.to_string()),
    };
    let resp = match ok_or_error(resp, client.timeouts().response).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(name("answers 200"), e.to_string()),
    };
    let content_type = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if essence(content_type) == essence(&backup_type.media_type) {
        report.pass(name("answers 200 with its media type"), content_type.to_owned());
    } else {
        report.fail(
            name("answers 200 with its media type"),
            format!(
                "Content-Type is {content_type:?}, capabilities advertise {:?}: send the advertised media type",
                backup_type.media_type
            ),
        );
    }
    match framing_of(resp.version(), resp.headers()) {
        Framing::CloseDelimited => {
            report.fail(
                name("is framed"),
                "the body has neither Content-Length nor chunked transfer encoding, so its end cannot be told from a failure: stream it chunked",
            );
            return;
        }
        framing => report.pass(name("is framed"), format!("{framing:?}")),
    }
    let mut export = match Export::begin(resp, started, client.timeouts()) {
        Ok(export) => export,
        Err(e) => return report.fail(name("is framed"), e.to_string()),
    };
    let outcome = loop {
        match export.next_chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let total = started.elapsed();
    match outcome {
        Err(e @ (ClientError::Aborted { .. } | ClientError::Timeout { .. })) => {
            report.fail(
                name("ends cleanly"),
                format!("{e}; an app must end the body cleanly only when the export is complete"),
            );
            return;
        }
        Err(ClientError::Empty) => {
            report.pass(name("ends cleanly"), "the body ended cleanly");
            report.fail(name("is not empty"), "the body ended cleanly with no byte: an empty export is a failed export; fail it instead (abort the connection, or answer 500)");
            return;
        }
        Err(ClientError::Mismatch(what)) => {
            report.pass(name("ends cleanly"), format!("{} bytes", export.bytes()));
            report.pass(name("is not empty"), format!("{} bytes", export.bytes()));
            report.fail(name("matches its trailers and length"), format!("{what}: declare what was really sent"));
            return;
        }
        Err(e) => return report.fail(name("ends cleanly"), e.to_string()),
        Ok(()) => {
            report.pass(name("ends cleanly"), format!("{} bytes", export.bytes()));
            report.pass(name("is not empty"), format!("{} bytes", export.bytes()));
        }
    }
    let sha = export.sha256().unwrap_or_default();
    match export.trailers() {
        Some(t) if t.contains_key(crate::TRAILER_SHA256) || t.contains_key(crate::TRAILER_BYTES) => {
            report.pass(name("matches its trailers and length"), format!("trailers match: sha256 {sha}"));
        }
        _ => report.pass(name("matches its trailers and length"), format!("no trailers sent (optional); sha256 {sha}")),
    }
    let first = export.first_byte_after().unwrap_or(total);
    let (first_ms, total_ms) = (first.as_millis(), total.as_millis());
    if total < options.streaming_min_duration {
        report.skip(name("streams"), format!("the export took {total_ms} ms: too quick to tell whether it streams"));
    } else if first.as_secs_f64() > 0.8 * total.as_secs_f64() {
        report.fail(
            name("streams"),
            format!("the first byte came after {first_ms} ms of {total_ms} ms: the app builds the whole export before sending it; send bytes as they are produced"),
        );
    } else {
        report.pass(name("streams"), format!("first byte after {first_ms} ms of {total_ms} ms"));
    }
}

pub(super) async fn check_unknown_type(client: &AppClient, report: &mut Report) {
    let check = "export of an unknown type";
    let resp = match client.send(export_request(client, Some("conformance-no-such-type"))).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(check, e.to_string()),
    };
    let status = resp.status().as_u16();
    if status != 422 {
        return report
            .fail(check, format!("answered {status}, expected 422 unknown_type: refuse types the app does not offer"));
    }
    let body = read_small(resp, client.timeouts().response).await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) if e.error == ErrorCode::UnknownType.as_str() => {
            report.pass(check, format!("422 unknown_type: {}", e.message))
        }
        Ok(e) => report.fail(check, format!("answered 422 with code {:?}, expected \"unknown_type\"", e.error)),
        Err(_) => report.fail(check, "answered 422 without the contract's error body"),
    }
}

pub(super) async fn check_concurrent(client: &AppClient, backup_type: &BackupType, report: &mut Report) {
    let check = "two exports at once";
    let started = Instant::now();
    // The first export is left unread while the second is asked for, so it is still running.
    let first = match client.send(export_request(client, Some(&backup_type.name))).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(check, format!("first export: {e}")),
    };
    let first = match ok_or_error(first, client.timeouts().response).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(check, format!("first export: {e}")),
    };
    let second_started = Instant::now();
    let second = match client.send(export_request(client, Some(&backup_type.name))).await {
        Ok(resp) => resp,
        Err(e) => return report.fail(check, format!("second export while the first runs: {e}")),
    };
    let status = second.status().as_u16();
    if matches!(status, 409 | 503) {
        drop(first);
        let body = read_small(second, client.timeouts().response).await.unwrap_or_default();
        return match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => report.pass(check, format!("the second was refused: {status} {}", e.error)),
            Err(_) => report
                .fail(check, format!("the second was refused with {status} but without the contract's error body")),
        };
    }
    if status != 200 {
        return report.fail(
            check,
            format!("the second export answered {status}: answer 409 export_in_progress, 503 busy, or run both"),
        );
    }
    let mut outcomes = Vec::new();
    for (resp, at) in [(first, started), (second, second_started)] {
        let outcome = match Export::begin(resp, at, client.timeouts()) {
            Ok(mut export) => loop {
                match export.next_chunk().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => break Ok(export.bytes()),
                    Err(e) => break Err(e),
                }
            },
            Err(e) => Err(e),
        };
        outcomes.push(outcome);
    }
    match (&outcomes[0], &outcomes[1]) {
        (Ok(a), Ok(b)) => report.pass(check, format!("both completed ({a} and {b} bytes)")),
        (Err(e), _) | (_, Err(e)) => report.fail(
            check,
            format!("the app accepted both but one did not complete: {e}; refuse the second with 409 if exports cannot run together"),
        ),
    }
}
