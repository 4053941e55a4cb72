//! Wiring: settings in, a running service (or, for one-shot commands, the open database,
//! registry, destination and runner) out. `main.rs` and the tests go through here; nothing else
//! reads the environment.
//!
//! Process-wide state a second [`Service`] in the same process shares (tests start several):
//! - the run log writer (`crate::runlog`): one database per process receives run log lines; a
//!   second service running at the same time records none (see that module);
//! - the queue's in-process wake-up (`jobs::queue::announce`): a job queued by one service
//!   also wakes the other's idle workers, which then poll their own queue once and find nothing;
//! - Drive error counters (`backup_drive_errors_total` in `/metrics`) count every service's
//!   errors;
//! - `serve --demo` writes its sample under the working folder, which every service shares.
//!
//! None of these lets one service act on the other's database. Leases and worker names are
//! per service: see [`Service::build`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backup::run::Runner;
use crate::config::{Env, Settings};
use crate::http::health::Health;
use crate::jobs::worker::{Jobs, WorkerSettings};
use crate::notify::Notifier;
use crate::registry::Registry;
use crate::schedule::scheduler::Scheduler;
use crate::secrets::{self, SecretBox};
use crate::storage::destination::Destination;
use crate::storage::google_account::GoogleAccount;

/// Everything a command needs.
#[derive(Debug, Clone)]
pub struct Context {
    /// This deployment's id (`DEPLOYMENT_ID`, or the one generated on the first start).
    pub deployment_id: String,
    /// The database.
    pub db: DatabaseConnection,
    /// Apps.
    pub registry: Registry,
    /// Runs backups.
    pub runner: Runner,
    /// Sends notifications.
    pub notifier: Notifier,
    /// Seals and opens secrets (and self-backups) with the key derived from `SECRET_KEY`.
    pub secrets: Arc<SecretBox>,
}

/// What every command opens first: the database (migrated), the key derived from `SECRET_KEY`
/// and the destination. Nothing is checked against the database yet: `recover` starts here.
#[derive(Debug, Clone)]
pub struct Parts {
    /// The database.
    pub db: DatabaseConnection,
    /// The sealing key.
    pub secrets: Arc<SecretBox>,
    /// The destination.
    pub destination: Destination,
}

/// Opens the [`Parts`].
pub async fn open_parts(settings: &Settings) -> anyhow::Result<Parts> {
    let sqlite_file = crate::db::dialect::sqlite_file(&settings.database_url);
    let key = secrets::load_key(settings.secret_key.clone(), sqlite_file.as_deref()).map_err(anyhow::Error::msg)?;
    let secrets = Arc::new(SecretBox::new(&key).map_err(anyhow::Error::msg)?);
    let db = crate::db::connect(&settings.database_url)
        .await
        .with_context(|| format!("could not open the database {}", redact_url(&settings.database_url)))?;
    let destination = Destination::open(&settings.storage).map_err(|e| anyhow::anyhow!("storage: {}", e.message()))?;
    Ok(Parts { db, secrets, destination })
}

/// Opens the database (migrating it), checks `SECRET_KEY` and `DEPLOYMENT_ID` against it, and
/// opens the destination.
/// The run log of this process goes to this database until it exits.
pub async fn open(settings: &Settings) -> anyhow::Result<Context> {
    let ctx = connect(settings).await?;
    // A one-shot command lives as long as its process: the attachment is never ended.
    let _ = crate::runlog::attach(ctx.db.clone());
    Ok(ctx)
}

async fn connect(settings: &Settings) -> anyhow::Result<Context> {
    let Parts { db, secrets, destination } = open_parts(settings).await?;
    // Before anything is recorded: a refused start leaves the new database as `recover` wants it.
    crate::selfbackup::guard::check(&db, &destination, settings).await.map_err(anyhow::Error::msg)?;
    if let Err(e) = secrets::check_fingerprint(&db, &secrets).await {
        bail!(e);
    }
    let deployment_id =
        crate::deployment::establish(&db, settings.deployment_id.as_deref()).await.map_err(anyhow::Error::msg)?;
    let holder = format!("{}:{}", hostname(), std::process::id());
    let notifier = Notifier::new(db.clone(), secrets.clone(), settings.notify.clone());
    let google = GoogleAccount::new(db.clone(), secrets.clone(), settings.drive_oauth.clone(), &destination);
    if let Some(google) = &google
        && let Err(waiting) = google.sync().await
    {
        tracing::warn!("{waiting}");
    }
    let runner = Runner {
        deployment_id: deployment_id.clone(),
        db: db.clone(),
        destination,
        settings: settings.run,
        holder,
        stopping: Default::default(),
        notifier: notifier.clone(),
        google,
        encryption: std::sync::Arc::new(settings.encryption.clone()),
        bandwidth: settings
            .run
            .upload_bandwidth
            .map(|b| std::sync::Arc::new(crate::backup::bandwidth::Bandwidth::new(b))),
    };
    Ok(Context {
        deployment_id,
        registry: Registry::new(db.clone(), secrets.clone())
            .with_global_recipients(!runner.encryption.recipients.is_empty()),
        db,
        runner,
        notifier,
        secrets,
    })
}

/// Settings only the service reads.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// `LISTEN_ADDR` (default 127.0.0.1:8080).
    pub listen: SocketAddr,
    /// Workers.
    pub workers: WorkerSettings,
    /// `SCHEDULER_TICK_MS` (default 1000).
    pub tick: Duration,
    /// `SHUTDOWN_GRACE` seconds (default 30).
    pub grace: Duration,
    /// The web UI and API.
    pub web: crate::config::web::WebSettings,
}

impl ServeSettings {
    /// Reads them; every problem at once.
    pub fn from_env(env: &Env) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let listen = env.get("LISTEN_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen.parse().unwrap_or_else(|_| {
            errors.push(format!("LISTEN_ADDR={listen:?}: use HOST:PORT, e.g. 0.0.0.0:8080"));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let d = WorkerSettings::default();
        // Zero workers, zero timeouts and the like would start a service that never backs
        // anything up: refused, with the range to use.
        let ms = |d: Duration| d.as_millis() as u64;
        let workers = WorkerSettings {
            concurrency: env.number_in(
                "MAX_CONCURRENT_BACKUPS",
                d.concurrency,
                (1, 256),
                "backups at once",
                &mut errors,
            ),
            heartbeat: Duration::from_millis(env.number_in(
                "QUEUE_HEARTBEAT_MS",
                ms(d.heartbeat),
                (100, 600_000),
                "milliseconds",
                &mut errors,
            )),
            missed_heartbeats: env.number_in(
                "QUEUE_MISSED_HEARTBEATS",
                d.missed_heartbeats,
                (1, 100),
                "heartbeats",
                &mut errors,
            ),
            poll: Duration::from_millis(env.number_in(
                "QUEUE_POLL_MS",
                ms(d.poll),
                (10, 60_000),
                "milliseconds",
                &mut errors,
            )),
            max_attempts: env.number_in("MAX_ATTEMPTS", d.max_attempts, (1, 100), "attempts", &mut errors),
            retry_delay: Duration::from_secs(env.number_in(
                "RETRY_DELAY_SECS",
                d.retry_delay.as_secs(),
                (0, 86_400),
                "seconds",
                &mut errors,
            )),
            job_timeout: Duration::from_secs(env.number_in(
                "JOB_TIMEOUT",
                d.job_timeout.as_secs(),
                (1, 30 * 86_400),
                "seconds",
                &mut errors,
            )),
        };
        let tick = Duration::from_millis(env.number_in(
            "SCHEDULER_TICK_MS",
            1000u64,
            (50, 60_000),
            "milliseconds",
            &mut errors,
        ));
        let grace = Duration::from_secs(env.number_in("SHUTDOWN_GRACE", 30u64, (1, 3600), "seconds", &mut errors));
        let web = crate::config::web::WebSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        match web {
            Some(web) if errors.is_empty() => Ok(ServeSettings { listen, workers, tick, grace, web }),
            _ => Err(errors),
        }
    }
}

/// Everything `serve` reads: the settings every command shares and those of the service, with
/// the problems of both reported together.
pub fn serve_settings(env: &Env) -> Result<(Settings, ServeSettings), Vec<String>> {
    match (Settings::from_env(env), ServeSettings::from_env(env)) {
        (Ok(settings), Ok(serve)) => Ok((settings, serve)),
        (settings, serve) => Err(settings.err().into_iter().chain(serve.err()).flatten().collect()),
    }
}

/// The running service: HTTP server, scheduler, workers, notifications and the staleness
/// watcher, on one database. Dropping it asks every part to stop without waiting; [`Service::stop`]
/// stops it the graceful way.
#[derive(Debug)]
pub struct Service {
    addr: SocketAddr,
    ctx: Context,
    admin_user: String,
    generated_password: Option<SecretString>,
    grace: Duration,
    stop: watch::Sender<bool>,
    worker: Option<JoinHandle<Result<(), crate::jobs::worker::WorkerStopped>>>,
    scheduler: JoinHandle<()>,
    staleness: JoinHandle<()>,
    notifier: JoinHandle<()>,
    self_backup: Option<JoinHandle<()>>,
    audit: Option<JoinHandle<()>>,
    drills: JoinHandle<()>,
    server: JoinHandle<std::io::Result<()>>,
    run_log: Option<crate::runlog::Attachment>,
}

impl Service {
    /// Opens the database (migrating it) and the destination, resolves the admin account, and
    /// starts every part, serving HTTP on `listener`. `demo` also starts and registers the sample
    /// app of `serve --demo`.
    pub async fn build(
        settings: &Settings,
        serve: &ServeSettings,
        demo: bool,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Service> {
        let addr = listener.local_addr().context("the listener has no address")?;
        let ctx = connect(settings).await?;
        // Everything that can fail comes before anything starts, so a failed build leaves
        // nothing running.
        let demo_app = if demo { Some(crate::cli::demo::start(&ctx).await?) } else { None };
        let (admin, generated_password) =
            crate::http::auth::admin::resolve(&ctx.db, &serve.web).await.map_err(anyhow::Error::msg)?;
        let from_settings = serve.web.admin_password.is_some();
        crate::users::ensure_first_admin(&ctx.db, &admin.user, admin.password_hash(), from_settings).await?;
        let oidc = match serve.web.oidc.clone() {
            Some(oidc) => Some(crate::http::auth::oidc::Provider::new(oidc).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let run_log = crate::runlog::attach(ctx.db.clone());

        let (stop, stop_rx) = watch::channel(false);
        if ctx.notifier.settings().public_url.is_none() {
            ctx.notifier.default_base_url(format!("http://{addr}"));
        }
        let notifier = tokio::spawn(ctx.notifier.clone().run(stop_rx.clone()));
        let staleness = tokio::spawn(ctx.notifier.clone().watch_staleness(stop_rx.clone()));
        let scheduler = Scheduler::new(ctx.db.clone());
        let health = Health {
            db: ctx.db.clone(),
            last_tick: scheduler.last_tick.clone(),
            max_tick_age: serve.tick * 5 + Duration::from_secs(5),
        };
        let scheduler = tokio::spawn(scheduler.run(serve.tick, stop_rx.clone()));

        let jobs =
            Arc::new(Jobs { runner: ctx.runner.clone(), registry: ctx.registry.clone(), settings: serve.workers });
        let worker = tokio::spawn(crate::jobs::worker::run(jobs, worker_name(&ctx.runner.holder), stop_rx.clone()));

        let self_backup = match (&settings.self_backup.schedule, &settings.self_backup.folder) {
            (Some(schedule), Some(_)) => Some(tokio::spawn(crate::jobs::self_backup::run(
                ctx.clone(),
                settings.self_backup.clone(),
                schedule.clone(),
                stop_rx.clone(),
            ))),
            (Some(_), None) => {
                tracing::warn!("{} (or set SELF_BACKUP_SCHEDULE=off)", settings.self_backup.off_reason());
                None
            }
            (None, _) => None,
        };

        let audit = settings.audit.schedule.clone().map(|schedule| {
            tokio::spawn(crate::jobs::audit::run(ctx.clone(), settings.audit.clone(), schedule, stop_rx.clone()))
        });
        let drills = tokio::spawn(crate::jobs::drills::run(
            ctx.clone(),
            settings.audit.drill_max_age_days,
            serve.tick,
            stop_rx.clone(),
        ));

        let admin_user = admin.user.clone();
        let web = Arc::new(crate::http::state::WebState {
            oidc,
            throttle: crate::http::auth::throttle::Throttle::new(serve.web.login_max_failures),
            settings: serve.web.clone(),
            self_backup: settings.self_backup.clone(),
            admin,
            demo_app,
            max_attempts: serve.workers.max_attempts,
            ctx: ctx.clone(),
        });
        let mut http_stop = stop_rx;
        let app = crate::http::app(health, web).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.wait_for(|s| *s).await;
                })
                .await
        });
        tracing::info!(%addr, "serving");
        Ok(Service {
            addr,
            ctx,
            admin_user,
            generated_password,
            grace: serve.grace,
            stop,
            worker: Some(worker),
            scheduler,
            staleness,
            notifier,
            self_backup,
            audit,
            drills,
            server,
            run_log,
        })
    }

    /// Where it serves HTTP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its database, registry, runner and notifier.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The admin's user name and password when this start generated the password (it is stored
    /// only as a hash: show it once).
    pub fn generated_admin_password(&self) -> Option<(&str, &SecretString)> {
        self.generated_password.as_ref().map(|p| (self.admin_user.as_str(), p))
    }

    /// Waits while the service runs. It only ends on its own when its workers stop, which is a
    /// failure; after that, [`Service::stop`] stops the rest.
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        let Some(worker) = self.worker.as_mut() else { return std::future::pending().await };
        let result = worker.await;
        self.worker = None;
        let _ = self.stop.send(true);
        bail!("the workers stopped: {:?}", result)
    }

    /// Stops taking jobs, gives running backups the grace period (`SHUTDOWN_GRACE`) to finish,
    /// then stops them (their uploads are never finalized, so no partial file appears; the queue
    /// runs them again once a service is up); then sends the notifications still due, stores the
    /// run log and closes the HTTP server.
    pub async fn stop(mut self) {
        tracing::info!(grace = ?self.grace, "stopping: no new jobs; letting running backups finish");
        let _ = self.stop.send(true);
        if let Some(mut worker) = self.worker.take()
            && tokio::time::timeout(self.grace, &mut worker).await.is_err()
        {
            // Abort the uploads (no file appears), record the runs as stopped and queue them again.
            tracing::warn!("running backups did not finish within the grace period; stopping them");
            self.ctx.runner.stopping.store(true, Ordering::Relaxed);
            if tokio::time::timeout(Duration::from_secs(10), &mut worker).await.is_err() {
                worker.abort();
            }
        }
        let _ = (&mut self.scheduler).await;
        let _ = (&mut self.staleness).await;
        if let Some(self_backup) = self.self_backup.as_mut() {
            let _ = self_backup.await;
        }
        if let Some(audit) = self.audit.as_mut() {
            let _ = audit.await;
        }
        let _ = (&mut self.drills).await;
        // Notifications queued by the last runs get one more chance before the service ends.
        if tokio::time::timeout(Duration::from_secs(10), &mut self.notifier).await.is_err() {
            tracing::warn!("notifications still being sent at exit are retried by the next process");
        }
        match self.run_log.take() {
            Some(run_log) => run_log.detach().await,
            None => crate::runlog::flush().await,
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The queue's name for this service's workers, unique per start: `HOLDER-START_MS`, where the
/// start is made later than any earlier start in this process so that two services started in
/// the same millisecond (tests) still differ.
fn worker_name(holder: &str) -> String {
    static LAST_START: AtomicI64 = AtomicI64::new(0);
    let now = jiff::Timestamp::now().as_millisecond();
    let mut last = LAST_START.load(Ordering::Relaxed);
    loop {
        let start = now.max(last + 1);
        match LAST_START.compare_exchange_weak(last, start, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format!("{holder}-{start}"),
            Err(actual) => last = actual,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "localhost".into())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
