//! Real apps started as their own processes, so their memory can be read from `/proc`.

use std::process::Stdio;
use std::time::Duration;

use contract_spec::client::{AppClient, Timeouts};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The token every test app is started with.
pub const TOKEN: &str = "test-token-0123456789";

/// A `client-sdk` example running as a child process; killed when dropped.
pub struct RunningApp {
    child: Child,
    /// Base URL the app listens on.
    pub url: String,
}

impl RunningApp {
    /// Starts example `name` with `args` (plus `--listen 127.0.0.1:0`) and extra environment,
    /// and waits until it says where it listens.
    pub async fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> RunningApp {
        let mut cmd = Command::new(crate::binaries::example(name));
        cmd.args(["--listen", "127.0.0.1:0"]).args(args).envs(env.iter().copied());
        RunningApp::spawn(cmd, name).await
    }

    /// Starts `backup-agent` with the TOML configuration `config` (in a temporary file, read at
    /// start-up), listening on a free port, with extra environment (e.g. libpq's variables).
    pub async fn agent(config: &str, env: &[(&str, &str)]) -> RunningApp {
        let path = std::env::temp_dir().join(format!("e2e-agent-{}.toml", crate::harness::unique()));
        std::fs::write(&path, config).expect("writing the agent's configuration");
        let mut cmd = Command::new(crate::binaries::agent());
        cmd.arg("--config").arg(&path).args(["--listen", "127.0.0.1:0"]).envs(env.iter().copied());
        let app = RunningApp::spawn(cmd, "backup-agent").await;
        let _ = std::fs::remove_file(&path);
        app
    }

    /// Starts `backup-agent` configured by `BACKUP_AGENT_*` variables alone.
    pub async fn agent_from_env(env: &[(&str, &str)]) -> RunningApp {
        let mut cmd = Command::new(crate::binaries::agent());
        cmd.args(["--listen", "127.0.0.1:0"]).envs(env.iter().copied());
        RunningApp::spawn(cmd, "backup-agent").await
    }

    /// Starts any app that takes its token from `BACKUP_TOKEN` and prints
    /// `listening on http://ADDR` as its first line of standard output.
    pub async fn spawn(mut cmd: Command, name: &str) -> RunningApp {
        cmd.env("BACKUP_TOKEN", TOKEN)
            .env("LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("E2E_APP_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting example {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("example {name} did not say where it listens"))
            .expect("reading the example's output")
            .unwrap_or_else(|| panic!("example {name} exited before listening"));
        let url =
            line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_owned();
        // Keep draining stdout so the app never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        RunningApp { child, url }
    }

    /// A contract client for this app with the right token.
    pub fn client(&self) -> AppClient {
        client(&self.url, TOKEN)
    }

    /// Peak resident memory of the process so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("the app is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }
}

/// A contract client with test timeouts.
pub fn client(url: &str, token: &str) -> AppClient {
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        response: Duration::from_secs(30),
        idle: Duration::from_secs(30),
        total: Duration::from_secs(600),
    };
    AppClient::new(url, SecretString::from(token), timeouts).expect("valid test URL")
}
