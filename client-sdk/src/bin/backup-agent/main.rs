//! `backup-agent`: serves backup contract v1 next to an app, with no code.
//!
//! ```sh
//! BACKUP_TOKEN_FILE=/run/secrets/backup_token backup-agent --config /etc/backup-agent.toml
//! ```
//! ```toml
//! app = "billing"
//! listen = "0.0.0.0:9000"
//!
//! [postgres]                  # how the postgres and odoo recipes connect (else PG* variables)
//! host = "db"
//! user = "billing"
//! password_file = "/run/secrets/pg_password"
//!
//! [[type]]
//! name = "full"
//! recipe = "postgres"
//! database = "billing"
//!
//! [[type]]
//! name = "schema"
//! recipe = "postgres"
//! database = "billing"
//! schema_only = true
//! ```
//! Recipes: `postgres`, `sqlite`, `directory`, `odoo`, `command`. Without a file, one recipe is
//! configured with `BACKUP_AGENT_*` variables (`BACKUP_AGENT_APP`, `BACKUP_AGENT_RECIPE`,
//! `BACKUP_AGENT_DATABASE`, `BACKUP_AGENT_PATH`, ...). The token is read from the file named by
//! `token_file` or `BACKUP_TOKEN_FILE`, or from `BACKUP_TOKEN`; never from an argument.

mod agent;
mod config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use client_sdk::{BackupSource, SecretString};

use crate::agent::Agent;
use crate::config::{File, Settings};

/// Serve backup contract v1 for a database, a folder or any command, from a TOML file.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The TOML configuration (else the BACKUP_AGENT_* variables).
    #[arg(long, env = "BACKUP_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// Where to listen, overriding the configuration (port 0 picks a free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Check the configuration and the tools the recipes need, print the capabilities, and exit.
    #[arg(long)]
    check: bool,
}

fn init_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// The token from `BACKUP_TOKEN_FILE` or `BACKUP_TOKEN`, when set.
fn env_token() -> Result<Option<SecretString>, String> {
    if let Some(path) = std::env::var_os("BACKUP_TOKEN_FILE").filter(|p| !p.is_empty()) {
        return config::read_secret(&PathBuf::from(path), "BACKUP_TOKEN_FILE").map(Some);
    }
    Ok(std::env::var("BACKUP_TOKEN").ok().filter(|t| !t.trim().is_empty()).map(SecretString::from))
}

fn settings(args: &Args) -> Result<Settings, String> {
    let file = match &args.config {
        Some(path) => File::read(path)?,
        None => File::from_env(|key| std::env::var(key).ok())?,
    };
    let mut settings = file.into_settings(env_token()?)?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    Ok(settings)
}

/// Every program the recipes run must start: found now, not at 03:00.
async fn check_tools(agent: &Agent) -> Result<(), String> {
    let mut checked = std::collections::BTreeSet::new();
    for entry in &agent.entries {
        for tool in entry.recipe.tools() {
            if !checked.insert(*tool) {
                continue;
            }
            let arg = if *tool == "sh" { "-c" } else { "--version" };
            let mut cmd = tokio::process::Command::new(tool);
            cmd.arg(arg);
            if *tool == "sh" {
                cmd.arg("true");
            }
            match cmd.output().await {
                Ok(out) if out.status.success() => {
                    let version = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_owned();
                    tracing::info!(tool, version = %version, "found");
                }
                _ => {
                    return Err(format!(
                        "`{tool}` is needed by the type {:?} and could not be run: install it (for PostgreSQL, the client tools of at least the server's major version)",
                        entry.advertised.name
                    ));
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    let args = Args::parse();
    let settings = match settings(&args) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let agent = Agent { app: settings.app, entries: settings.entries };
    let problems = agent.capabilities().problems();
    if !problems.is_empty() {
        return fail(problems.join("; "));
    }
    if let Err(e) = check_tools(&agent).await {
        return fail(e);
    }
    if args.check {
        let mut capabilities = agent.capabilities();
        capabilities.health = agent.health().await;
        println!("{}", serde_json::to_string_pretty(&capabilities).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", settings.listen)),
    };
    let addr = listener.local_addr().expect("a bound listener has an address");
    let types: Vec<String> = agent.entries.iter().map(|e| e.advertised.name.clone()).collect();
    tracing::info!(%addr, types = %types.join(", "), "backup agent ready");
    println!("listening on http://{addr}");
    let app = client_sdk::router(agent, settings.token);
    match client_sdk::serve_until_stopped(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("server error: {e}")),
    }
}
