use clap::Parser;
use orchestrator::cli::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,opendal=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let env = orchestrator::config::Env::from_process();
    match Cli::parse().run(&env).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
