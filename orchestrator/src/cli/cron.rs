//! `orchestrator cron next "<EXPR>"`: when a schedule fires, as the scheduler computes it (the web
//! form's preview uses the same code).

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use crate::schedule::cron::CronSchedule;

/// Cron subcommands.
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Print the next fire times of a schedule, in RFC 3339, one per line.
    Next {
        /// Unix cron (5 fields, or 6 with seconds first), or @hourly, @daily, @weekly, @monthly, @yearly.
        expression: String,
        /// Time zone of the schedule (IANA name).
        #[arg(long = "tz", default_value = "UTC")]
        time_zone: String,
        /// Start after this instant (RFC 3339; default now).
        #[arg(long)]
        after: Option<String>,
        /// How many fire times.
        #[arg(short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
    },
}

impl CronCommand {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let CronCommand::Next { expression, time_zone, after, count } = self;
        let schedule = CronSchedule::parse(&expression, &time_zone).map_err(anyhow::Error::msg)?;
        let after = match after {
            None => jiff::Timestamp::now(),
            Some(text) => text.parse::<jiff::Timestamp>().map_err(|e| {
                anyhow::anyhow!("--after {text:?} is not an RFC 3339 instant (e.g. 2026-11-22T03:00:00Z): {e}")
            })?,
        };
        let tz = jiff::tz::TimeZone::get(&time_zone).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut out = std::io::stdout().lock();
        for fire in schedule.upcoming(after, count as usize) {
            let local = fire.to_zoned(tz.clone());
            writeln!(out, "{}", local.strftime("%Y-%m-%dT%H:%M:%S%:z"))?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
