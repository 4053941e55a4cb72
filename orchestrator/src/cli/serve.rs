//! `orchestrator serve`: the HTTP server, the scheduler and the workers in one process (built by
//! [`crate::startup::Service`]). SIGTERM or Ctrl-C stops taking jobs, gives running backups
//! `SHUTDOWN_GRACE` to finish, then abandons them (their uploads are never finalized, so no
//! partial file appears; the queue re-runs them once a process is up again).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Env;
use crate::startup::Service;

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(env: &Env, demo: bool) -> anyhow::Result<ExitCode> {
    // The demo keeps everything in a folder of its own: nothing of it reaches a later `serve`.
    let env = if demo { crate::cli::demo::environment(env) } else { env.clone() };
    let (settings, serve) = crate::startup::serve_settings(&env).map_err(|errors| {
        let count = if errors.len() == 1 {
            "a setting is invalid".to_owned()
        } else {
            format!("{} settings are invalid", errors.len())
        };
        anyhow::anyhow!("{count}:\n  {}", errors.join("\n  "))
    })?;
    if demo {
        println!("{}", crate::cli::demo::WHERE);
    }
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    let mut service = Service::build(&settings, &serve, demo, listener).await?;
    if let Some((user, password)) = service.generated_admin_password() {
        use secrecy::ExposeSecret;
        // Printed once, on the terminal that started the first process; only its hash is kept.
        println!(
            "admin sign-in: user {:?}, password {} (shown once; set ADMIN_PASSWORD to choose your own)",
            user,
            password.expose_secret()
        );
    }
    // Printed at every start so the operator can note it with SECRET_KEY.
    println!(
        "deployment id: {} (note it with SECRET_KEY; set DEPLOYMENT_ID to it to recover)",
        service.context().deployment_id
    );
    println!("listening on http://{}", service.addr());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        failed = service.wait() => return failed.map(|()| ExitCode::SUCCESS),
    }
    service.stop().await;
    Ok(ExitCode::SUCCESS)
}
