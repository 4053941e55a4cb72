//! Receivers of notifications: an HTTP server that records every request (webhooks, pings) and
//! can fail the first ones, and a real SMTP server (PyPI's aiosmtpd) that requires a sign-in, in
//! clear, after STARTTLS, or over implicit TLS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
    /// What was answered.
    pub status: u16,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// An HTTP receiver on a loopback port.
pub struct Recorder {
    /// Base URL.
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Answers 500 to the first `fail_first` requests, then 200.
    pub async fn start(fail_first: usize) -> Recorder {
        let seen: Arc<Mutex<Vec<Received>>> = Default::default();
        let record = seen.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                let mut seen = record.lock().unwrap();
                let status = if seen.len() < fail_first { 500 } else { 200 };
                seen.push(Received {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    status,
                });
                StatusCode::from_u16(status).unwrap()
            }
        };
        let router = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Recorder { url, seen, task }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received (at most `within`), and returns it.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.received();
            if done(&seen) {
                return seen;
            }
            assert!(tokio::time::Instant::now() < deadline, "not received within {within:?}; got {seen:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the SMTP server protects its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS, required before anything else (and before AUTH).
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// A real SMTP server (aiosmtpd) requiring AUTH with `user` and `password`.
pub struct Smtp {
    /// Its port.
    pub port: u16,
    messages: Arc<Mutex<Vec<serde_json::Value>>>,
    _child: tokio::process::Child,
}

impl Smtp {
    /// Starts it in clear; needs `python3 -m pip install aiosmtpd` (done by `.ci/run`).
    pub async fn start(user: &str, password: &str) -> Smtp {
        Smtp::launch(&[user, password]).await
    }

    /// Starts it with TLS, presenting the server certificate of `ca` (written into `dir`).
    pub async fn start_tls(
        user: &str,
        password: &str,
        tls: SmtpTls,
        ca: &drive_double::tls::TestCa,
        dir: &std::path::Path,
    ) -> Smtp {
        let (chain, key) = (dir.join("smtp-chain.pem"), dir.join("smtp-key.pem"));
        std::fs::write(&chain, ca.server_chain_pem()).expect("write the certificate chain");
        std::fs::write(&key, ca.server_key_pem()).expect("write the key");
        let mode = match tls {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Implicit => "tls",
        };
        let (chain, key) = (chain.display().to_string(), key.display().to_string());
        Smtp::launch(&[user, password, mode, &chain, &key]).await
    }

    async fn launch(args: &[&str]) -> Smtp {
        use tokio::io::AsyncBufReadExt;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/smtp_server.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start python3 with aiosmtpd");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP server starts")
            .unwrap()
            .expect("the SMTP server says where it listens (is aiosmtpd installed?)");
        let port = first.strip_prefix("listening ").and_then(|p| p.parse().ok()).expect("listening PORT");
        let messages: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
        let keep = messages.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str(&line) {
                    keep.lock().unwrap().push(v);
                }
            }
        });
        Smtp { port, messages, _child: child }
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<serde_json::Value> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived (at most `within`), and returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.messages.lock().unwrap().clone();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} messages not received within {within:?}; got {seen:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
