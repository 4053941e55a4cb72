//! A real OpenID Provider for sign-in tests: npm's `oidc-provider` (OpenID Certified) run by
//! `tests/oidc-provider/server.mjs` under Node, with its development sign-in form (any login
//! name, any password). The login `ana` carries `roles: ["restorer"]`, `olga` carries
//! `["staff", "operator", "viewer"]`, anyone else no roles claim; everyone's e-mail is
//! `LOGIN@example.org`, verified.
//!
//! Its packages come from `npm ci` (run by `.ci/run`, or here when `node_modules` is missing).
//! Without Node a test run outside CI says the test skips; under `CI=true` it fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The client the orchestrator is registered as.
pub const CLIENT_ID: &str = "backup-orchestrator";
/// Its secret.
pub const CLIENT_SECRET: &str = "test-client-secret-not-for-use-elsewhere";

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

fn have(command: &str) -> bool {
    std::process::Command::new(command)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when Node and the provider's packages are there (installing them with `npm ci` when
/// missing). Outside CI a missing Node makes `test` skip, saying so; under `CI=true` it fails.
pub fn installed(test: &str) -> bool {
    static INSTALL: Mutex<()> = Mutex::new(());
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !have("node") || !have("npm") {
        assert!(!ci, "node or npm missing: in CI the sign-in tests never skip (apt-get install nodejs npm)");
        eprintln!("SKIPPED {test}: node and npm are not installed (apt-get install nodejs npm)");
        return false;
    }
    // Tests run in parallel threads: one installs, the others wait for it.
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !folder().join("node_modules/oidc-provider").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(folder())
            .status()
            .expect("run npm ci");
        assert!(status.success(), "npm ci in {} failed ({status})", folder().display());
    }
    true
}

/// The running provider; killed when dropped.
pub struct OidcProvider {
    /// `http://127.0.0.1:PORT`, also its base address.
    pub issuer: String,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl OidcProvider {
    /// Starts it for test `test`; `None` when it skips (see [`installed`]). It answers only once
    /// [`OidcProvider::register`] gave it the client's redirect URI.
    pub async fn start(test: &str) -> Option<OidcProvider> {
        if !installed(test) {
            return None;
        }
        let stderr = if std::env::var_os("E2E_APP_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() };
        let mut child = Command::new("node")
            .arg("server.mjs")
            .args([CLIENT_ID, CLIENT_SECRET])
            .current_dir(folder())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("start node with the OpenID provider");
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let port: u16 = next_line(&mut lines, "listening PORT")
            .await
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .expect("the provider prints `listening PORT`");
        Some(OidcProvider { issuer: format!("http://127.0.0.1:{port}"), stdin, lines, _child: child })
    }

    /// Registers the client's redirect URI and waits until the provider answers.
    pub async fn register(&mut self, redirect_uri: &str) {
        self.stdin.write_all(format!("{redirect_uri}\n").as_bytes()).await.expect("write to the provider");
        self.stdin.flush().await.expect("write to the provider");
        let ready = next_line(&mut self.lines, "ready").await;
        assert_eq!(ready, "ready", "the provider is ready");
    }

    /// The orchestrator's settings for signing in through this provider.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_ISSUER", self.issuer.clone()),
            ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>, what: &str) -> String {
    tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the OpenID provider did not print {what} within a minute"))
        .expect("read the provider's output")
        .unwrap_or_else(|| panic!("the OpenID provider exited before printing {what} (E2E_APP_LOGS=1 shows why)"))
}
