use std::process::ExitCode;

use clap::Parser;
use orchestrator::cli::Cli;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> ExitCode {
    let env = orchestrator::config::Env::from_process();
    let mut errors = Vec::new();
    let filter = env.get("LOG").unwrap_or_else(|| "warn,opendal=error".to_owned());
    let filter = EnvFilter::try_new(&filter)
        .map_err(|e| {
            errors.push(format!(
                "LOG={filter:?} is not a log filter ({e}): use e.g. warn, info or info,orchestrator=debug"
            ))
        })
        .ok();
    let json = match env.get("LOG_FORMAT").as_deref().unwrap_or("pretty") {
        "json" => Some(true),
        "pretty" => Some(false),
        other => {
            errors.push(format!("LOG_FORMAT={other:?}: use json (one JSON object per line) or pretty"));
            None
        }
    };
    let (Some(filter), Some(json)) = (filter, json) else {
        // Every other invalid setting in the same report, as `serve` gives them.
        errors.extend(orchestrator::startup::serve_settings(&env).err().unwrap_or_default());
        let count = if errors.len() == 1 {
            "a setting is invalid".to_owned()
        } else {
            format!("{} settings are invalid", errors.len())
        };
        eprintln!("error: {count}:\n  {}", errors.join("\n  "));
        return ExitCode::from(2);
    };
    // Lines go to stderr as LOG and LOG_FORMAT say; lines of a run also go to its own log.
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(orchestrator::runlog::layer());
    if json {
        registry.with(logs.json().with_filter(filter)).init();
    } else {
        registry.with(logs.with_filter(filter)).init();
    }
    match Cli::parse().run(&env).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
