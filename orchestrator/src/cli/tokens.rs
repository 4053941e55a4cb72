//! `orchestrator tokens`: API tokens from the command line, for provisioning by script (the
//! **API tokens** page and `/api/v1/tokens` do the same). A token is printed once; only its hash
//! is stored. It acts for a user (`--user`, the first admin by default) with a role no higher
//! than theirs.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use crate::catalogue::Lang;
use crate::config::Env;
use crate::http::auth::api_token::{self, NewToken};
use crate::startup::Context;
use crate::users::Role;

/// What to do with API tokens.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it once (on stdout, alone on its line).
    Create {
        /// What the token is for (1-100 characters), shown in the list and the audit log.
        name: String,
        /// The user it acts for (default: the first admin, ADMIN_USER).
        #[arg(long)]
        user: Option<String>,
        /// viewer, operator, restorer or admin; at most the user's (default: the user's).
        #[arg(long)]
        role: Option<String>,
        /// How long it lasts: 90m, 12h, 30d, 8w (at most 400 days; default: until revoked).
        #[arg(long)]
        expires_in: Option<String>,
        /// May confirm dangerous actions (delete copies, restore, remove users) without the
        /// user's password in each request.
        #[arg(long)]
        confirms: bool,
    },
    /// List the tokens: id, name, user, role, prefix, expiry, state.
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The token's id (from `tokens list`).
        id: i64,
    },
}

impl TokensCommand {
    /// Runs it.
    pub async fn run(self, ctx: &Context, env: &Env) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        let lang = Lang::of_locale(|name| std::env::var(name).ok());
        let first_admin = env.get("ADMIN_USER").unwrap_or_else(|| "admin".to_owned());
        match self {
            TokensCommand::Create { name, user, role, expires_in, confirms } => {
                let owner = user.unwrap_or_else(|| first_admin.clone());
                let owner_role = if owner == first_admin {
                    Role::Admin
                } else {
                    match crate::users::role_of(&ctx.db, &owner).await? {
                        Some(role) => role,
                        None => {
                            eprintln!("error: there is no user {owner:?} (see `orchestrator users list`)");
                            return Ok(ExitCode::from(2));
                        }
                    }
                };
                let mut problems = Vec::new();
                let role = match role.as_deref().map(crate::users::check_role) {
                    None => owner_role,
                    Some(Ok(role)) => role,
                    Some(Err(e)) => {
                        problems.push(e);
                        owner_role
                    }
                };
                let expires_in = match expires_in.as_deref().map(api_token::parse_expiry) {
                    None => None,
                    Some(Ok(lasts)) => Some(lasts),
                    Some(Err(e)) => {
                        problems.push(e);
                        None
                    }
                };
                if let Err(errors) = api_token::check(&name, role, owner_role) {
                    problems.extend(errors);
                }
                if !problems.is_empty() {
                    eprintln!("error: no token was created; fix these:");
                    for p in problems {
                        eprintln!("  --{}: {}", p.field.replace('_', "-"), p.msg.render(lang));
                    }
                    return Ok(ExitCode::from(2));
                }
                let new = NewToken { name, owner, role, expires_in, confirms };
                let (row, token) = api_token::create(&ctx.db, &new, "cli").await?;
                let detail = crate::catalogue::Msg::new("audit_detail.token_for")
                    .with("owner", &new.owner)
                    .with("role", new.role);
                crate::audit::record_said(&ctx.db, "cli", "token.create", Some(&row.name), &detail).await;
                writeln!(out, "{token}")?;
                eprintln!("API token {:?} created (id {}): shown once, keep it now", row.name, row.id);
            }
            TokensCommand::List => {
                let now = crate::db::now_ms();
                for row in api_token::list(&ctx.db, None).await? {
                    let state = match (row.revoked_at, row.expires_at) {
                        (Some(_), _) => "revoked",
                        (None, Some(at)) if at <= now => "expired",
                        _ => "active",
                    };
                    let expires = row.expires_at.map_or_else(|| "never".to_owned(), crate::http::format::time);
                    let owner = row.owner.as_deref().unwrap_or(&row.created_by);
                    writeln!(
                        out,
                        "{}\t{}\t{owner}\t{}\t{}...\texpires {expires}\t{state}",
                        row.id, row.name, row.role, row.prefix
                    )?;
                }
            }
            TokensCommand::Revoke { id } => match api_token::revoke(&ctx.db, id, None).await? {
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
