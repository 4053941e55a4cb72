//! `orchestrator contract check <URL>`: the conformance kit from the command line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use contract_spec::client::{AppClient, Timeouts};
use contract_spec::conformance::{self, Options};
use secrecy::SecretString;

/// Contract subcommands.
#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Check an app against contract v1, one line per check; exits 0 only when all pass.
    ///
    /// The token is read from the BACKUP_TOKEN environment variable.
    Check {
        /// The app's base URL, e.g. http://billing.internal:8080
        url: String,
        /// Also export a backup and import it back. This overwrites the app's data.
        #[arg(long)]
        with_import: bool,
        /// Longest wait, in seconds, for an answer or for a byte of an export.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// Longest time, in seconds, one export may take.
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
        export_timeout: u64,
    },
}

impl ContractCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            ContractCommand::Check { url, with_import, timeout, export_timeout } => {
                let token = std::env::var("BACKUP_TOKEN")
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .context("set BACKUP_TOKEN to the app's backup token (it is never taken as an argument)")?;
                let timeouts = Timeouts {
                    connect: Duration::from_secs(timeout.min(10)),
                    response: Duration::from_secs(timeout),
                    idle: Duration::from_secs(timeout),
                    total: Duration::from_secs(export_timeout),
                };
                let client = AppClient::new(&url, SecretString::from(token), timeouts)?;
                let report = conformance::check(&client, &Options { with_import, ..Options::default() }).await;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{report}")?;
                Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
        }
    }
}
