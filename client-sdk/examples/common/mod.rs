//! What every example does the same way: logs, the token, and serving until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use client_sdk::SecretString;

/// Logs to standard error; `LOG=debug` for more.
pub(crate) fn init_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// The token from `BACKUP_TOKEN`: tokens never go on the command line, where `ps` shows them.
pub(crate) fn token() -> Result<SecretString, ExitCode> {
    match std::env::var("BACKUP_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(SecretString::from(t)),
        _ => {
            eprintln!(
                "error: set BACKUP_TOKEN to the token the orchestrator will send (it is never taken as an argument)"
            );
            Err(ExitCode::from(2))
        }
    }
}

/// Exits with a message for the operator.
pub(crate) fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Serves `app` on `listen` until Ctrl-C or SIGTERM. Prints `listening on http://ADDR` on
/// standard output first, so a caller that asked for port 0 learns the port.
pub(crate) async fn serve(listen: SocketAddr, app: axum::Router) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => return usage_error(format!("cannot listen on {listen}: {e}")),
    };
    let addr = listener.local_addr().expect("a bound listener has an address");
    println!("listening on http://{addr}");
    match client_sdk::serve_until_stopped(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage_error(format!("server error: {e}")),
    }
}
