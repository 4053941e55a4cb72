//! Apps that break contract v1 in one deliberate way each, and are right in every other way, so
//! a conformance failure can only come from the fault under test.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use contract_spec::{BackupType, Capabilities, ErrorBody, ErrorCode, ExportRequest};
use futures::StreamExt;
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The one thing an app gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: a conforming app (proves the harness itself passes).
    None,
    /// Answers without checking the token.
    NoAuth,
    /// Says `"contract": "v2"`.
    WrongContract,
    /// Capabilities whose type lacks `media_type` and `extension`.
    MalformedCapabilities,
    /// The export stops half-way by cutting the connection.
    DiesMidStream,
    /// Sends a `backup-sha256` trailer that does not match the body.
    LyingTrailer,
    /// Builds the whole export in memory before sending a byte.
    BuffersEverything,
    /// Ends the body by closing the connection (neither Content-Length nor chunked).
    CloseDelimited,
    /// Answers 200 with an empty body.
    EmptyBody,
}

/// A broken app serving on a loopback port until dropped.
pub struct BrokenApp {
    /// Base URL.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BrokenApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 8;

fn capabilities(fault: Fault) -> serde_json::Value {
    match fault {
        Fault::WrongContract => serde_json::json!({
            "contract": "v2", "app": "broken",
            "types": [{"name": "full", "media_type": "application/octet-stream", "extension": "bin"}],
        }),
        Fault::MalformedCapabilities => {
            serde_json::json!({ "contract": "v1", "app": "broken", "types": [{"name": "full"}] })
        }
        _ => serde_json::to_value(Capabilities::new(
            "broken",
            [BackupType::new("full", "application/octet-stream", "bin")],
        ))
        .expect("capabilities serialize"),
    }
}

fn error(code: ErrorCode, message: &str) -> Response {
    let status = StatusCode::from_u16(code.status()).expect("valid status");
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

fn authorized(fault: Fault, headers: &HeaderMap, token: &str) -> bool {
    fault == Fault::NoAuth
        || headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {token}"))
}

fn chunk(i: usize) -> Bytes {
    Bytes::from(vec![b'a' + (i % 26) as u8; CHUNK])
}

/// Starts an app with `fault`, guarded by `token`.
pub async fn spawn(fault: Fault, token: &str) -> BrokenApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let token = token.to_owned();
    let task = if fault == Fault::CloseDelimited {
        tokio::spawn(raw_http(listener, token))
    } else {
        let app = Router::new()
            .route("/backup/capabilities", get(capabilities_route))
            .route("/backup/export", post(export_route))
            .with_state((fault, token));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
    };
    BrokenApp { url, task }
}

async fn capabilities_route(State((fault, token)): State<(Fault, String)>, headers: HeaderMap) -> Response {
    if !authorized(fault, &headers, &token) {
        return error(ErrorCode::Unauthorized, "wrong token");
    }
    axum::Json(capabilities(fault)).into_response()
}

async fn export_route(State((fault, token)): State<(Fault, String)>, request: Request) -> Response {
    if !authorized(fault, request.headers(), &token) {
        return error(ErrorCode::Unauthorized, "wrong token");
    }
    let body = axum::body::to_bytes(request.into_body(), 4096).await.unwrap_or_default();
    let wanted: ExportRequest = serde_json::from_slice(&body).unwrap_or_default();
    if wanted.backup_type.as_deref().is_some_and(|t| t != "full") {
        return error(ErrorCode::UnknownType, "only full");
    }
    let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))];
    match fault {
        Fault::DiesMidStream => {
            let stream = futures::stream::iter(0..CHUNKS).then(|i| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if i < CHUNKS / 2 { Ok(chunk(i)) } else { Err(std::io::Error::other("the dump crashed")) }
            });
            (content_type, Body::from_stream(stream)).into_response()
        }
        Fault::LyingTrailer => {
            let mut trailers = HeaderMap::new();
            trailers.insert(contract_spec::TRAILER_SHA256, HeaderValue::from_str(&"ab".repeat(32)).expect("hex"));
            trailers.insert(contract_spec::TRAILER_BYTES, HeaderValue::from((CHUNK * CHUNKS) as u64));
            let frames = (0..CHUNKS)
                .map(|i| Ok::<_, Infallible>(Frame::data(chunk(i))))
                .chain(std::iter::once(Ok(Frame::trailers(trailers))));
            let mut resp = Body::new(StreamBody::new(futures::stream::iter(frames))).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            resp.headers_mut().insert(header::TRAILER, HeaderValue::from_static("backup-sha256, backup-bytes"));
            resp
        }
        Fault::BuffersEverything => {
            let mut all = Vec::new();
            for i in 0..CHUNKS {
                tokio::time::sleep(Duration::from_millis(100)).await;
                all.extend_from_slice(&chunk(i));
            }
            (content_type, all).into_response()
        }
        Fault::EmptyBody => (content_type, Body::empty()).into_response(),
        _ => {
            // A conforming export that takes a little while and streams as it goes.
            let stream = futures::stream::iter(0..CHUNKS).then(|i| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, Infallible>(chunk(i))
            });
            (content_type, Body::from_stream(stream)).into_response()
        }
    }
}

/// A hand-written HTTP/1.1 server whose export body is close-delimited; everything else right.
async fn raw_http(listener: TcpListener, token: String) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let token = token.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut piece = [0u8; 4096];
            let head_end = loop {
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break pos + 4;
                }
                match socket.read(&mut piece).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&piece[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            while buf.len() < head_end + length {
                match socket.read(&mut piece).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&piece[..n]),
                }
            }
            let body = &buf[head_end..head_end + length];
            let json = |status: &str, value: serde_json::Value| {
                let text = value.to_string();
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                )
            };
            let answer = if header("authorization").as_deref() != Some(&format!("Bearer {token}")) {
                json("401 Unauthorized", serde_json::json!({"error": "unauthorized", "message": "wrong token"}))
            } else if head.starts_with("GET /backup/capabilities ") {
                json("200 OK", capabilities(Fault::CloseDelimited))
            } else if head.starts_with("POST /backup/export ") {
                let wanted: ExportRequest = serde_json::from_slice(body).unwrap_or_default();
                if wanted.backup_type.as_deref().is_some_and(|t| t != "full") {
                    json(
                        "422 Unprocessable Entity",
                        serde_json::json!({"error": "unknown_type", "message": "only full"}),
                    )
                } else {
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                    for i in 0..CHUNKS {
                        if socket.write_all(&chunk(i)).await.is_err() {
                            return;
                        }
                    }
                    let _ = socket.shutdown().await;
                    return;
                }
            } else {
                json("404 Not Found", serde_json::json!({"error": "not_found", "message": "no such route"}))
            };
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}
