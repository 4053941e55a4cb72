//! `orchestrator serve`: the HTTP server, the scheduler and the workers in one process.
//! SIGTERM or Ctrl-C stops taking jobs, gives running backups `SHUTDOWN_GRACE` to finish, then
//! abandons them (their uploads are never finalized, so no partial file appears; the queue
//! re-runs them once a process is up again).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::Env;
use crate::http::health::Health;
use crate::jobs::worker::{self, Jobs, WorkerSettings};
use crate::schedule::scheduler::Scheduler;
use crate::startup::Context;

/// Settings only `serve` reads.
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
        let workers = WorkerSettings {
            concurrency: env.number("MAX_CONCURRENT_BACKUPS", d.concurrency, &mut errors).max(1),
            heartbeat: Duration::from_millis(
                env.number("QUEUE_HEARTBEAT_MS", d.heartbeat.as_millis() as u64, &mut errors).max(100),
            ),
            missed_heartbeats: env.number("QUEUE_MISSED_HEARTBEATS", d.missed_heartbeats, &mut errors).max(1),
            poll: Duration::from_millis(env.number("QUEUE_POLL_MS", d.poll.as_millis() as u64, &mut errors).max(10)),
            max_attempts: env.number("MAX_ATTEMPTS", d.max_attempts, &mut errors).max(1),
            retry_delay: Duration::from_secs(env.number("RETRY_DELAY_SECS", d.retry_delay.as_secs(), &mut errors)),
            job_timeout: Duration::from_secs(env.number("JOB_TIMEOUT", d.job_timeout.as_secs(), &mut errors).max(1)),
        };
        let tick = Duration::from_millis(env.number("SCHEDULER_TICK_MS", 1000u64, &mut errors).max(50));
        let grace = Duration::from_secs(env.number("SHUTDOWN_GRACE", 30u64, &mut errors));
        let web = crate::config::web::WebSettings::from_env(env).map_err(|e| errors.extend(e)).ok();
        match web {
            Some(web) if errors.is_empty() => Ok(ServeSettings { listen, workers, tick, grace, web }),
            _ => Err(errors),
        }
    }
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(ctx: Context, settings: ServeSettings, demo: bool) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    if ctx.notifier.settings().public_url.is_none() {
        ctx.notifier.default_base_url(format!("http://{addr}"));
    }
    let notifier_task = tokio::spawn(ctx.notifier.clone().run(stop_rx.clone()));
    let staleness_task = tokio::spawn(ctx.notifier.clone().watch_staleness(stop_rx.clone()));
    let scheduler = Scheduler::new(ctx.db.clone());
    let health = Health {
        db: ctx.db.clone(),
        last_tick: scheduler.last_tick.clone(),
        max_tick_age: settings.tick * 5 + Duration::from_secs(5),
    };
    let scheduler_task = tokio::spawn(scheduler.run(settings.tick, stop_rx.clone()));

    let jobs =
        Arc::new(Jobs { runner: ctx.runner.clone(), registry: ctx.registry.clone(), settings: settings.workers });
    // Worker names must be unique per process start.
    let name = format!("{}-{}", ctx.runner.holder, jiff::Timestamp::now().as_millisecond());
    let mut worker_task = tokio::spawn(worker::run(jobs, name, stop_rx.clone()));

    let (admin, generated) =
        crate::http::auth::admin::resolve(&ctx.db, &settings.web).await.map_err(anyhow::Error::msg)?;
    if let Some(password) = generated {
        use secrecy::ExposeSecret;
        // Printed once, on the terminal that started the first process; only its hash is kept.
        println!(
            "admin sign-in: user {:?}, password {} (shown once; set ADMIN_PASSWORD to choose your own)",
            admin.user,
            password.expose_secret()
        );
    }
    let web = std::sync::Arc::new(crate::http::state::WebState {
        throttle: crate::http::auth::throttle::Throttle::new(settings.web.login_max_failures),
        settings: settings.web.clone(),
        admin,
        demo_app: if demo { Some(super::demo::start(&ctx).await?) } else { None },
        ctx: ctx.clone(),
    });
    let mut http_stop = stop_rx.clone();
    let app = crate::http::app(health, web).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    println!("listening on http://{addr}");
    tracing::info!(%addr, "serving");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        result = &mut worker_task => {
            let _ = stop_tx.send(true);
            anyhow::bail!("the workers stopped: {:?}", result);
        }
    }
    tracing::info!(grace = ?settings.grace, "stopping: no new jobs; letting running backups finish");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(settings.grace, &mut worker_task).await.is_err() {
        // Abort the uploads (no file appears), record the runs as stopped and queue them again.
        tracing::warn!("running backups did not finish within the grace period; stopping them");
        ctx.runner.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        if tokio::time::timeout(Duration::from_secs(10), &mut worker_task).await.is_err() {
            worker_task.abort();
        }
    }
    let _ = scheduler_task.await;
    let _ = staleness_task.await;
    // Notifications queued by the last runs get one more chance before the process ends.
    if tokio::time::timeout(Duration::from_secs(10), notifier_task).await.is_err() {
        tracing::warn!("notifications still being sent at exit are retried by the next process");
    }
    crate::runlog::flush().await;
    let _ = server.await;
    Ok(ExitCode::SUCCESS)
}
