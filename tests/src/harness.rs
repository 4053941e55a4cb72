//! The orchestrator as an operator runs it: its command line, a database of its own (SQLite in
//! a temporary folder, or a fresh PostgreSQL database), and the Drive double (or a folder) as
//! destination. The service runs either as a real `orchestrator serve` process ([`Harness::serve`],
//! for tests that kill, restart or replicate it, or read what it prints) or inside the test
//! process ([`Harness::start`], built by the same `startup::Service` the binary uses).

use drive_double::{DriveDouble, Options};
use orchestrator::startup::{ServeSettings, Service};

use crate::apps::TOKEN;
use crate::cli::{Input, Run, run};

/// A test installation.
pub struct Harness {
    /// The Drive double.
    pub double: DriveDouble,
    /// A shared drive the service account writes into.
    pub drive: String,
    /// The database URL.
    pub database_url: String,
    dir: std::path::PathBuf,
    env: Vec<(String, String)>,
}

/// The admin of every test installation.
pub const ADMIN_USER: &str = "operator";
/// Their password.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A fixed key, so the harness never depends on the generated one.
pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789abcdef";

impl Harness {
    /// A harness on SQLite.
    pub async fn sqlite() -> Harness {
        Harness::sqlite_with(Options::default()).await
    }

    /// A harness on SQLite whose Drive double is started with `options` (e.g. hash-only for
    /// benchmarks that stream gigabytes).
    pub async fn sqlite_with(options: Options) -> Harness {
        let dir = temp_dir();
        let url = format!("sqlite://{}/orchestrator.db?mode=rwc", dir.display());
        Harness::with_database(dir, url, options).await
    }

    /// A harness on SQLite whose destination is a folder of its own (`STORAGE=fs`), for tests
    /// that do not look at Drive. [`Harness::stored_files`] lists what lands there.
    pub async fn local() -> Harness {
        let mut h = Harness::sqlite().await;
        let root = h.dir.join("backups");
        h.set("STORAGE", "fs");
        h.set("FS_ROOT", &root.display().to_string());
        h
    }

    /// A harness on this PostgreSQL database URL.
    pub async fn postgres(url: String) -> Harness {
        Harness::with_database(temp_dir(), url, Options::default()).await
    }

    async fn with_database(dir: std::path::PathBuf, database_url: String, options: Options) -> Harness {
        let double = DriveDouble::start_with(options).await;
        let drive = double.create_shared_drive("Backups");
        let credentials = dir.join("service-account.json");
        std::fs::write(&credentials, double.service_account_json()).expect("write credentials");
        let env = vec![
            ("DATABASE_URL".to_owned(), database_url.clone()),
            ("SECRET_KEY".to_owned(), SECRET_KEY.to_owned()),
            ("STORAGE".to_owned(), "gdrive".to_owned()),
            ("GDRIVE_CREDENTIALS".to_owned(), credentials.display().to_string()),
            ("GDRIVE_ENDPOINT".to_owned(), double.endpoint()),
            ("GDRIVE_TOKEN_URI".to_owned(), double.token_uri()),
            ("GDRIVE_CHUNK_SIZE".to_owned(), "1MiB".to_owned()),
            ("GDRIVE_RETRY_DELAY_MS".to_owned(), "5".to_owned()),
            ("GDRIVE_MAX_RETRIES".to_owned(), "2".to_owned()),
            ("EXPORT_IDLE_TIMEOUT".to_owned(), "5".to_owned()),
            ("ADMIN_USER".to_owned(), ADMIN_USER.to_owned()),
            ("ADMIN_PASSWORD".to_owned(), ADMIN_PASSWORD.to_owned()),
        ];
        Harness { double, drive, database_url, dir, env }
    }

    /// Sets (or replaces) a setting for the next commands.
    pub fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Runs `orchestrator ARGS` with this installation's settings.
    pub async fn cli(&self, args: &[&str]) -> Run {
        self.cli_with(args, &[]).await
    }

    /// Runs `orchestrator ARGS` with extra settings.
    pub async fn cli_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        run(args, &env, Input::None).await
    }

    /// Starts `orchestrator serve` (scheduler, workers, HTTP) with fast test heartbeats.
    pub async fn serve(&self, extra: &[(&str, &str)]) -> Served {
        self.serve_with(&[], extra).await
    }

    /// Starts `orchestrator serve ARGS`, in this installation's folder.
    pub async fn serve_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Served {
        let stderr = if std::env::var_os("E2E_APP_LOGS").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        };
        self.spawn_serve(args, extra, stderr).await
    }

    /// Starts `orchestrator serve` writing its log (stderr) into `log`, for tests that read what
    /// it logged.
    pub async fn serve_logging_to(&self, log: &std::path::Path, extra: &[(&str, &str)]) -> Served {
        let file = std::fs::File::create(log).expect("create the log file");
        self.spawn_serve(&[], extra, file.into()).await
    }

    async fn spawn_serve(&self, args: &[&str], extra: &[(&str, &str)], stderr: std::process::Stdio) -> Served {
        let mut cmd = tokio::process::Command::new(crate::binaries::orchestrator());
        cmd.arg("serve")
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(SERVE_SETTINGS)
            .envs(extra.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start orchestrator serve");
        let stdout = child.stdout.take().expect("piped");
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut printed = Vec::new();
        let url = loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
                .await
                .expect("serve says where it listens")
                .expect("read serve output")
                .unwrap_or_else(|| panic!("serve exited before listening; it printed {printed:?}"));
            match line.strip_prefix("listening on ") {
                Some(url) => break url.to_owned(),
                None => printed.push(line),
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = child.id().expect("running");
        Served { child, url, pid, printed }
    }

    /// Starts the service inside this test process on a free port, with this installation's
    /// settings, the fast test heartbeats of [`Harness::serve`], and `extra`. It stops when the
    /// returned [`TestApp`] is stopped or dropped.
    pub async fn start(&self, extra: &[(&str, &str)]) -> TestApp {
        let mut pairs: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.extend_from_slice(&SERVE_SETTINGS);
        pairs.extend_from_slice(extra);
        let env = orchestrator::config::Env::from_pairs(pairs);
        let settings = orchestrator::config::Settings::from_env(&env).unwrap_or_else(|e| panic!("settings: {e:?}"));
        let serve = ServeSettings::from_env(&env).unwrap_or_else(|e| panic!("serve settings: {e:?}"));
        let listener = tokio::net::TcpListener::bind(serve.listen).await.expect("bind a free port");
        let service = Service::build(&settings, &serve, false, listener).await.expect("the service starts");
        TestApp { url: format!("http://{}", service.addr()), service: Some(service) }
    }

    /// The names of the files stored in `folder` of a [`Harness::local`] destination, sorted
    /// (without the properties kept beside each).
    pub fn stored_files(&self, folder: &str) -> Vec<String> {
        let root = self.env.iter().find(|(k, _)| k == "FS_ROOT").map(|(_, v)| v.clone()).expect("a local harness");
        let mut names: Vec<String> = match std::fs::read_dir(std::path::Path::new(&root).join(folder)) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".props.json"))
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// A new folder in the shared drive.
    pub fn folder(&self, name: &str) -> String {
        self.double.create_folder_in(&self.drive, name)
    }

    /// Registers app `name` at `url` backing up into `folder`, with [`TOKEN`]. Its copies are
    /// stored as the app sends them unless `extra` says `--compress` (the tests of compression
    /// and encryption do), so the other tests compare stored bytes with the export's.
    pub async fn add_app(&self, name: &str, url: &str, folder: &str, extra: &[&str]) {
        let mut args = vec!["apps", "add", name, "--url", url, "--folder", folder];
        if !extra.contains(&"--schedule") {
            args.extend_from_slice(&["--schedule", "0 3 * * *"]);
        }
        if !extra.contains(&"--compress") {
            args.extend_from_slice(&["--compress", "none"]);
        }
        args.extend_from_slice(extra);
        self.cli_with(&args, &[("BACKUP_TOKEN", TOKEN)]).await.assert_success();
    }

    /// Backs `app` up with `orchestrator run APP EXTRA..`, which must succeed; the copy's name.
    pub async fn backup(&self, app: &str, extra: &[&str]) -> String {
        let mut args = vec!["run", app];
        args.extend_from_slice(extra);
        let out = self.cli(&args).await;
        out.assert_success();
        out.field("file").expect("the copy's name")
    }

    /// The database, opened by the test itself to read what the orchestrator recorded.
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(self.database_url.as_str()).await.expect("open the test database")
    }

    /// The temporary folder of this installation.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name no other call gives, in this run or another: the process, a counter and the clock.
/// (Tests start side by side: two of them may read the same clock value, so the counter keeps
/// their folders and databases apart.)
pub fn unique() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{}_{n}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// A new, empty folder under the system's temporary folder, unique to this call.
pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-orch-{}", unique()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// What every test service runs with, on top of the installation's settings: a free port, and
/// heartbeats and polls fast enough for tests.
const SERVE_SETTINGS: [(&str, &str); 6] = [
    ("LISTEN_ADDR", "127.0.0.1:0"),
    ("SCHEDULER_TICK_MS", "200"),
    ("QUEUE_HEARTBEAT_MS", "500"),
    ("QUEUE_MISSED_HEARTBEATS", "2"),
    ("QUEUE_POLL_MS", "100"),
    ("RETRY_DELAY_SECS", "1"),
];

/// The service running inside the test process.
pub struct TestApp {
    /// Its HTTP base URL.
    pub url: String,
    service: Option<Service>,
}

impl TestApp {
    /// Its database, registry, runner and notifier.
    pub fn context(&self) -> &orchestrator::startup::Context {
        self.service.as_ref().expect("running").context()
    }

    /// Stops it the way SIGTERM stops `serve`, and waits until it has.
    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }
}

/// A running `orchestrator serve`.
pub struct Served {
    child: tokio::process::Child,
    /// Its HTTP base URL.
    pub url: String,
    /// Its process id.
    pub pid: u32,
    /// What it printed before listening (the generated admin password, when one was).
    pub printed: Vec<String>,
}

impl Served {
    /// Kills it at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Asks it to stop (SIGTERM) and waits for it.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        self.child.wait().await.expect("wait for serve")
    }
}
