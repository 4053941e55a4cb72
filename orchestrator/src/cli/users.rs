//! `orchestrator users`: the people who sign in, from the command line (the **Users** page and
//! `/api/v1/users` do the same). A password is read from `USER_PASSWORD` or typed at a hidden
//! prompt, never taken as an argument (where `ps` and shell history would keep it).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use secrecy::SecretString;

use crate::catalogue::Lang;
use crate::config::Env;
use crate::startup::Context;
use crate::users::{self, NewUser, UserError};

/// What to do with users.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password comes from USER_PASSWORD or is prompted for.
    Add {
        /// The name they sign in with.
        name: String,
        /// viewer, operator, restorer or admin.
        #[arg(long)]
        role: String,
        /// Their language: en or es (default: their browser's).
        #[arg(long, default_value = "")]
        language: String,
        /// Their e-mail, how the identity provider names them.
        #[arg(long, default_value = "")]
        email: String,
        /// No password: they sign in only through the identity provider (needs --email).
        #[arg(long)]
        no_password: bool,
    },
    /// List the users: name, role, language, e-mail.
    List,
    /// Change a user's role, language or e-mail.
    Edit {
        /// Who.
        name: String,
        /// The new role.
        #[arg(long)]
        role: Option<String>,
        /// The new language (en, es, or "" for the browser's).
        #[arg(long)]
        language: Option<String>,
        /// The new e-mail ("" for none).
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a user's password (from USER_PASSWORD or prompted); their sessions end.
    Password {
        /// Who.
        name: String,
    },
    /// Remove a user: their sessions end and their API tokens are revoked.
    Remove {
        /// Who.
        name: String,
    },
}

impl UsersCommand {
    /// Runs it.
    pub async fn run(self, ctx: &Context, env: &Env) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        let lang = Lang::of_locale(|name| std::env::var(name).ok());
        let first_admin = env.get("ADMIN_USER").unwrap_or_else(|| "admin".to_owned());
        let result = match self {
            UsersCommand::Add { name, role, language, email, no_password } => {
                let password = if no_password { None } else { Some(read_password(env)?) };
                let new = NewUser { name, role, language, email, password };
                users::add(&ctx.db, new, "cli", &first_admin).await.map(|row| {
                    let _ = writeln!(out, "added {} ({})", row.name, row.role);
                    ("user.add", row.name, Some(row.role))
                })
            }
            UsersCommand::List => {
                for row in users::list(&ctx.db).await? {
                    let language = row.language.as_deref().unwrap_or("-");
                    let email = row.email.as_deref().unwrap_or("-");
                    let sign_in = if row.password_hash.is_some() { "password" } else { "sso" };
                    writeln!(out, "{}\t{}\t{language}\t{email}\t{sign_in}", row.name, row.role)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            UsersCommand::Edit { name, role, language, email } => {
                users::update(&ctx.db, &name, role.as_deref(), language.as_deref(), email.as_deref(), &first_admin)
                    .await
                    .map(|row| {
                        let _ = writeln!(out, "changed {} ({})", row.name, row.role);
                        ("user.update", row.name, Some(row.role))
                    })
            }
            UsersCommand::Password { name } => {
                let password = read_password(env)?;
                users::set_password(&ctx.db, &name, password, None).await.map(|()| {
                    let _ = writeln!(out, "set the password of {name}; their sessions ended");
                    ("user.password", name, None)
                })
            }
            UsersCommand::Remove { name } => users::remove(&ctx.db, &name, &first_admin).await.map(|row| {
                let _ = writeln!(out, "removed {}; their sessions ended and their tokens were revoked", row.name);
                ("user.remove", row.name, None)
            }),
        };
        match result {
            Ok((action, name, detail)) => {
                crate::audit::record(&ctx.db, "cli", action, Some(&name), detail.as_deref()).await;
                Ok(ExitCode::SUCCESS)
            }
            Err(UserError::Invalid(errors)) => {
                eprintln!("error: nothing was changed; fix these:");
                for e in errors {
                    eprintln!("  {}: {}", e.field, e.msg.render(lang));
                }
                Ok(ExitCode::from(2))
            }
            Err(UserError::NotFound) => {
                eprintln!("error: there is no such user (see `orchestrator users list`)");
                Ok(ExitCode::from(1))
            }
            Err(UserError::Db(e)) => Err(e.into()),
        }
    }
}

/// The password from `USER_PASSWORD`, or typed twice at a hidden prompt, or read from standard
/// input.
fn read_password(env: &Env) -> anyhow::Result<SecretString> {
    if let Some(password) = env.secret("USER_PASSWORD").map_err(anyhow::Error::msg)? {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password (not shown): ").context("reading the password")?;
        let again = rpassword::prompt_password("The same again: ").context("reading the password")?;
        anyhow::ensure!(first == again, "the two passwords differ: nothing was changed");
        return Ok(SecretString::from(first));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    Ok(SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned()))
}
