//! `orchestrator keys new|list`: the age keys copies are encrypted to. `new` makes an identity
//! and prints its recovery kit once; `list` shows the recipients in use, whether this
//! orchestrator holds an identity, and, from the copies' own marks, which keys each app's copies
//! need.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::codec::{Stored, keys};
use crate::startup::Context;

/// `keys new|list`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new age identity and print its recovery kit: the identity, its recipient, and the
    /// commands that decrypt a copy by hand. Nothing is stored.
    New,
    /// The recipients in use and which keys each app's copies need.
    List,
}

impl KeysCommand {
    /// Runs it.
    pub async fn run(self, env: &crate::config::Env) -> anyhow::Result<ExitCode> {
        match self {
            KeysCommand::New => new(),
            KeysCommand::List => list(&crate::cli::context(env).await?).await,
        }
    }
}

fn new() -> anyhow::Result<ExitCode> {
    let (identity, recipient) = keys::generate();
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "# Recovery kit: an age identity made by `orchestrator keys new` on {now}.
# Keep this whole text OFFLINE (a password manager, a printed copy in a safe): without the
# identity below, copies encrypted to its recipient cannot be read by anyone, including you.
#
# Recipient (public; give it to the orchestrator):
#   ENCRYPTION_RECIPIENTS={recipient}
#   fingerprint: {fingerprint}
#
# To read a copy without the orchestrator (Debian packages `age` and `zstd`), save the
# AGE-SECRET-KEY line below alone in a file, say key.txt, then:
#   age --decrypt -i key.txt COPY.zst.age | zstd -d > COPY
#   age --decrypt -i key.txt COPY.age > COPY          (a copy that was not compressed)
#   zstd -d COPY.zst -o COPY                          (compressed, not encrypted)
# The result's sha256 (`sha256sum COPY`) is the copy's sha256 mark, shown by `copies list`.
#
# To restore through the orchestrator without leaving the identity on the server:
#   orchestrator restore APP COPY --identity key.txt
# or set ENCRYPTION_IDENTITY_FILE=/path/to/key.txt for restores to need nothing more.
{identity}",
        recipient = recipient.as_str(),
        fingerprint = recipient.fingerprint(),
        identity = identity.expose_secret(),
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Context) -> anyhow::Result<ExitCode> {
    let enc = &ctx.runner.encryption;
    let mut out = std::io::stdout().lock();
    match &enc.recipients_source {
        Some(source) => writeln!(out, "deployment recipients (from {source}):")?,
        None => writeln!(out, "deployment recipients: none (set ENCRYPTION_RECIPIENTS to encrypt every app's copies)")?,
    }
    for r in &enc.recipients {
        writeln!(out, "  {} {}", r.fingerprint(), r.as_str())?;
    }
    match &enc.identities {
        Some(ids) => writeln!(
            out,
            "identity held by this orchestrator: {} (ENCRYPTION_IDENTITY_FILE), opens {}",
            enc.identity_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
            ids.fingerprints().join(", ")
        )?,
        None => writeln!(
            out,
            "identity held by this orchestrator: none (restores of encrypted copies need --identity FILE)"
        )?,
    }
    let mut failed = false;
    for app in ctx.registry.list().await? {
        let own: Vec<String> = app.recipients.iter().map(|r| format!("{} {}", r.fingerprint(), r.as_str())).collect();
        let encrypt = match app.encrypt {
            Some(false) => "no",
            Some(true) => "yes",
            None if enc.recipients.is_empty() && app.recipients.is_empty() => "no (no recipient configured)",
            None => "yes (recipients configured)",
        };
        writeln!(out, "{}: encrypt {encrypt}", app.name)?;
        for r in own {
            writeln!(out, "  own recipient {r}")?;
        }
        let listed = match ctx.runner.destination.list(&app.folder).await {
            Ok(listed) => listed,
            Err(e) => {
                writeln!(out, "  copies: could not list {}: {}", app.folder, e.message())?;
                failed = true;
                continue;
            }
        };
        let mut needs: BTreeMap<String, usize> = BTreeMap::new();
        for file in listed.iter().filter(|f| crate::backup::inventory::owned_by(f, &ctx.deployment_id, &app)) {
            let key = match Stored::of(&file.properties) {
                Ok(s) if s.age && s.recipients.is_empty() => "encrypted (recipients not recorded)".to_owned(),
                Ok(s) if s.age => format!("encrypted to {}", s.recipients.join(", ")),
                Ok(_) => "not encrypted".to_owned(),
                Err(e) => e,
            };
            *needs.entry(key).or_default() += 1;
        }
        if needs.is_empty() {
            writeln!(out, "  copies: none")?;
        }
        for (what, n) in needs {
            writeln!(out, "  {n} {} {what}", if n == 1 { "copy" } else { "copies" })?;
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
