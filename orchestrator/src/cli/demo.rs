//! `serve --demo`: a sample app, so a newcomer can press Test now a minute after cloning. The
//! SDK's `Directory` source serves `data/demo/sample` inside this process on a loopback port,
//! registered as the app `demo` (its URL and a fresh token are updated on every start). The UI
//! labels it as a demo.
//!
//! The demo never touches the installation's own data: its database, generated key and copies
//! live under [`DEMO_DIR`] whatever `DATABASE_URL`, `SECRET_KEY` and `STORAGE` say, so a later
//! plain `serve` finds no trace of it (no `demo` app failing every night against a port nobody
//! listens on).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use secrecy::SecretString;

use crate::config::Env;
use crate::registry::RegistryError;
use crate::registry::input::AppInput;
use crate::startup::Context;

/// The demo app's name.
pub const DEMO_APP: &str = "demo";

/// The demo's own folder (under the working folder): database, key, copies and sample.
pub const DEMO_DIR: &str = "data/demo";

/// What `serve --demo` prints at start.
pub const WHERE: &str = "demo mode: its database, key and copies live in data/demo/ (DATABASE_URL, SECRET_KEY and STORAGE are not used); a plain `serve` never sees them; delete the folder to start the demo over";

/// Where the sample folder lives.
pub fn sample_dir() -> PathBuf {
    PathBuf::from(DEMO_DIR).join("sample")
}

/// The settings of a demo: `env` with the database, the key, the destination and the
/// deployment pointed into [`DEMO_DIR`]. Everything else (admin password, listen address,
/// timeouts) is the operator's.
pub fn environment(env: &Env) -> Env {
    let mut env = env.clone();
    for name in ["SECRET_KEY", "DEPLOYMENT_ID", "GDRIVE_CREDENTIALS", "S3_SECRET_ACCESS_KEY", "SELF_BACKUP_FOLDER"] {
        env = env.without(name);
    }
    env.with("DATABASE_URL", &format!("sqlite://{DEMO_DIR}/orchestrator.db?mode=rwc"))
        .with("STORAGE", "fs")
        .with("FS_ROOT", &format!("{DEMO_DIR}/backups"))
}

/// Creates the sample folder (once), starts the sample app and registers it. Returns its name.
pub async fn start(ctx: &Context) -> anyhow::Result<String> {
    let sample = sample_dir();
    write_sample(&sample).with_context(|| format!("cannot create the demo folder {}", sample.display()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot start the demo app")?;
    let url = format!("http://{}", listener.local_addr()?);
    let token = crate::http::auth::random_token(32);
    let source = client_sdk::Directory::new("demo", &sample);
    let router = client_sdk::router(source, SecretString::from(token.clone()));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the demo app stopped");
        }
    });
    let input = AppInput {
        name: Some(DEMO_APP.into()),
        url: Some(url),
        token: Some(SecretString::from(token)),
        schedule: Some("0 3 * * *".into()),
        time_zone: Some("UTC".into()),
        folder: Some("demo".into()),
        keep_last: Some(5),
        ..AppInput::default()
    };
    match ctx.registry.get(DEMO_APP).await {
        Ok(_) => {
            let changes = AppInput { url: input.url.clone(), token: input.token.clone(), ..AppInput::default() };
            ctx.registry.edit(DEMO_APP, &changes).await?;
        }
        Err(RegistryError::NotFound(_)) => {
            ctx.registry.add(&input).await?;
            let detail = crate::catalogue::Msg::new("audit_detail.demo");
            crate::audit::record_said(&ctx.db, "system", "app.create", Some(DEMO_APP), &detail).await;
        }
        Err(e) => return Err(e.into()),
    }
    if ctx.runner.destination.kind() == "gdrive" {
        tracing::warn!("demo mode with Google Drive: edit the demo app and set its folder to a Drive folder id");
    }
    Ok(DEMO_APP.to_owned())
}

fn write_sample(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir.join("invoices"))?;
    std::fs::write(
        dir.join("README.txt"),
        "This folder is the demo app's data. Each backup is a tar.gz of it.\n\
         Change a file, press Test now again, and compare the copies.\n",
    )?;
    for month in 1..=6 {
        let mut csv = String::from("invoice,customer,amount\n");
        for n in 0..200 {
            csv.push_str(&format!("2026-{month:02}-{n:04},customer-{},{}.{:02}\n", n % 17, 100 + n * 7, n % 100));
        }
        std::fs::write(dir.join("invoices").join(format!("2026-{month:02}.csv")), csv)?;
    }
    Ok(())
}
