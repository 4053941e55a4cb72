//! `rclone`: what a user would pick instead of us for "stream this into Drive", side by side with
//! `orchestrator remote put`, over TLS, against the Drive double answering under Google's own host
//! names, plus the double's ceiling measured with a minimal client.
//!
//! Neither rclone nor the orchestrator is pointed at the double: both keep Google's endpoints.
//! The scenario re-runs itself in private mount and network namespaces (`unshare`, as root), where
//! `/etc/hosts` sends `www.googleapis.com` and `oauth2.googleapis.com` to 127.0.0.1, the double
//! listens on 127.0.0.1:443 with a certificate of a certificate authority made for this run, and
//! `SSL_CERT_FILE` makes that authority the whole trust store of the two clients (Go and rustls
//! both read it). Nothing outside the namespaces sees any of it.
//!
//! Per size, the same source file on stdin, N runs of each, alternated (rclone first on even
//! runs): wall time from start to exit, peak RSS (`VmHWM`), and the sha256 Drive reports against
//! the file's. rclone runs with `--drive-chunk-size` equal to our `GDRIVE_CHUNK_SIZE`; both upload
//! as the same service account into the same shared drive.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drive_double::tls::{GOOGLE_HOSTS, TestCa};
use drive_double::{AsGoogle, DriveDouble, Options};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::args::Args;
use crate::measure::{emit, mb_per_s, mib, ms, ratio, table};

/// Set in the environment of the copy of `bench` that runs inside the namespaces.
const INSIDE: &str = "BENCH_AS_GOOGLE";
/// The orchestrator binary, found (and built) outside, where cargo may look around freely.
const ORCHESTRATOR: &str = "BENCH_ORCHESTRATOR";

pub(crate) async fn run(args: &Args) {
    if std::env::var_os(INSIDE).is_some() {
        inside(args).await;
        return;
    }
    if let Some(reason) = missing_prerequisite() {
        // CI installs rclone and runs as root: there a skip is a failure.
        if std::env::var_os("CI").is_some() {
            panic!("bench rclone cannot run in CI: {reason}");
        }
        println!("rclone: skipped: {reason}");
        return;
    }
    let orchestrator = e2e::binaries::orchestrator();
    let exe = std::env::current_exe().expect("the bench binary has a path");
    let mut forwarded: Vec<String> = vec!["rclone".into()];
    forwarded.extend(args.forwarded());
    let status = tokio::process::Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "--"])
        .arg(&exe)
        .args(&forwarded)
        .env(INSIDE, "1")
        .env(ORCHESTRATOR, &orchestrator)
        .status()
        .await
        .expect("run unshare");
    assert!(status.success(), "bench rclone inside its namespaces failed ({status})");
}

fn missing_prerequisite() -> Option<String> {
    let found = |tool: &str, arg: &str| {
        std::process::Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found("rclone", "version") {
        return Some("rclone is not installed (apt-get install rclone)".into());
    }
    if !found("unshare", "--version") || !found("ip", "-V") {
        return Some("unshare (util-linux) and ip (iproute2) are needed".into());
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false);
    if !root {
        return Some("private namespaces and port 443 need root".into());
    }
    None
}

/// Loopback up, Google's names on it, in this process's own namespaces.
fn google_on_loopback(dir: &Path) {
    let sh = |cmd: &str| {
        let status = std::process::Command::new("sh").args(["-c", cmd]).status().expect("run sh");
        assert!(status.success(), "`{cmd}` failed");
    };
    sh("ip link set lo up");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, format!("127.0.0.1 localhost {}\n::1 localhost\n", GOOGLE_HOSTS.join(" "))).expect("hosts");
    sh(&format!("mount --bind {} /etc/hosts", hosts.display()));
}

/// A process that keeps one core busy until dropped.
struct Contender(std::process::Child);

impl Contender {
    fn start() -> Contender {
        let child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start a busy loop");
        Contender(child)
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One client run.
struct Sample {
    wall: Duration,
    peak_rss_kib: u64,
    /// CPU time of all its threads (sampled while it ran: the last sample before it exited).
    cpu: Duration,
}

/// Runs `cmd` with `source` on stdin; its wall time and peak RSS, and its standard output.
async fn timed(mut cmd: tokio::process::Command, source: &Path) -> (Sample, String) {
    let input = std::fs::File::open(source).expect("the source file");
    cmd.stdin(Stdio::from(input)).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start the client");
    let pid = child.id().expect("running");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = tokio::spawn(async move {
        let mut v = String::new();
        let _ = stdout.read_to_string(&mut v).await;
        v
    });
    let err = tokio::spawn(async move {
        let mut v = String::new();
        let _ = stderr.read_to_string(&mut v).await;
        v
    });
    let (mut peak, mut cpu) = (0, Duration::ZERO);
    let status = loop {
        if let Some(rss) = crate::measure::peak_rss_kib(pid) {
            peak = peak.max(rss);
        }
        cpu = cpu.max(crate::measure::cpu_time(pid));
        tokio::select! {
            status = child.wait() => break status.expect("wait for the client"),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    };
    let wall = started.elapsed();
    let (out, err) = (out.await.expect("stdout"), err.await.expect("stderr"));
    assert!(status.success(), "{cmd:?} failed ({status}):\n{out}\n{err}");
    (Sample { wall, peak_rss_kib: peak, cpu }, out)
}

/// A deterministic source file of `size` bytes; its sha256.
fn write_source(path: &Path, size: u64, seed: u64) -> String {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("source file"));
    let mut hasher = Sha256::new();
    let mut state = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        e2e::cli::generate(&mut state, &mut block[..n]);
        hasher.update(&block[..n]);
        file.write_all(&block[..n]).expect("write the source");
        left -= n as u64;
    }
    file.flush().expect("flush the source");
    hex::encode(hasher.finalize())
}

/// The figures of one client at one size.
#[derive(Default)]
struct Series {
    walls: Vec<Duration>,
    cpus: Vec<Duration>,
    peak_rss_kib: u64,
}

impl Series {
    fn push(&mut self, sample: Sample) {
        self.walls.push(sample.wall);
        self.walls.sort();
        self.cpus.push(sample.cpu);
        self.cpus.sort();
        self.peak_rss_kib = self.peak_rss_kib.max(sample.peak_rss_kib);
    }
    fn min(&self) -> Duration {
        self.walls.first().copied().unwrap_or_default()
    }
    fn max(&self) -> Duration {
        self.walls.last().copied().unwrap_or_default()
    }
    fn median(&self) -> Duration {
        crate::measure::percentile(&self.walls, 0.5)
    }
    fn median_cpu(&self) -> Duration {
        crate::measure::percentile(&self.cpus, 0.5)
    }
}

struct SizeFigures {
    size: u64,
    ours: Series,
    rclone: Series,
    ceiling: Series,
}

async fn inside(args: &Args) {
    let dir = std::env::temp_dir().join(format!("bench-rclone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work folder");
    google_on_loopback(&dir);
    let ca = Arc::new(TestCa::generate(&GOOGLE_HOSTS));
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.ca_pem()).expect("CA file");
    let double = DriveDouble::start_with(Options {
        hash_only: true,
        as_google: Some(AsGoogle { listen: "127.0.0.1:443".parse().expect("address"), ca: ca.clone() }),
        ..Options::default()
    })
    .await;
    let folder = double.create_shared_drive("Backups");
    let credentials = dir.join("service-account.json");
    std::fs::write(&credentials, double.service_account_json()).expect("credentials file");
    let chunk = args.chunk_bytes();
    let chunk_setting = format!("{}k", chunk >> 10);
    let config = format!(
        "[gdrive]\ntype = drive\nscope = drive\nservice_account_file = {}\nteam_drive = {folder}\nchunk_size = {chunk_setting}\n",
        credentials.display()
    );
    let rclone_conf = dir.join("rclone.conf");
    std::fs::write(&rclone_conf, &config).expect("rclone config");
    let orchestrator = PathBuf::from(std::env::var_os(ORCHESTRATOR).expect("set by the outer bench"));
    let ceiling_client = crate::raw_copy::TlsClient::new(ca.ca_pem(), &double).await;

    // Exact chunk multiples (the empty final request) and sizes that are not.
    let sizes_mib = args.sizes(&[1024, 4096], &[16]);
    let mut sizes = Vec::new();
    for size in sizes_mib {
        sizes.extend([size, size + 12_345]);
    }
    let runs = args.runs(4, 1);
    // Other work on the machine, when asked for: shell loops that never sleep, killed on drop.
    let _contenders: Vec<Contender> = (0..args.contend).map(|_| Contender::start()).collect();
    let mut all = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let source = dir.join("source.bin");
        let sha256 = write_source(&source, size, 0xc0ffee + i as u64);
        let mut figures =
            SizeFigures { size, ours: Series::default(), rclone: Series::default(), ceiling: Series::default() };
        for run in 0..runs {
            let name = |who: &str| format!("{who}-{size}-{run}.bin");
            for who in if run % 2 == 0 { ["rclone", "ours"] } else { ["ours", "rclone"] } {
                let stored = if who == "rclone" {
                    let mut cmd = tokio::process::Command::new("rclone");
                    cmd.args(["--config"])
                        .arg(&rclone_conf)
                        .args(["--drive-chunk-size", &chunk_setting, "rcat", &format!("gdrive:{}", name(who))])
                        .env_clear()
                        .env("PATH", std::env::var("PATH").unwrap_or_default())
                        .env("HOME", &dir)
                        .env("SSL_CERT_FILE", &ca_file);
                    let (sample, _) = timed(cmd, &source).await;
                    figures.rclone.push(sample);
                    name(who)
                } else {
                    let mut cmd = tokio::process::Command::new(&orchestrator);
                    cmd.args(["remote", "put", &folder, &name(who)])
                        .current_dir(&dir)
                        .env_clear()
                        .env("PATH", std::env::var("PATH").unwrap_or_default())
                        .env("STORAGE", "gdrive")
                        .env("GDRIVE_CREDENTIALS", &credentials)
                        .env("GDRIVE_CHUNK_SIZE", &args.chunk)
                        .env("SSL_CERT_FILE", &ca_file)
                        .env("RUST_LOG", "warn");
                    if let Some(budget) = &args.read_ahead {
                        cmd.env("GDRIVE_READ_AHEAD_BUDGET", budget);
                    }
                    let (sample, _) = timed(cmd, &source).await;
                    figures.ours.push(sample);
                    name(who)
                };
                let file = double.files_in(&folder).into_iter().find(|f| f.name == stored).expect("the upload landed");
                assert_eq!((file.size, file.sha256.as_str()), (size, sha256.as_str()), "{who} stored the source");
            }
            let started = Instant::now();
            let sent = ceiling_client.upload(&source, &folder, &name("ceiling"), chunk as usize).await;
            assert_eq!(sent, sha256, "the ceiling client stored the source");
            figures.ceiling.push(Sample { wall: started.elapsed(), peak_rss_kib: 0, cpu: Duration::ZERO });
        }
        std::fs::remove_file(&source).ok();
        all.push(figures);
    }
    drop(double);
    let _ = std::fs::remove_dir_all(&dir);
    report(&all, runs, &config, args);
}

fn report(all: &[SizeFigures], runs: usize, config: &str, args: &Args) {
    let secs = |d: Duration| ms(d) / 1000.0;
    let mut json = Vec::new();
    let mut rows = Vec::new();
    for f in all {
        let speedup = ratio(f.rclone.median().as_secs_f64(), f.ours.median().as_secs_f64());
        let of_ceiling = ratio(f.ceiling.median().as_secs_f64(), f.ours.median().as_secs_f64());
        let rss = ratio(f.ours.peak_rss_kib as f64, f.rclone.peak_rss_kib as f64);
        json.push(serde_json::json!({
            "size": f.size,
            "ours_s": [secs(f.ours.min()), secs(f.ours.median()), secs(f.ours.max())],
            "rclone_s": [secs(f.rclone.min()), secs(f.rclone.median()), secs(f.rclone.max())],
            "ceiling_s": [secs(f.ceiling.min()), secs(f.ceiling.median()), secs(f.ceiling.max())],
            "ours_mb_s": mb_per_s(f.size, f.ours.median()),
            "rclone_mb_s": mb_per_s(f.size, f.rclone.median()),
            "ceiling_mb_s": mb_per_s(f.size, f.ceiling.median()),
            "speedup_median": speedup,
            "ours_slowest_beats_rclone_fastest": f.ours.max() < f.rclone.min(),
            "ours_peak_rss_mib": mib(f.ours.peak_rss_kib),
            "rclone_peak_rss_mib": mib(f.rclone.peak_rss_kib),
            "rss_ratio": rss,
            "ours_cpu_s_median": secs(f.ours.median_cpu()),
            "rclone_cpu_s_median": secs(f.rclone.median_cpu()),
            "of_ceiling": of_ceiling,
        }));
        let span = |s: &Series| format!("{:.2} / {:.2} / {:.2}", secs(s.min()), secs(s.median()), secs(s.max()));
        rows.push(vec![
            format!("{}", f.size),
            span(&f.ours),
            span(&f.rclone),
            span(&f.ceiling),
            format!("{speedup:.2}x"),
            if f.ours.max() < f.rclone.min() { "yes" } else { "no" }.into(),
            format!("{:.1} / {:.1}", mib(f.ours.peak_rss_kib), mib(f.rclone.peak_rss_kib)),
            format!("{:.2} / {:.2}", secs(f.ours.median_cpu()), secs(f.rclone.median_cpu())),
            format!("{of_ceiling:.3}"),
        ]);
    }
    emit(serde_json::json!({
        "scenario": "rclone",
        "runs": runs,
        "contending_processes": args.contend,
        "chunk": args.chunk,
        "rclone_config": config,
        "sizes": json,
    }));
    table(
        &format!(
            "rclone: remote put vs rclone rcat over TLS as Google, {} chunks, {runs} runs each, alternated{}",
            args.chunk,
            if args.contend > 0 { format!(", {} busy processes beside them", args.contend) } else { String::new() }
        ),
        &[
            "bytes",
            "ours s (min/med/max)",
            "rclone s",
            "ceiling s",
            "speed vs rclone",
            "our slowest < its fastest",
            "peak RSS MiB ours / rclone",
            "CPU s ours / rclone",
            "of ceiling",
        ],
        &rows,
    );
    println!("  rclone configuration (plus --drive-chunk-size):");
    for line in config.lines() {
        println!("    {line}");
    }
}
