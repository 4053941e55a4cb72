//! The command line of `bench`.

pub(crate) const USAGE: &str =
    "usage: bench <stream|concurrent|rclone|schedule|spread|dashboard|pickup|idle|selfbackup|audit|agent|all> [--smoke] \
[--runs N] [--sizes MiB,MiB,..] [--apps N] [--chunk SIZE]
  --smoke       seconds instead of minutes: small sizes and counts (CI)
  --runs N      samples per figure (pickup: runs; dashboard: requests per page; idle: fresh starts)
  --sizes LIST  stream: export sizes in MiB (default 256,1024,4096); rclone: MiB, each also + 12345 bytes (1024,4096);
                agent: the export's size (1024)
  --apps N      concurrent: apps at once (16); schedule, dashboard, selfbackup: apps (10000); audit, spread: apps (200)
  --chunk SIZE  upload chunk size, as GDRIVE_CHUNK_SIZE (default 8MiB)
  --read-ahead SIZE  GDRIVE_READ_AHEAD_BUDGET of the orchestrator (default: its own, 64MiB)
  --contend N   rclone: N busy-looping processes run beside the clients (CPU contention; default 0)
  --compress    stream: also a run compressing with zstd, on a generated SQL dump
  --encrypt     stream: also a run encrypting with age (with --compress: both)";

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    Stream,
    Concurrent,
    Schedule,
    Spread,
    Dashboard,
    Pickup,
    Idle,
    Rclone,
    SelfBackup,
    Audit,
    Agent,
}

const ALL: [Scenario; 11] = [
    Scenario::Idle,
    Scenario::Pickup,
    Scenario::Stream,
    Scenario::Concurrent,
    Scenario::Rclone,
    Scenario::Schedule,
    Scenario::Spread,
    Scenario::Dashboard,
    Scenario::SelfBackup,
    Scenario::Audit,
    Scenario::Agent,
];

/// What was asked.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    scenarios: Vec<Scenario>,
    /// Small and quick, figures not meaningful.
    pub(crate) smoke: bool,
    runs: Option<usize>,
    sizes: Option<Vec<u64>>,
    apps: Option<usize>,
    /// GDRIVE_CHUNK_SIZE.
    pub(crate) chunk: String,
    /// GDRIVE_READ_AHEAD_BUDGET, when given.
    pub(crate) read_ahead: Option<String>,
    /// Busy-looping processes to run beside the clients.
    pub(crate) contend: usize,
    /// stream: also a compressed run, on an SQL dump.
    pub(crate) compress: bool,
    /// stream: also an encrypted run.
    pub(crate) encrypt: bool,
}

impl Args {
    pub(crate) fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            scenarios: Vec::new(),
            smoke: false,
            runs: None,
            sizes: None,
            apps: None,
            chunk: "8MiB".into(),
            read_ahead: None,
            contend: 0,
            compress: false,
            encrypt: false,
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--smoke" => parsed.smoke = true,
                "--compress" => parsed.compress = true,
                "--encrypt" => parsed.encrypt = true,
                "--runs" => parsed.runs = Some(number(&value("--runs")?)?),
                "--apps" => parsed.apps = Some(number(&value("--apps")?)?),
                "--chunk" => parsed.chunk = value("--chunk")?,
                "--read-ahead" => parsed.read_ahead = Some(value("--read-ahead")?),
                "--contend" => parsed.contend = number(&value("--contend")?)?,
                "--sizes" => {
                    let list = value("--sizes")?;
                    parsed.sizes = Some(list.split(',').map(number::<u64>).collect::<Result<_, _>>()?);
                }
                "all" => parsed.scenarios.extend(ALL),
                name => parsed.scenarios.push(match name {
                    "stream" => Scenario::Stream,
                    "concurrent" => Scenario::Concurrent,
                    "schedule" => Scenario::Schedule,
                    "spread" => Scenario::Spread,
                    "dashboard" => Scenario::Dashboard,
                    "pickup" => Scenario::Pickup,
                    "idle" => Scenario::Idle,
                    "rclone" => Scenario::Rclone,
                    "selfbackup" => Scenario::SelfBackup,
                    "audit" => Scenario::Audit,
                    "agent" => Scenario::Agent,
                    other => return Err(format!("unknown scenario or option {other:?}")),
                }),
            }
        }
        if parsed.scenarios.is_empty() {
            return Err("which scenario?".into());
        }
        Ok(parsed)
    }

    pub(crate) fn scenarios(&self) -> Vec<Scenario> {
        self.scenarios.clone()
    }

    /// `--runs`, else the full or smoke default.
    pub(crate) fn runs(&self, full: usize, smoke: usize) -> usize {
        self.runs.unwrap_or(if self.smoke { smoke } else { full })
    }

    /// `--apps`, else the full or smoke default.
    pub(crate) fn apps(&self, full: usize, smoke: usize) -> usize {
        self.apps.unwrap_or(if self.smoke { smoke } else { full })
    }

    /// `--sizes` in bytes, else the full or smoke default (MiB).
    pub(crate) fn sizes(&self, full: &[u64], smoke: &[u64]) -> Vec<u64> {
        let mib = self.sizes.clone().unwrap_or_else(|| if self.smoke { smoke.to_vec() } else { full.to_vec() });
        mib.into_iter().map(|m| m << 20).collect()
    }

    /// The upload settings asked for, on a harness.
    pub(crate) fn upload_settings(&self, h: &mut e2e::harness::Harness) {
        h.set("GDRIVE_CHUNK_SIZE", &self.chunk);
        if let Some(budget) = &self.read_ahead {
            h.set("GDRIVE_READ_AHEAD_BUDGET", budget);
        }
    }

    /// The options as given, for running one scenario again in another process.
    pub(crate) fn forwarded(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.smoke {
            out.push("--smoke".into());
        }
        if let Some(runs) = self.runs {
            out.extend(["--runs".into(), runs.to_string()]);
        }
        if let Some(sizes) = &self.sizes {
            let list: Vec<String> = sizes.iter().map(u64::to_string).collect();
            out.extend(["--sizes".into(), list.join(",")]);
        }
        if let Some(apps) = self.apps {
            out.extend(["--apps".into(), apps.to_string()]);
        }
        out.extend(["--chunk".into(), self.chunk.clone()]);
        if let Some(budget) = &self.read_ahead {
            out.extend(["--read-ahead".into(), budget.clone()]);
        }
        if self.contend > 0 {
            out.extend(["--contend".into(), self.contend.to_string()]);
        }
        if self.compress {
            out.push("--compress".into());
        }
        if self.encrypt {
            out.push("--encrypt".into());
        }
        out
    }

    /// The chunk size in bytes.
    pub(crate) fn chunk_bytes(&self) -> u64 {
        orchestrator::config::parse_size(&self.chunk).unwrap_or(8 << 20)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("{text:?} is not a number"))
}
