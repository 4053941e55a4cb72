//! `orchestrator tokens`: API tokens from the command line, for provisioning by script (the
//! **API tokens** page does the same). A token is printed once; only its hash is stored.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use crate::http::auth::api_token;
use crate::startup::Context;

/// What to do with API tokens.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it once (on stdout, alone on its line).
    Create {
        /// What the token is for (1-64 characters), shown in the list and the audit log.
        name: String,
    },
    /// List the tokens: id, name, prefix, created, revoked.
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The token's id (from `tokens list`).
        id: i64,
    },
}

impl TokensCommand {
    /// Runs it.
    pub async fn run(self, ctx: &Context) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        match self {
            TokensCommand::Create { name } => {
                let name = name.trim();
                if name.is_empty() || name.len() > 64 {
                    eprintln!("error: give the token a name of 1 to 64 characters");
                    return Ok(ExitCode::from(2));
                }
                let (row, token) = api_token::create(&ctx.db, name, "cli").await?;
                crate::audit::record(&ctx.db, "cli", "token.create", Some(&row.name), None).await;
                writeln!(out, "{token}")?;
                eprintln!("API token {:?} created (id {}): shown once, keep it now", row.name, row.id);
            }
            TokensCommand::List => {
                for row in api_token::list(&ctx.db).await? {
                    let revoked = if row.revoked_at.is_some() { "revoked" } else { "active" };
                    writeln!(out, "{}\t{}\t{}...\t{}", row.id, row.name, row.prefix, revoked)?;
                }
            }
            TokensCommand::Revoke { id } => match api_token::revoke(&ctx.db, id).await? {
                Some(row) => {
                    crate::audit::record(&ctx.db, "cli", "token.revoke", Some(&row.name), None).await;
                    writeln!(out, "revoked token {id} ({})", row.name)?;
                }
                None => {
                    eprintln!("error: no token {id} (see `orchestrator tokens list`)");
                    return Ok(ExitCode::from(1));
                }
            },
        }
        Ok(ExitCode::SUCCESS)
    }
}
