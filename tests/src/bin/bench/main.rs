//! Benchmarks that print figures; nothing here asserts a threshold.
//!
//! `cargo run --release -p e2e --bin bench -- <scenario> [--smoke] [options]`, scenarios:
//! `stream`, `concurrent`, `rclone`, `schedule`, `spread`, `dashboard`, `pickup`, `idle`, `selfbackup`, `audit`,
//! `agent`, or
//! `all`. Everything runs on
//! loopback: apps built with `client-sdk` in this process, the Drive double (hash-only where
//! gigabytes flow), and the orchestrator as its own process so its memory and CPU can be read.
//! Each scenario prints one JSON line of figures, then a table for people. `--smoke` shrinks
//! every scenario to seconds, so CI runs them all and the harness never rots.

mod agent;
mod api;
mod args;
mod audit;
mod concurrent;
mod dashboard;
mod fast_app;
mod idle;
mod measure;
mod pickup;
mod raw_copy;
mod rclone;
mod schedule;
mod seed;
mod selfbackup;
mod spread;
mod stream;

use args::{Args, Scenario};

#[tokio::main]
async fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n\n{}", args::USAGE);
            std::process::exit(2);
        }
    };
    for scenario in args.scenarios() {
        match scenario {
            Scenario::Stream => stream::run(&args).await,
            Scenario::Concurrent => concurrent::run(&args).await,
            Scenario::Schedule => schedule::run(&args).await,
            Scenario::Spread => spread::run(&args).await,
            Scenario::Dashboard => dashboard::run(&args).await,
            Scenario::Pickup => pickup::run(&args).await,
            Scenario::Idle => idle::run(&args).await,
            Scenario::Rclone => rclone::run(&args).await,
            Scenario::SelfBackup => selfbackup::run(&args).await,
            Scenario::Audit => audit::run(&args).await,
            Scenario::Agent => agent::run(&args).await,
        }
    }
}
