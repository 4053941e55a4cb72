use std::process::ExitCode;

use clap::Parser;
use orchestrator::cli::Cli;
use tracing_subscriber::EnvFilter;

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
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match env.get("LOG_FORMAT").as_deref().unwrap_or("pretty") {
        "json" => logs.json().init(),
        "pretty" => logs.init(),
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
