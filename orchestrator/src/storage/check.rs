//! The destination check behind `orchestrator remote check`, the Check destination button and
//! `POST /api/v1/destination/check`: do the credentials work, does each folder exist and take a
//! file (a tiny probe is written and removed), which account and which drive is it, and will the
//! copies retention keeps fit in the storage left.
//!
//! Every problem is reported with what to do about it, before the first backup meets it.

use crate::catalogue::Msg;
use schemars::JsonSchema;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::db::entities::backup_copy;
use crate::registry::App;
use crate::storage::destination::{Destination, StoredFile};
use crate::storage::gdrive::{Acting, FolderInfo, GdriveHandle};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Works.
    Ok,
    /// Works today, but worth a look.
    Warning,
    /// Backups will fail: fix it first.
    Problem,
}

impl Level {
    /// `ok`, `warning` or `problem`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "problem",
        }
    }
}

/// One thing the check found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Finding {
    /// How bad it is.
    pub level: Level,
    /// A stable machine code, e.g. `service-account-my-drive`.
    pub code: &'static str,
    /// The folder it is about; empty for the destination as a whole.
    pub folder: String,
    /// What was found and, for a problem, what to do.
    pub message: String,
    /// The same as a text of the catalogue, for a page in its reader's language.
    #[serde(skip)]
    #[schemars(skip)]
    pub said: Msg,
}

impl Finding {
    fn new(level: Level, code: &'static str, folder: &str, said: Msg) -> Finding {
        Finding { level, code, folder: folder.to_owned(), message: said.to_string(), said }
    }
}

/// Storage left, and what the apps will need.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Space {
    /// Total room in bytes; `None` when unlimited or unknown.
    pub limit: Option<u64>,
    /// Bytes in use (all of the account's files, trash included).
    pub usage: u64,
    /// Of which in the trash.
    pub in_trash: u64,
    /// Bytes the apps' copies in these folders take today.
    pub stored: u64,
    /// Bytes they will take at the peak of a run: each app's copies kept plus its next one.
    pub needed: u64,
}

/// The check's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// `gdrive`, `fs` or `s3`.
    pub kind: &'static str,
    /// Where backups go, in words.
    pub location: String,
    /// Who the credentials act as (Drive), when known.
    pub account: Option<String>,
    /// Every finding, in the order checked.
    pub findings: Vec<Finding>,
    /// Storage, where the destination reports it (a My Drive, a local disk).
    pub space: Option<Space>,
}

impl Report {
    /// True when nothing stops backups.
    pub fn ok(&self) -> bool {
        !self.findings.iter().any(|f| f.level == Level::Problem)
    }

    fn push(&mut self, level: Level, code: &'static str, folder: &str, said: Msg) {
        self.findings.push(Finding::new(level, code, folder, said));
    }
}

/// What one app will need in its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The app.
    pub app: String,
    /// Its folder.
    pub folder: String,
    /// Size of its newest copy: the best guess for the next one (0 when it has none yet).
    pub next_copy: u64,
    /// Bytes its copies take today.
    pub stored: u64,
    /// How many copies retention keeps at most.
    pub kept: u64,
}

impl Need {
    /// Bytes at the peak of a run: the copies kept, plus the new one (copies are deleted only
    /// after the new one is verified).
    pub fn peak(&self) -> u64 {
        self.next_copy.saturating_mul(self.kept + 1).max(self.stored)
    }
}

/// What each app will need, from the inventory. With `only`, just the apps of that folder.
pub async fn needs(db: &DatabaseConnection, apps: &[App], only: Option<&str>) -> Result<Vec<Need>, sea_orm::DbErr> {
    let mut needs = Vec::new();
    for app in apps.iter().filter(|a| only.is_none_or(|f| f == a.folder)) {
        let copies = backup_copy::Entity::find()
            .filter(backup_copy::Column::AppId.eq(app.id))
            .filter(backup_copy::Column::DeletedAt.is_null())
            .order_by_desc(backup_copy::Column::CreatedAt)
            .all(db)
            .await?;
        let p = &app.retention;
        let by_rules =
            u64::from(p.keep_last) + u64::from(p.keep_daily) + u64::from(p.keep_weekly) + u64::from(p.keep_monthly);
        needs.push(Need {
            app: app.name.clone(),
            folder: app.folder.clone(),
            next_copy: copies.first().map_or(0, |c| c.size.max(0) as u64),
            stored: copies.iter().map(|c| c.size.max(0) as u64).sum(),
            kept: by_rules.max(copies.len() as u64),
        });
    }
    Ok(needs)
}

/// Checks `folder`, or when none is given the folder of every registered app, with the apps'
/// needs from the inventory.
pub async fn check_apps(
    db: &DatabaseConnection,
    apps: &[App],
    destination: &Destination,
    folder: Option<&str>,
) -> Result<Report, sea_orm::DbErr> {
    let folders: Vec<String> = match folder {
        Some(folder) => vec![folder.to_owned()],
        None => {
            let mut folders: Vec<String> = apps.iter().map(|a| a.folder.clone()).collect();
            folders.sort();
            folders.dedup();
            folders
        }
    };
    let needs = needs(db, apps, folder).await?;
    Ok(check(destination, &folders, &needs).await)
}

/// Checks the destination, each of `folders`, and whether `needs` fit.
pub async fn check(destination: &Destination, folders: &[String], needs: &[Need]) -> Report {
    let mut report = Report {
        kind: destination.kind(),
        location: destination.location(),
        account: None,
        findings: Vec::new(),
        space: None,
    };
    match destination.drive() {
        Some(drive) => check_drive(&mut report, destination, drive, folders, needs).await,
        None => {
            if folders.is_empty() {
                report.push(Level::Warning, "no-folder", "", Msg::new("check.no_folder"));
            }
            for folder in folders {
                probe(&mut report, destination, folder).await;
            }
            if destination.kind() == "fs" {
                report.space = local_space(&destination.location(), folders, needs);
            }
        }
    }
    if let Some(space) = &report.space {
        forecast(&mut report.findings, space, destination.drive().is_some_and(GdriveHandle::trashes));
    }
    report
}

async fn check_drive(
    report: &mut Report,
    destination: &Destination,
    drive: &GdriveHandle,
    folders: &[String],
    needs: &[Need],
) {
    let about = match drive.about().await {
        Ok(about) => about,
        Err(e) => {
            report.push(
                Level::Problem,
                "credentials",
                "",
                Msg::new("check.credentials_refused").quoting("detail", e.message()),
            );
            return;
        }
    };
    let acting = drive.acting();
    let how = match acting {
        Acting::ServiceAccount => "check.acting.service_account",
        Acting::Delegated => "check.acting.delegated",
        Acting::User => "check.acting.user",
    };
    report.account = Some(about.email.clone());
    let works = Msg::new("check.credentials_work").with("email", &about.email).with_msg("how", Msg::new(how));
    report.push(Level::Ok, "credentials", "", works);
    if drive.files_only() {
        report.push(Level::Ok, "scope", "", Msg::new("check.scope_files_only"));
    }
    if folders.is_empty() {
        report.push(Level::Warning, "no-folder", "", Msg::new("check.no_drive_folder"));
    }
    let mut in_my_drive = Vec::new();
    for id in folders {
        let info = match drive.folder_info(id).await {
            Ok(info) => info,
            Err(e) => {
                report.push(
                    Level::Problem,
                    "folder",
                    id,
                    Msg::new("check.folder_unusable").quoting("detail", e.message()),
                );
                continue;
            }
        };
        describe_folder(report, &info, acting, &about.email);
        if info.shared_drive.is_none() {
            in_my_drive.push(id.clone());
        }
        if info.can_add_children == Some(false) {
            report.push(
                Level::Problem,
                "not-writable",
                id,
                Msg::new(if info.shared_drive.is_some() { "check.not_writable_shared" } else { "check.not_writable" })
                    .with("email", &about.email),
            );
            continue;
        }
        if acting == Acting::ServiceAccount && info.shared_drive.is_none() {
            // Google refuses the upload itself; the probe would only repeat it.
            continue;
        }
        let may_prune = if drive.trashes() { info.can_trash_children } else { info.can_delete_children };
        let cannot_prune = may_prune == Some(false);
        if cannot_prune {
            report.push(
                Level::Problem,
                "cannot-delete",
                id,
                Msg::new(match (drive.trashes(), info.shared_drive.is_some()) {
                    (true, true) => "check.cannot_trash_shared",
                    (true, false) => "check.cannot_trash",
                    (false, true) => "check.cannot_delete_shared",
                    (false, false) => "check.cannot_delete",
                })
                .with("email", &about.email),
            );
        }
        probe(report, destination, id).await;
    }
    let mine: Vec<&Need> = needs.iter().filter(|n| in_my_drive.contains(&n.folder)).collect();
    if acting != Acting::ServiceAccount && (!in_my_drive.is_empty() || folders.is_empty()) {
        report.space = Some(Space {
            limit: about.limit,
            usage: about.usage,
            in_trash: about.usage_in_trash,
            stored: mine.iter().map(|n| n.stored).sum(),
            needed: mine.iter().map(|n| n.peak()).sum(),
        });
    }
}

fn describe_folder(report: &mut Report, info: &FolderInfo, acting: Acting, email: &str) {
    let id = &info.id;
    match (&info.shared_drive, acting) {
        (Some((_, drive)), _) => report.push(
            Level::Ok,
            "shared-drive",
            id,
            Msg::new("check.shared_drive").with("folder", &info.name).with("drive", drive).with("email", email),
        ),
        (None, Acting::ServiceAccount) => report.push(
            Level::Problem,
            "service-account-my-drive",
            id,
            Msg::new("check.service_account_my_drive").with("folder", &info.name).with("email", email),
        ),
        (None, _) => report.push(
            Level::Ok,
            "my-drive",
            id,
            Msg::new("check.my_drive").with("folder", &info.name).with("email", email),
        ),
    }
}

/// Writes a tiny file and removes it.
async fn probe(report: &mut Report, destination: &Destination, folder: &str) {
    let name = format!(".orchestrator-check-{}", jiff::Timestamp::now().as_millisecond());
    let body = bytes::Bytes::from_static(b"destination check: safe to delete\n");
    let written: opendal::Result<StoredFile> = async {
        let mut writer = destination.writer(folder, &name, "text/plain", &Default::default()).await?;
        if let Err(e) = writer.write(body.clone()).await {
            let _ = writer.abort().await;
            return Err(e);
        }
        let meta = writer.close().await?;
        Ok(destination.stored(&name, &meta))
    }
    .await;
    let file = match written {
        Ok(file) => file,
        Err(e) => {
            report.push(Level::Problem, "write", folder, Msg::new("check.write_failed").quoting("detail", e.message()));
            return;
        }
    };
    match destination.remove(folder, &file).await {
        Ok(()) => report.push(Level::Ok, "write", folder, Msg::new("check.write_ok")),
        Err(e) => report.push(
            Level::Problem,
            "cannot-delete",
            folder,
            Msg::new("check.remove_failed").quoting("detail", e.message()).with("name", &name),
        ),
    }
}

fn local_space(root: &str, folders: &[String], needs: &[Need]) -> Option<Space> {
    let stat = rustix::fs::statvfs(root).ok()?;
    let total = stat.f_blocks.saturating_mul(stat.f_frsize);
    let available = stat.f_bavail.saturating_mul(stat.f_frsize);
    let mine: Vec<&Need> = needs.iter().filter(|n| folders.contains(&n.folder)).collect();
    Some(Space {
        limit: Some(total),
        usage: total.saturating_sub(available),
        in_trash: 0,
        stored: mine.iter().map(|n| n.stored).sum(),
        needed: mine.iter().map(|n| n.peak()).sum(),
    })
}

/// Whether the copies fit: what is used by other files stays, the apps' copies grow to their peak.
fn forecast(findings: &mut Vec<Finding>, space: &Space, trashes: bool) {
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let Some(limit) = space.limit else {
        findings.push(Finding::new(
            Level::Ok,
            "space",
            "",
            Msg::new("check.space_unlimited").with("used", gib(space.usage)),
        ));
        return;
    };
    let others = space.usage.saturating_sub(space.stored);
    let at_peak = others.saturating_add(space.needed);
    let free = limit.saturating_sub(space.usage);
    let summary = Msg::new("check.space")
        .with("used", gib(space.usage))
        .with("limit", gib(limit))
        .with("trash", gib(space.in_trash))
        .with("free", gib(free))
        .with("needed", gib(space.needed));
    let (level, said) = if at_peak > limit {
        let key = if space.in_trash > 0 { "check.space_short_trash" } else { "check.space_short" };
        (Level::Problem, Msg::new(key).with_msg("summary", summary).with("missing", gib(at_peak - limit)))
    } else if at_peak > limit / 10 * 9 {
        (Level::Warning, Msg::new("check.space_tight").with_msg("summary", summary))
    } else {
        (Level::Ok, summary)
    };
    findings.push(Finding::new(level, "space", "", said));
    if trashes && space.in_trash > 0 {
        findings.push(Finding::new(
            Level::Warning,
            "trash",
            "",
            Msg::new("check.trash").with("trash", gib(space.in_trash)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn space(limit: u64, usage: u64, stored: u64, needed: u64) -> Space {
        Space { limit: Some(limit * GIB), usage: usage * GIB, in_trash: 0, stored: stored * GIB, needed: needed * GIB }
    }

    fn level(space: &Space) -> Level {
        let mut findings = Vec::new();
        forecast(&mut findings, space, false);
        findings[0].level
    }

    #[test]
    fn the_peak_counts_the_next_copy_on_top_of_those_kept() {
        let need = Need { app: "a".into(), folder: "f".into(), next_copy: 10, stored: 30, kept: 7 };
        assert_eq!(need.peak(), 80);
        let first = Need { next_copy: 0, stored: 0, ..need.clone() };
        assert_eq!(first.peak(), 0);
        let shrinking = Need { next_copy: 1, stored: 50, kept: 2, ..need };
        assert_eq!(shrinking.peak(), 50, "copies already stored are never forecast away");
    }

    #[test]
    fn copies_that_cannot_fit_are_a_problem_before_the_first_backup() {
        // 15 GiB account, 5 used by other files, 2 by copies; copies will need 12.
        assert_eq!(level(&space(15, 7, 2, 12)), Level::Problem);
        assert_eq!(level(&space(15, 7, 2, 9)), Level::Warning);
        assert_eq!(level(&space(15, 7, 2, 4)), Level::Ok);
        let unlimited = Space { limit: None, ..space(15, 7, 2, 100) };
        assert_eq!(level(&unlimited), Level::Ok);
    }
}
