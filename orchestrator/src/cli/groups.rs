//! `orchestrator groups`: the groups apps are in, and their settings — how many backups of a
//! group run at once (one per database host), and the window and jitter its apps take unless
//! they set their own.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use crate::registry::groups::{self, GroupInput, SetError};
use crate::startup::Context;

/// What to do with groups.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List the groups: apps in each, limit, window, jitter.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a group's settings (only those given change; "off" removes one).
    Set {
        /// The group (as its apps' --group says it).
        name: String,
        /// How many backups of the group's apps may run at once, across every process (e.g. 1
        /// per database host), or "off".
        #[arg(long, value_name = "N|off")]
        max_concurrent: Option<String>,
        /// The backup window its apps take unless they set their own (e.g. 2h), or "off".
        #[arg(long, value_name = "DURATION|off")]
        window: Option<String>,
        /// The jitter its apps take unless they set their own (e.g. 15m), or "off".
        #[arg(long, value_name = "DURATION|off")]
        jitter: Option<String>,
    },
}

impl GroupsCommand {
    /// Runs it.
    pub async fn run(self, ctx: &Context, env: &crate::config::Env) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        let off = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        match self {
            GroupsCommand::List { json } => {
                let list = groups::list(&ctx.db).await?;
                if json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
                    return Ok(ExitCode::SUCCESS);
                }
                writeln!(out, "GROUP\tAPPS\tAT ONCE\tWINDOW\tJITTER")?;
                for g in list {
                    let limit = g.max_concurrent.map_or("-".to_owned(), |n| n.to_string());
                    writeln!(out, "{}\t{}\t{}\t{}\t{}", g.name, g.apps, limit, off(&g.window), off(&g.jitter))?;
                }
            }
            GroupsCommand::Set { name, max_concurrent, window, jitter } => {
                if max_concurrent.is_none() && window.is_none() && jitter.is_none() {
                    eprintln!("error: give what to set: --max-concurrent, --window or --jitter");
                    return Ok(ExitCode::from(2));
                }
                let input = GroupInput { max_concurrent, window, jitter };
                match groups::set(&ctx.db, &name, &input).await {
                    Ok(g) => {
                        let detail = serde_json::to_string(&input).unwrap_or_default();
                        crate::audit::record(&ctx.db, "cli", "group.set", Some(&g.name), Some(&detail)).await;
                        let limit = g.max_concurrent.map_or("no limit".to_owned(), |n| format!("{n} at once"));
                        writeln!(
                            out,
                            "group {}: {limit}, window {}, jitter {} ({} apps)",
                            g.name,
                            off(&g.window),
                            off(&g.jitter),
                            g.apps
                        )?;
                    }
                    Err(SetError::Invalid(errors)) => {
                        for e in errors {
                            eprintln!("error: --{}: {}", e.field.replace('_', "-"), e.msg.render(env.lang()));
                        }
                        return Ok(ExitCode::from(2));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
