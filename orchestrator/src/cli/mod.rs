//! The command line: one subcommand per file.

pub mod apps;
pub mod audit;
pub mod contract;
pub mod copies;
pub mod cron;
pub mod demo;
pub mod drill;
pub mod groups;
pub mod healthcheck;
pub mod keys;
pub mod recover;
pub mod remote;
pub mod restore;
pub mod run;
pub mod runs;
pub mod self_backup;
pub mod serve;
pub mod tokens;
pub mod users;

use clap::{Parser, Subcommand};

/// Pull-based backup orchestrator: backs up the apps on your network into Google Drive.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands (parsed once per process: their size does not matter).
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Work with backup contract v1 (check an app against it).
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// Run the service: HTTP server, scheduler and workers.
    Serve {
        /// Also start a sample app (a folder under data/demo) registered as `demo`, to try Test now.
        #[arg(long)]
        demo: bool,
    },
    /// Register and manage the apps to back up.
    #[command(subcommand)]
    Apps(apps::AppsCommand),
    /// Run one backup of an app now, in the foreground (or queue it for `serve` with --queued).
    Run {
        /// The app's name.
        app: String,
        /// Queue a manual job for the running service instead of running it here; prints the run id.
        #[arg(long)]
        queued: bool,
        /// A note kept with the run and written into the copy (at most 120 bytes, one line).
        #[arg(long)]
        note: Option<String>,
    },
    /// Restore a stored copy into its app (or into another app with --into), after a safety
    /// backup of the current state of the app restored into.
    Restore {
        /// The name of the app whose copy it is.
        app: String,
        /// The copy: its file name in the app's folder, or its file id.
        #[arg(required_unless_present = "from_file", conflicts_with = "from_file")]
        copy: Option<String>,
        /// Restore a copy that is not in the destination (a file on this machine): it is first
        /// streamed into the app's folder as an adopted copy (outside retention), verified and
        /// hashed, then restored like any copy. Its name says how it is stored (`.zst`, `.age`).
        #[arg(long, value_name = "PATH")]
        from_file: Option<std::path::PathBuf>,
        /// With --from-file: the backup type the file holds (default: the app's type).
        #[arg(long = "type", value_name = "TYPE", requires = "from_file")]
        backup_type: Option<String>,
        /// Restore it into this app instead (e.g. a production copy into staging); it must
        /// accept restores of the copy's type.
        #[arg(long, value_name = "TARGET_APP")]
        into: Option<String>,
        /// Restore without backing up the current state of the app restored into first.
        #[arg(long)]
        no_safety_backup: bool,
        /// An age identity file that opens the copy, for this restore only (never stored);
        /// without it, ENCRYPTION_IDENTITY_FILE is used.
        #[arg(long, value_name = "FILE")]
        identity: Option<std::path::PathBuf>,
    },
    /// The runs: list, show, a run's log (--follow), cancel.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Encryption keys: make one (with its recovery kit), list those in use.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// List an app's copies; pin a copy (retention never deletes it) or unpin it; forget a
    /// copy an audit found lost.
    #[command(subcommand)]
    Copies(copies::CopiesCommand),
    /// Work with schedules (when does a cron expression fire?).
    #[command(subcommand)]
    Cron(cron::CronCommand),
    /// Preview what retention would delete from an app's folder now (deletes nothing).
    Retention {
        /// The app's name.
        app: String,
    },
    /// Check that every stored copy of an app (or of every app) is still there and still what
    /// was stored: one listing per folder, and with --sample-percent a share of the copies read
    /// back whole. Lost and damaged copies are marked (retention stops counting them) and told
    /// once; exits 1 when any is found.
    Audit {
        /// The app's name (default: every app).
        app: Option<String>,
        /// Also read back and re-hash this share of each app's copies, 0 to 100 (always the
        /// newest, then those read longest ago).
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        sample_percent: u8,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A restore drill: prove a copy still restores. The copy (default: the newest good
    /// verified one) goes to the app's POST /backup/verify, which checks it without applying it;
    /// or, with --drill-target, it is restored into that scratch app without a safety backup.
    Drill {
        /// The app whose copy to drill.
        app: String,
        /// The copy: its file name or file id (default: the newest good verified copy).
        #[arg(long, value_name = "COPY")]
        copy: Option<String>,
        /// Restore the copy into this registered app (a scratch instance) instead.
        #[arg(long = "drill-target", value_name = "SCRATCH_APP")]
        drill_target: Option<String>,
        /// An age identity file that opens an encrypted copy, for this drill only.
        #[arg(long, value_name = "FILE")]
        identity: Option<std::path::PathBuf>,
    },
    /// Back up the orchestrator's own registry now into SELF_BACKUP_FOLDER (sealed with SECRET_KEY).
    SelfBackup,
    /// Rebuild a lost installation on a new, empty database with the same SECRET_KEY: restore
    /// the newest self-backup, then find every app's copies again.
    Recover {
        /// A self-backup in SELF_BACKUP_FOLDER to restore instead of the newest: its file name
        /// (or Drive file id).
        #[arg(long, value_name = "COPY")]
        from: Option<String>,
        /// The deployment whose self-backup to restore; with no self-backup, adopt this id so
        /// apps registered again by name own their old copies.
        #[arg(long, value_name = "ID")]
        deployment_id: Option<String>,
    },
    /// Use the configured destination by hand: check, put, ls, rm, get.
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
    /// API tokens for /api/v1: create (printed once), list, revoke.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// The people who sign in: add (password from USER_PASSWORD or prompted), list, edit,
    /// password, remove.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Groups of apps: list them; set how many backups of a group run at once, its window and
    /// jitter.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Exit 0 when the `serve` at LISTEN_ADDR is ready (/readyz), 1 otherwise: Docker's
    /// HEALTHCHECK, without curl in the image.
    Healthcheck {
        /// How long to wait for the answer, in seconds.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

impl Cli {
    /// Runs the chosen command and returns the process exit code.
    pub async fn run(self, env: &crate::config::Env) -> anyhow::Result<std::process::ExitCode> {
        match self.command {
            Command::Contract(command) => command.run().await,
            Command::Cron(command) => command.run(),
            Command::Remote(command) => command.run(env).await,
            Command::Tokens(command) => command.run(&context(env).await?, env).await,
            Command::Users(command) => command.run(&context(env).await?, env).await,
            Command::Groups(command) => command.run(&context(env).await?, env).await,
            Command::Healthcheck { timeout } => {
                healthcheck::healthcheck(env, std::time::Duration::from_secs(timeout.max(1))).await
            }
            Command::Apps(command) => command.run(&context(env).await?, env).await,
            Command::Run { app, queued: false, note } => run::run(&context(env).await?, &app, note.as_deref()).await,
            Command::Run { app, queued: true, note } => run::queue(&context(env).await?, &app, note.as_deref()).await,
            Command::Copies(command) => command.run(&context(env).await?).await,
            Command::Runs(command) => command.run(&context(env).await?).await,
            Command::Keys(command) => command.run(env).await,
            Command::Restore { app, copy, from_file, backup_type, into, no_safety_backup, identity } => {
                let options = restore::Options {
                    into: into.as_deref(),
                    safety_backup: !no_safety_backup,
                    identity: identity.as_deref(),
                };
                let ctx = context(env).await?;
                match (copy, from_file) {
                    (Some(copy), _) => restore::restore(&ctx, &app, &copy, options).await,
                    (None, Some(path)) => restore::from_file(&ctx, &app, &path, backup_type.as_deref(), options).await,
                    (None, None) => unreachable!("clap requires a copy or --from-file"),
                }
            }
            Command::Serve { demo } => serve::serve(env, demo).await,
            Command::Audit { app, sample_percent, json } => {
                audit::audit(&context(env).await?, app.as_deref(), sample_percent, json).await
            }
            Command::Drill { app, copy, drill_target, identity } => {
                drill::drill(&context(env).await?, &app, copy.as_deref(), drill_target.as_deref(), identity.as_deref())
                    .await
            }
            Command::Retention { app } => run::retention(&context(env).await?, &app).await,
            Command::SelfBackup => {
                let settings = settings(env)?;
                let ctx = crate::startup::open(&settings).await?;
                self_backup::self_backup(&ctx, &settings.self_backup).await
            }
            Command::Recover { from, deployment_id } => {
                let request = crate::selfbackup::recover::Request {
                    from: from.as_deref(),
                    deployment_id: deployment_id.as_deref(),
                };
                recover::recover(&settings(env)?, request).await
            }
        }
    }
}

pub(crate) async fn context(env: &crate::config::Env) -> anyhow::Result<crate::startup::Context> {
    crate::startup::open(&settings(env)?).await
}

fn settings(env: &crate::config::Env) -> anyhow::Result<crate::config::Settings> {
    crate::config::Settings::from_env(env).map_err(|errors| anyhow::anyhow!(errors.join("\n       ")))
}
