//! Runs the `orchestrator` binary as its own process, with a clean environment, optional
//! generated standard input, and its peak memory sampled from `/proc` while it runs.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What to feed on standard input.
pub enum Input {
    /// Nothing (standard input closed).
    None,
    /// These bytes.
    Bytes(Vec<u8>),
    /// `size` deterministic pseudo-random bytes from `seed`, generated as they are written.
    Generated {
        /// Bytes to send.
        size: u64,
        /// Seed of the generator.
        seed: u64,
    },
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: String,
    /// Highest `VmHWM` sampled while it ran, in KiB.
    pub peak_rss_kib: u64,
    /// sha256 of what was written to its standard input.
    pub input_sha256: String,
}

impl Run {
    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The value of a `key: value` line of standard output.
    pub fn field(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}: ");
        self.stdout_text().lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }

    /// Panics with everything the process said unless it succeeded.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "orchestrator failed ({}):\n{}\n{}",
            self.status,
            self.stdout_text(),
            self.stderr
        );
        self
    }
}

/// Fills `buf` with the generator's next bytes (xorshift64*).
pub fn generate(state: &mut u64, buf: &mut [u8]) {
    for word in buf.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let v = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        word.copy_from_slice(&v[..word.len()]);
    }
}

/// Runs `orchestrator ARGS` with only `PATH` and `env` in its environment.
pub async fn run(args: &[&str], env: &[(&str, &str)], input: Input) -> Run {
    let mut cmd = tokio::process::Command::new(crate::binaries::orchestrator());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(if matches!(input, Input::None) { Stdio::null() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("start orchestrator");
    let pid = child.id().expect("running");
    let stdin = child.stdin.take();
    let feeder = tokio::spawn(async move {
        let mut hasher = Sha256::new();
        let Some(mut stdin) = stdin else { return hex::encode(hasher.finalize()) };
        match input {
            Input::None => {}
            Input::Bytes(bytes) => {
                hasher.update(&bytes);
                let _ = stdin.write_all(&bytes).await;
            }
            Input::Generated { size, seed } => {
                let mut state = seed | 1;
                let mut buf = vec![0u8; 1 << 20];
                let mut left = size;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    generate(&mut state, &mut buf[..n]);
                    hasher.update(&buf[..n]);
                    if stdin.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    left -= n as u64;
                }
            }
        }
        drop(stdin);
        hex::encode(hasher.finalize())
    });
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = tokio::spawn(async move {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v).await;
        v
    });
    let err = tokio::spawn(async move {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v).await;
        String::from_utf8_lossy(&v).into_owned()
    });
    let mut peak = 0;
    let status = loop {
        if let Some(rss) = vm_hwm(pid) {
            peak = peak.max(rss);
        }
        tokio::select! {
            status = child.wait() => break status.expect("wait for orchestrator"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    Run {
        status,
        stdout: out.await.expect("stdout task"),
        stderr: err.await.expect("stderr task"),
        peak_rss_kib: peak,
        input_sha256: feeder.await.expect("stdin task"),
    }
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
