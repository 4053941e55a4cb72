//! `orchestrator apps add|list|show|edit|remove|bulk|adopt`: the registry from the command line. The token
//! is read from `BACKUP_TOKEN` or prompted for, never taken as an argument (where `ps` and shell
//! history would keep it), and never printed.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use secrecy::SecretString;

use crate::backup::adopt::AdoptRequest;
use crate::backup::lifecycle;
use crate::catalogue::Lang;
use crate::config::Env;
use crate::fleet::bulk::{ActionInput, Done, Target};
use crate::fleet::filter::{AppFilter, AppState};
use crate::registry::input::AppInput;
use crate::registry::{App, RegistryError};
use crate::schedule::cron::CronSchedule;
use crate::startup::Context;

/// Apps subcommands.
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an app (token from BACKUP_TOKEN, or prompted).
    Add {
        /// Unique name: lowercase letters, digits and '-'.
        name: String,
        /// The settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// List the registered apps (failing first, then by name), optionally filtered.
    List {
        /// Which apps.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Show one app: settings, next runs, last runs.
    Show {
        /// The app's name.
        name: String,
    },
    /// Change an app; only the options given change.
    Edit {
        /// The app's name.
        name: String,
        /// Rename it.
        #[arg(long)]
        rename: Option<String>,
        /// Replace the token (read from BACKUP_TOKEN, or prompted); needed again with a new --url.
        #[arg(long)]
        token: bool,
        /// Resume scheduled backups.
        #[arg(long, conflicts_with = "paused")]
        resume: bool,
        /// The settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// Remove an app and its run history (its stored copies stay where they are).
    Remove {
        /// The app's name.
        name: String,
    },
    /// Print every app's settings as a fleet file (YAML) to keep in git and apply again; tokens
    /// appear only as references, {env: BACKUP_TOKEN_<NAME>}.
    Export,
    /// Make the registry match a fleet file: shows the plan (+ add, ~ change, - remove), then
    /// applies it. Tokens come from {env: VARIABLE} or {file: PATH} references, never inline.
    /// Every app is validated, its token read and the app asked before anything changes.
    Apply {
        /// The fleet file ("-" reads standard input).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: std::path::PathBuf,
        /// Also remove registered apps the file does not name (their stored copies stay).
        #[arg(long)]
        prune: bool,
        /// Only show the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask the apps added or changed (some are down today).
        #[arg(long)]
        no_check: bool,
    },
    /// One action on many apps: those named with --app, or every app a filter picks (--tag,
    /// --group, --state, --search; --all for every app). Input the action needs that is
    /// invalid refuses the whole batch before any app changes; each app changed is audited.
    Bulk {
        /// An app, by name; repeat for several.
        #[arg(long = "app", value_name = "NAME")]
        apps: Vec<String>,
        /// Every registered app (when no --app nor filter is given).
        #[arg(long, conflicts_with = "apps")]
        all: bool,
        /// Which apps, by what they are.
        #[command(flatten)]
        filter: FilterArgs,
        /// What to do.
        #[command(subcommand)]
        action: BulkCommand,
    },
    /// Make files in the app's folder that the orchestrator did not write (e.g. years of copies
    /// from a script) the app's copies. A dry run unless --apply.
    Adopt {
        /// The app's name.
        name: String,
        /// Which files, by name: a glob where `*` matches any run of characters and `?` one.
        #[arg(long = "match", value_name = "GLOB")]
        pattern: String,
        /// The backup type the files hold (default: the app's configured type).
        #[arg(long = "type")]
        backup_type: Option<String>,
        /// Adopt them (without it, only list what would be adopted and what is skipped).
        #[arg(long)]
        apply: bool,
        /// Let retention count the adopted copies, and so delete them in their turn (without
        /// it, retention keeps them and they take none of its slots).
        #[arg(long)]
        count_in_retention: bool,
    },
}

/// Which apps: every option given must hold.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Apps carrying this tag.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Apps in this group.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Apps in this state: failing, stale, paused, never_run or running.
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// Apps whose name contains this.
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<AppFilter, RegistryError> {
        AppFilter::parse(self.search.as_deref(), self.tag.as_deref(), self.group.as_deref(), self.state.as_deref())
            .map_err(RegistryError::Invalid)
    }
}

/// A bulk action.
#[derive(Debug, Subcommand)]
pub enum BulkCommand {
    /// Pause scheduled backups.
    Pause,
    /// Resume scheduled backups.
    Resume,
    /// Queue one run per app now (Test now); a running service takes them.
    TestNow,
    /// Replace the schedule (cron, in each app's time zone).
    SetSchedule {
        /// E.g. "0 3 * * *".
        schedule: String,
    },
    /// Replace the whole retention (options not given: keep last 7, the others 0).
    SetRetention {
        /// The retention.
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Add tags.
    AddTags {
        /// The tags.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags.
    RemoveTags {
        /// The tags.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Put the apps in a group ("" removes them from their group).
    SetGroup {
        /// The group.
        group: String,
    },
}

impl BulkCommand {
    fn input(&self) -> ActionInput {
        let action = |name: &str| ActionInput { action: name.to_owned(), ..ActionInput::default() };
        match self {
            BulkCommand::Pause => action("pause"),
            BulkCommand::Resume => action("resume"),
            BulkCommand::TestNow => action("test_now"),
            BulkCommand::SetSchedule { schedule } => {
                ActionInput { schedule: Some(schedule.clone()), ..action("set_schedule") }
            }
            BulkCommand::SetRetention { retention: r } => ActionInput {
                keep_last: r.keep_last,
                keep_daily: r.keep_daily,
                keep_weekly: r.keep_weekly,
                keep_monthly: r.keep_monthly,
                keep_within_days: r.keep_within_days,
                ..action("set_retention")
            },
            BulkCommand::AddTags { tags } => ActionInput { tags: tags.clone(), ..action("add_tags") },
            BulkCommand::RemoveTags { tags } => ActionInput { tags: tags.clone(), ..action("remove_tags") },
            BulkCommand::SetGroup { group } => ActionInput { group: Some(group.clone()), ..action("set_group") },
        }
    }
}

/// How many copies to keep, as options.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionArgs {
    /// Keep the N newest copies (default 7).
    #[arg(long)]
    keep_last: Option<u32>,
    /// Also keep one copy per day for N days.
    #[arg(long)]
    keep_daily: Option<u32>,
    /// Also keep one copy per week for N weeks.
    #[arg(long)]
    keep_weekly: Option<u32>,
    /// Also keep one copy per month for N months.
    #[arg(long)]
    keep_monthly: Option<u32>,
    /// Also keep every copy newer than N days.
    #[arg(long = "keep-days")]
    keep_within_days: Option<u32>,
}

/// The settings of an app.
#[derive(Debug, Args)]
pub struct Fields {
    /// Internal base URL, e.g. http://billing:8080.
    #[arg(long)]
    url: Option<String>,
    /// Destination folder: a Google Drive folder ID (or a sub-folder on fs/s3).
    #[arg(long)]
    folder: Option<String>,
    /// When: cron, e.g. "0 3 * * *" (03:00 daily), "@daily", or 6 fields with seconds.
    #[arg(long)]
    schedule: Option<String>,
    /// Time zone of the schedule (IANA name; default UTC).
    #[arg(long = "tz")]
    time_zone: Option<String>,
    /// Retention.
    #[command(flatten)]
    retention: RetentionArgs,
    /// Backup type to export (default: the app's first type).
    #[arg(long = "type")]
    backup_type: Option<String>,
    /// Queue priority: high, normal or low.
    #[arg(long)]
    priority: Option<String>,
    /// Register paused / pause it: no scheduled backups.
    #[arg(long)]
    paused: bool,
    /// Compression of stored copies: zstd, none, or auto (zstd unless the export is already
    /// compressed; the default).
    #[arg(long, value_name = "zstd|none|auto")]
    compress: Option<String>,
    /// Encrypt copies with age (to ENCRYPTION_RECIPIENTS and the app's --recipient keys).
    #[arg(long, conflicts_with_all = ["no_encrypt", "encrypt_auto"])]
    encrypt: bool,
    /// Store copies unencrypted even when recipients are configured.
    #[arg(long, conflicts_with = "encrypt_auto")]
    no_encrypt: bool,
    /// Encrypt whenever recipients are configured (the default).
    #[arg(long)]
    encrypt_auto: bool,
    /// An age public key (age1...) the app's copies are also encrypted to; repeat for several.
    /// Replaces the app's own recipients when editing.
    #[arg(long = "recipient", value_name = "AGE_PUBLIC_KEY")]
    recipients: Vec<String>,
    /// Remove the app's own recipients (the deployment's stay).
    #[arg(long, conflicts_with = "recipients")]
    no_recipients: bool,
    /// When restore drills run, as a cron expression in the app's time zone (e.g. "0 5 * * 0",
    /// Sundays at 05:00); "off" turns them off (the default).
    #[arg(long, value_name = "CRON|off")]
    drill_schedule: Option<String>,
    /// Which copy a scheduled drill takes: newest (the newest good verified copy) or random.
    #[arg(long, value_name = "newest|random")]
    drill_copy: Option<String>,
    /// The app's group, one label (e.g. the database host it lives on); "" removes it.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// A tag (lowercase letters, digits, '-', '_', '.'); repeat for several. Replaces the app's
    /// tags when editing.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Remove all the app's tags.
    #[arg(long, conflicts_with = "tags")]
    no_tags: bool,
    /// The backup window: how long after its scheduled time a run may still start (e.g. 2h);
    /// a run that cannot start in it is skipped with that reason. "off" = the group's, or none.
    #[arg(long, value_name = "DURATION|off")]
    window: Option<String>,
    /// Spread the scheduled start at random over up to this long (e.g. 15m; never more than
    /// half the window). "off" = the group's, or none.
    #[arg(long, value_name = "DURATION|off")]
    jitter: Option<String>,
    /// Save without asking the app first (an app that is down today). Otherwise the app is asked
    /// for its capabilities — when registering, and when the URL, token or type change — and what
    /// cannot work is refused with the app's own answer.
    #[arg(long)]
    no_check: bool,
}

impl Fields {
    fn input(&self) -> AppInput {
        AppInput {
            url: self.url.clone(),
            folder: self.folder.clone(),
            schedule: self.schedule.clone(),
            time_zone: self.time_zone.clone(),
            keep_last: self.retention.keep_last,
            keep_daily: self.retention.keep_daily,
            keep_weekly: self.retention.keep_weekly,
            keep_monthly: self.retention.keep_monthly,
            keep_within_days: self.retention.keep_within_days,
            backup_type: self.backup_type.clone(),
            priority: self.priority.clone(),
            enabled: self.paused.then_some(false),
            compress: self.compress.clone(),
            encrypt: match (self.encrypt, self.no_encrypt, self.encrypt_auto) {
                (true, _, _) => Some(Some(true)),
                (_, true, _) => Some(Some(false)),
                (_, _, true) => Some(None),
                _ => None,
            },
            recipients: if self.no_recipients {
                Some(Vec::new())
            } else {
                (!self.recipients.is_empty()).then(|| self.recipients.clone())
            },
            drill_schedule: self.drill_schedule.clone(),
            drill_copy: self.drill_copy.clone(),
            group: self.group.clone(),
            tags: if self.no_tags { Some(Vec::new()) } else { (!self.tags.is_empty()).then(|| self.tags.clone()) },
            window: self.window.clone(),
            jitter: self.jitter.clone(),
            ..Default::default()
        }
    }
}

/// The token from `BACKUP_TOKEN`, or typed at a hidden prompt, or read from standard input.
fn read_token(env: &Env) -> anyhow::Result<SecretString> {
    if let Some(token) = env.secret("BACKUP_TOKEN").map_err(anyhow::Error::msg)? {
        return Ok(token);
    }
    if std::io::stdin().is_terminal() {
        let token = rpassword::prompt_password("App token (not shown): ").context("reading the token")?;
        return Ok(SecretString::from(token.trim().to_owned()));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the token from standard input")?;
    Ok(SecretString::from(line.trim().to_owned()))
}

fn refused(e: RegistryError, lang: Lang) -> anyhow::Error {
    match e {
        RegistryError::Invalid(errors) => {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {}: {}", e.field, e.msg.render(lang))).collect();
            anyhow::anyhow!("nothing was saved; fix these:\n{}", lines.join("\n"))
        }
        other => other.into(),
    }
}

impl AppsCommand {
    /// Runs the subcommand.
    pub async fn run(self, ctx: &Context, env: &Env) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        let lang = env.lang();
        let refused = |e| refused(e, lang);
        match self {
            AppsCommand::Add { name, fields } => {
                let mut input = fields.input();
                input.name = Some(name);
                input.token = Some(read_token(env)?);
                let app = ctx.registry.add_checked(&input, !fields.no_check).await.map_err(refused)?;
                writeln!(out, "registered {}", app.name)?;
                describe(&mut out, &app)?;
            }
            AppsCommand::List { filter } => {
                let filter = filter.filter().map_err(refused)?;
                let intervals = ctx.notifier.settings().stale_after_intervals;
                let selection = crate::fleet::filter::select(&ctx.db, &filter, intervals).await?;
                writeln!(out, "NAME\tENABLED\tSTATE\tGROUP\tTAGS\tSCHEDULE\tTZ\tKEEP\tFOLDER\tURL")?;
                let ids: Vec<i64> = selection.apps.iter().map(|a| a.id).collect();
                let rows = crate::fleet::filter::rows(&ctx.db, &ids).await?;
                for (app, picked) in rows.iter().zip(&selection.apps) {
                    let facts = &picked.facts;
                    let states: Vec<&str> =
                        AppState::ALL.into_iter().filter(|s| facts.has(*s)).map(AppState::as_str).collect();
                    let tags = crate::registry::labels::parse_stored(&app.tags);
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        app.name,
                        if app.enabled { "yes" } else { "paused" },
                        if states.is_empty() { "ok".to_owned() } else { states.join(",") },
                        app.group_name.as_deref().unwrap_or("-"),
                        if tags.is_empty() { "-".to_owned() } else { tags.join(",") },
                        app.schedule,
                        app.time_zone,
                        app.keep_last,
                        app.folder,
                        app.url
                    )?;
                }
            }
            AppsCommand::Export => {
                let groups = crate::registry::groups::list(&ctx.db).await?;
                let file = crate::fleet::file::export(&ctx.registry.list().await?, &groups);
                writeln!(out, "# The fleet: `orchestrator apps apply -f FILE` makes the registry match it.")?;
                writeln!(out, "# Tokens are references only: set each variable (or use {{file: PATH}}).")?;
                write!(out, "{}", serde_yaml::to_string(&file)?)?;
            }
            AppsCommand::Apply { file, prune, dry_run, no_check } => {
                use crate::fleet::file::{self, ApplyOptions, FleetError, Source};
                let text = if file.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin()).context("reading the fleet file from standard input")?
                } else {
                    std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
                };
                let options = ApplyOptions { prune, dry_run, no_check };
                let applied = match file::parse(&text) {
                    Ok(fleet) => file::apply(&ctx.registry, &fleet, options, Source::Cli, "cli").await,
                    Err(e) => Err(e),
                };
                match applied {
                    Ok(plan) => write!(out, "{}", file::describe(&plan, dry_run))?,
                    Err(FleetError::Invalid(problems)) => {
                        eprintln!("error: nothing was applied; fix these in {}:", file.display());
                        for p in problems {
                            eprintln!("  {}: {}: {}", p.app, p.field, p.message.render(lang));
                        }
                        return Ok(ExitCode::from(1));
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            AppsCommand::Bulk { apps, all, filter, action } => {
                let filter = filter.filter().map_err(refused)?;
                let target = match (apps.is_empty(), filter.is_empty(), all) {
                    (false, true, _) => Target::Apps(apps),
                    (true, false, false) | (true, true, true) => Target::Filter(filter),
                    (true, true, false) => {
                        anyhow::bail!(
                            "choose the apps: --app NAME (repeatable), a filter (--tag, --group, --state, --search), or --all"
                        )
                    }
                    _ => anyhow::bail!("give either --app names or a filter, not both"),
                };
                let intervals = ctx.notifier.settings().stale_after_intervals;
                let report = crate::fleet::bulk::run(&ctx.registry, "cli", &target, &action.input(), intervals)
                    .await
                    .map_err(refused)?;
                for o in &report.outcomes {
                    writeln!(out, "{}\t{}\t{}", o.app, o.done.as_str(), o.detail)?;
                }
                let (changed, unchanged, failed) =
                    (report.count(Done::Changed), report.count(Done::Unchanged), report.count(Done::Failed));
                writeln!(
                    out,
                    "{}: {changed} changed, {unchanged} already as asked, {failed} failed",
                    report.action.name()
                )?;
                if failed > 0 {
                    return Ok(ExitCode::from(1));
                }
            }
            AppsCommand::Show { name } => {
                let app = ctx.registry.get(&name).await?;
                describe(&mut out, &app)?;
                let runs = lifecycle::recent(&ctx.db, app.id, 10).await?;
                if !runs.is_empty() {
                    writeln!(out, "last runs:")?;
                }
                for r in runs {
                    let at = crate::http::format::in_zone(r.queued_at, &app.time_zone);
                    writeln!(
                        out,
                        "  #{} {at} {} {} {} bytes{}",
                        r.id,
                        r.trigger,
                        r.status,
                        r.bytes,
                        r.error.map(|e| format!(" — {e}")).unwrap_or_default()
                    )?;
                }
            }
            AppsCommand::Edit { name, rename, token, resume, fields } => {
                let mut input = fields.input();
                input.name = rename;
                if resume {
                    input.enabled = Some(true);
                }
                if token {
                    input.token = Some(read_token(env)?);
                }
                let app = ctx.registry.edit_checked(&name, &input, !fields.no_check).await.map_err(refused)?;
                writeln!(out, "updated {}", app.name)?;
                describe(&mut out, &app)?;
            }
            AppsCommand::Remove { name } => {
                let app = ctx.registry.remove(&name).await?;
                writeln!(out, "removed {} (its copies in {} were kept)", app.name, app.folder)?;
            }
            AppsCommand::Adopt { name, pattern, backup_type, apply, count_in_retention } => {
                let req = AdoptRequest { pattern, backup_type, apply, count_in_retention, actor: "cli".to_owned() };
                return adopt(ctx, &mut out, &name, &req).await;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints each matched file with what happens to it; exits 1 when nothing was (or would be)
/// adopted.
async fn adopt(ctx: &Context, out: &mut impl Write, name: &str, req: &AdoptRequest) -> anyhow::Result<ExitCode> {
    let app = ctx.registry.get(name).await?;
    let adoption = crate::backup::adopt::adopt(&ctx.runner, &app, req).await?;
    let verb = if adoption.applied { "adopted" } else { "would adopt" };
    for candidate in &adoption.files {
        match &candidate.skip {
            None => writeln!(out, "{verb}  {}", candidate.file.name)?,
            Some(why) => writeln!(out, "skip   {} ({why})", candidate.file.name)?,
        }
    }
    let count = adoption.adopted().count();
    if count == 0 {
        eprintln!("error: nothing to adopt: every file matching {:?} was skipped", req.pattern);
        return Ok(ExitCode::from(1));
    }
    let counted =
        if adoption.count_in_retention { "counted in retention" } else { "kept by retention outside its rules" };
    if adoption.applied {
        writeln!(out, "{count} file(s) adopted by {} as type {}, {counted}", app.name, adoption.backup_type)?;
    } else {
        writeln!(
            out,
            "dry run: {count} file(s) would be adopted by {} as type {}, {counted}; add --apply to adopt them",
            app.name, adoption.backup_type
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(out: &mut impl Write, app: &App) -> std::io::Result<()> {
    let r = &app.retention;
    writeln!(out, "  name: {}", app.name)?;
    if !app.uid.is_empty() {
        writeln!(out, "  uid: {} (in its copies' marks; stays the same when the app is renamed)", app.uid)?;
    }
    writeln!(out, "  url: {}", app.url)?;
    writeln!(out, "  token: (stored encrypted, never shown)")?;
    writeln!(out, "  schedule: {} ({})", app.schedule, app.time_zone)?;
    if let Ok(schedule) = CronSchedule::parse(&app.schedule, &app.time_zone) {
        let next: Vec<String> = schedule
            .upcoming(jiff::Timestamp::now(), 3)
            .iter()
            .map(|t| crate::http::format::in_zone(t.as_millisecond(), &app.time_zone))
            .collect();
        writeln!(out, "  next runs: {}", next.join(", "))?;
    }
    writeln!(out, "  folder: {}", app.folder)?;
    writeln!(
        out,
        "  retention: keep last {}, daily {}, weekly {}, monthly {}, within {} days",
        r.keep_last, r.keep_daily, r.keep_weekly, r.keep_monthly, r.keep_within_days
    )?;
    writeln!(out, "  type: {}", app.backup_type.as_deref().unwrap_or("(the app's first type)"))?;
    writeln!(out, "  priority: {}", app.priority)?;
    writeln!(out, "  group: {}", app.group.as_deref().unwrap_or("(none)"))?;
    let span = |own: Option<i64>| own.map_or("(the group's, or none)".to_owned(), crate::schedule::spread::format_span);
    writeln!(out, "  window: {}", span(app.window_secs))?;
    writeln!(out, "  jitter: {}", span(app.jitter_secs))?;
    writeln!(out, "  tags: {}", if app.tags.is_empty() { "(none)".to_owned() } else { app.tags.join(", ") })?;
    let compress = match app.compress {
        crate::codec::Compress::Auto => "auto (zstd unless the export is already compressed)",
        crate::codec::Compress::Zstd => "zstd",
        crate::codec::Compress::None => "none",
    };
    writeln!(out, "  compress: {compress}")?;
    let encrypt = match app.encrypt {
        None => "auto (when recipients are configured)",
        Some(true) => "yes",
        Some(false) => "no",
    };
    writeln!(out, "  encrypt: {encrypt}")?;
    for r in &app.recipients {
        writeln!(out, "  recipient: {} (fingerprint {})", r.as_str(), r.fingerprint())?;
    }
    match &app.drill_schedule {
        Some(drills) => writeln!(out, "  restore drills: {drills} ({}), {} copy", app.time_zone, app.drill_copy)?,
        None => writeln!(out, "  restore drills: none scheduled (orchestrator drill {} runs one now)", app.name)?,
    }
    writeln!(out, "  enabled: {}", if app.enabled { "yes" } else { "no (paused)" })
}
