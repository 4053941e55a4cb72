//! The command line: one subcommand per file.

pub mod contract;
pub mod remote;

use clap::{Parser, Subcommand};

/// Pull-based backup orchestrator: backs up the apps on your network into Google Drive.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with backup contract v1 (check an app against it).
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// Use the configured destination by hand: put, ls, rm, get.
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
}

impl Cli {
    /// Runs the chosen command and returns the process exit code.
    pub async fn run(self, env: &crate::config::Env) -> anyhow::Result<std::process::ExitCode> {
        match self.command {
            Command::Contract(command) => command.run().await,
            Command::Remote(command) => command.run(env).await,
        }
    }
}
