use std::process::ExitCode;

use clap::Parser;
use orchestrator::cli::Cli;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> ExitCode {
    let env = orchestrator::config::Env::from_process();
    let filter = env.get("LOG").unwrap_or_else(|| "warn,opendal=error".to_owned());
    let filter = match EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: LOG={filter:?} is not a log filter ({e}): use e.g. warn, info or info,orchestrator=debug"
            );
            return ExitCode::from(2);
        }
    };
    // Lines go to stderr as LOG and LOG_FORMAT say; lines of a run also go to its own log.
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(orchestrator::runlog::layer());
    match env.get("LOG_FORMAT").as_deref().unwrap_or("pretty") {
        "json" => registry.with(logs.json().with_filter(filter)).init(),
        "pretty" => registry.with(logs.with_filter(filter)).init(),
        other => {
            eprintln!("error: LOG_FORMAT={other:?}: use json (one JSON object per line) or pretty");
            return ExitCode::from(2);
        }
    }
    match Cli::parse().run(&env).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
