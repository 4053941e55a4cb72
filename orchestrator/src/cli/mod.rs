//! The command line: one subcommand per file.

pub mod contract;

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
}

impl Cli {
    /// Runs the chosen command and returns the process exit code.
    pub async fn run(self) -> anyhow::Result<std::process::ExitCode> {
        match self.command {
            Command::Contract(command) => command.run().await,
        }
    }
}
