//! `orchestrator copies`: an app's copies as the destination holds them, and pins. A pinned copy
//! is never deleted by retention and uses none of its slots; the pin and its note are written into
//! the copy's own marks, so they survive the loss of this database.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use crate::backup::copies;
use crate::cli::run::human;
use crate::startup::Context;

/// `copies list|pin|unpin`.
#[derive(Debug, Subcommand)]
pub enum CopiesCommand {
    /// List the app's copies, newest first, with their pins and notes.
    List {
        /// The app's name.
        app: String,
    },
    /// Pin a copy: retention never deletes it and it takes no retention slot.
    Pin {
        /// The app's name.
        app: String,
        /// The copy: its file name in the app's folder, or its file id.
        copy: String,
        /// Why it is kept (at most 120 bytes, one line); replaces the copy's note.
        #[arg(long)]
        note: Option<String>,
    },
    /// Unpin a copy: retention counts it again from its next run.
    Unpin {
        /// The app's name.
        app: String,
        /// The copy: its file name in the app's folder, or its file id.
        copy: String,
        /// Replace the copy's note (an empty text clears it).
        #[arg(long)]
        note: Option<String>,
    },
    /// Forget a copy an audit found lost (you know why it is gone): it is no longer shown or
    /// counted as lost.
    Forget {
        /// The app's name.
        app: String,
        /// The lost copy: its file name or file id.
        copy: String,
    },
}

impl CopiesCommand {
    /// Runs it; exits 1 when the app or the copy is unknown or the note cannot be stored.
    pub async fn run(self, ctx: &Context) -> anyhow::Result<ExitCode> {
        match self {
            CopiesCommand::List { app } => list(ctx, &app).await,
            CopiesCommand::Pin { app, copy, note } => pin(ctx, &app, &copy, true, note.as_deref()).await,
            CopiesCommand::Unpin { app, copy, note } => pin(ctx, &app, &copy, false, note.as_deref()).await,
            CopiesCommand::Forget { app, copy } => {
                let app = ctx.registry.get(&app).await?;
                if crate::backup::audit::forget(&ctx.db, app.id, &copy).await? {
                    crate::audit::record(&ctx.db, "cli", "copies.forget", Some(&app.name), Some(&copy)).await;
                    println!("forgot the lost copy {copy} of {}", app.name);
                    Ok(ExitCode::SUCCESS)
                } else {
                    eprintln!(
                        "error: {} has no lost copy named {copy:?}: `orchestrator audit {}` lists its lost copies",
                        app.name, app.name
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

async fn list(ctx: &Context, app: &str) -> anyhow::Result<ExitCode> {
    let app = ctx.registry.get(app).await?;
    let files = copies::list(&ctx.runner, &app).await?;
    let mut out = std::io::stdout().lock();
    if files.is_empty() {
        writeln!(out, "{} has no copies in {}", app.name, app.folder)?;
    }
    for file in &files {
        let mut flags = Vec::new();
        if !copies::verified(file) {
            flags.push("unverified".to_owned());
        }
        if copies::pinned(file) {
            flags.push("pinned".to_owned());
        }
        if copies::adopted_uncounted(file) {
            flags.push("adopted".to_owned());
        } else if copies::adopted(file) {
            flags.push("adopted, counted in retention".to_owned());
        }
        let stored = crate::codec::Stored::of(&file.properties).unwrap_or_default();
        if stored.zstd {
            flags.push("compressed".to_owned());
        }
        if stored.age {
            flags.push("encrypted".to_owned());
        }
        let created = file.created.as_deref().unwrap_or("-");
        let flags = if flags.is_empty() { String::new() } else { format!("  [{}]", flags.join(", ")) };
        writeln!(out, "{}  {}  {}{flags}", file.name, created, human(file.size))?;
        if let Some(note) = copies::note(file) {
            writeln!(out, "    note: {note}")?;
        }
        let plain = file.properties.get(crate::codec::SIZE_MARK).and_then(|s| s.parse::<u64>().ok());
        if let (false, Some(plain)) = (stored.is_plain(), plain) {
            let share = file.size as f64 * 100.0 / plain.max(1) as f64;
            writeln!(out, "    stored: {} of an export of {} ({share:.1}%)", human(file.size), human(plain))?;
        }
        if let Some(sha) = copies::sha256(file) {
            writeln!(out, "    sha256: {sha}")?;
        }
        if !stored.recipients.is_empty() {
            writeln!(out, "    recipients: {}", stored.recipients.join(", "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn pin(ctx: &Context, app: &str, copy: &str, pin: bool, note: Option<&str>) -> anyhow::Result<ExitCode> {
    // Checked before anything is read, so a bad note changes nothing.
    if let Some(note) = note {
        copies::check_note(note).map_err(anyhow::Error::msg)?;
    }
    let app = ctx.registry.get(app).await?;
    let Some(file) = copies::find(&ctx.runner, &app, copy).await? else {
        anyhow::bail!(
            "{} has no copy named {copy:?} in {}: `orchestrator copies list {}` shows its copies",
            app.name,
            app.folder,
            app.name
        );
    };
    let file = copies::set_pin(&ctx.runner, &app, &file, pin, note).await?;
    let action = if pin { "copy.pin" } else { "copy.unpin" };
    crate::audit::record(&ctx.db, "cli", action, Some(&app.name), Some(&file.name)).await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} {} of {}", if pin { "pinned" } else { "unpinned" }, file.name, app.name)?;
    if let Some(note) = copies::note(&file) {
        writeln!(out, "note: {note}")?;
    }
    Ok(ExitCode::SUCCESS)
}
