//! The copies of an app in its destination, as operators browse them: listed from the
//! destination (which wins over the inventory, brought in line on each listing), found by name,
//! read back, deleted by hand. Only files whose properties say they are the app's are ever shown
//! or touched, whatever their name.

use crate::backup::inventory;
use crate::backup::run::Runner;
use crate::error::Error;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// The app's copies, newest first; the inventory is reconciled with what was listed.
pub async fn list(runner: &Runner, app: &App) -> Result<Vec<StoredFile>, Error> {
    let listed_at = crate::db::now_ms();
    let listed = runner
        .destination
        .list(&app.folder)
        .await
        .map_err(|e| Error::destination(format_args!("cannot list {}", app.folder), &e))?;
    let (db, destination, deployment) = (&runner.db, &runner.destination, &runner.deployment_id);
    match inventory::reconcile(db, destination, deployment, app, &listed, listed_at).await {
        Ok(_) => crate::backup::audit::tell_new_findings(runner, app).await,
        Err(e) => tracing::warn!(app = %app.name, error = %e, "could not update the inventory"),
    }
    let mut owned: Vec<StoredFile> =
        listed.into_iter().filter(|f| inventory::owned_by(f, &runner.deployment_id, app)).collect();
    owned.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
    Ok(owned)
}

/// The app's copy called `name` (or with that file id).
pub async fn find(runner: &Runner, app: &App, name: &str) -> Result<Option<StoredFile>, Error> {
    let found = runner
        .destination
        .find(&app.folder, name)
        .await
        .map_err(|e| Error::destination(format_args!("cannot look up {name}"), &e))?;
    Ok(found.filter(|f| inventory::owned_by(f, &runner.deployment_id, app)))
}

/// True when the copy was verified after upload (its checksum matched ours).
pub fn verified(file: &StoredFile) -> bool {
    file.properties.get("verified").is_some_and(|v| v == "1")
}

/// The copy's verified sha256, if any.
pub fn sha256(file: &StoredFile) -> Option<String> {
    file.properties.get("sha256").cloned().or_else(|| file.sha256.clone())
}

/// The mark that pins a copy (`1`; `0` once unpinned): retention never deletes it.
pub const PIN_MARK: &str = "pin";
/// The mark holding an operator's note about a copy (empty once cleared).
pub const NOTE_MARK: &str = "note";
/// The longest note, in bytes of UTF-8: Drive keeps at most 124 bytes per `appProperties` key and
/// value together, and the key takes 4.
pub const NOTE_MAX_BYTES: usize = 120;

/// The mark of a copy adopted from a file we did not write (`1`).
pub const ADOPTED_MARK: &str = "adopted";
/// The mark of an adopted copy that counts toward retention (`1`): retention may delete it like
/// any copy. Without it, an adopted copy is kept outside retention's rules.
pub const COUNT_MARK: &str = "count";

/// True when the copy was adopted (a file we did not write, made the app's by an operator).
pub fn adopted(file: &StoredFile) -> bool {
    file.properties.get(ADOPTED_MARK).is_some_and(|v| v == "1")
}

/// True when the copy was adopted and the operator did not ask for it to count toward
/// retention: retention neither counts nor deletes it.
pub fn adopted_uncounted(file: &StoredFile) -> bool {
    adopted(file) && file.properties.get(COUNT_MARK).is_none_or(|v| v != "1")
}

/// True when an operator pinned the copy.
pub fn pinned(file: &StoredFile) -> bool {
    file.properties.get(PIN_MARK).is_some_and(|v| v == "1")
}

/// The operator's note about the copy, if any.
pub fn note(file: &StoredFile) -> Option<&str> {
    file.properties.get(NOTE_MARK).map(String::as_str).filter(|n| !n.is_empty())
}

/// What is wrong with a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteProblem {
    /// Longer than [`NOTE_MAX_BYTES`]: its length in bytes.
    TooLong(usize),
    /// A line break, a tab or another control character.
    Control,
}

impl NoteProblem {
    /// The problem as a text of the catalogue.
    pub fn msg(self) -> crate::catalogue::Msg {
        use crate::catalogue::Msg;
        match self {
            NoteProblem::TooLong(len) => Msg::new("field.note.too_long").with("bytes", len).with("max", NOTE_MAX_BYTES),
            NoteProblem::Control => Msg::new("field.note.one_line"),
        }
    }
}

impl std::fmt::Display for NoteProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteProblem::TooLong(len) => write!(
                f,
                "the note is {len} bytes long; a note holds at most {NOTE_MAX_BYTES} bytes (Google Drive's limit): shorten it"
            ),
            NoteProblem::Control => {
                f.write_str("the note has a control character (a line break or a tab): write it on one line")
            }
        }
    }
}

/// A note as it will be stored (trimmed), or what is wrong with it.
pub fn note_problem(note: &str) -> Result<String, NoteProblem> {
    let note = note.trim();
    if note.len() > NOTE_MAX_BYTES {
        return Err(NoteProblem::TooLong(note.len()));
    }
    if note.chars().any(char::is_control) {
        return Err(NoteProblem::Control);
    }
    Ok(note.to_owned())
}

/// [`note_problem`], with the problem said in English.
pub fn check_note(note: &str) -> Result<String, String> {
    note_problem(note).map_err(|p| p.to_string())
}

/// Pins or unpins a copy; a `note` given replaces the copy's note (`Some("")` clears it). The
/// marks are written into the copy itself, so they outlive the database.
pub async fn set_pin(
    runner: &Runner,
    app: &App,
    file: &StoredFile,
    pin: bool,
    note: Option<&str>,
) -> Result<StoredFile, Error> {
    let mut marks = std::collections::BTreeMap::from([(PIN_MARK.to_owned(), if pin { "1" } else { "0" }.to_owned())]);
    if let Some(note) = note {
        marks.insert(NOTE_MARK.to_owned(), check_note(note).map_err(Error::Invalid)?);
    }
    runner
        .destination
        .set_properties(&app.folder, file, &marks)
        .await
        .map_err(|e| Error::destination(format_args!("cannot mark {}", file.name), &e))
}

/// Deletes one copy and marks it deleted in the inventory. A pinned copy is refused: unpin it
/// first.
pub async fn delete(runner: &Runner, app: &App, file: &StoredFile) -> Result<(), Error> {
    if pinned(file) {
        return Err(Error::refused(
            crate::catalogue::Msg::new("refusal.pinned").with("copy", &file.name).with("app", &app.name),
        ));
    }
    // Marked first, so no listing in between takes the copy for lost (a failed delete is undone
    // by the next listing, which finds the file again).
    inventory::mark_deleted(&runner.db, app.id, &file.id).await?;
    runner
        .destination
        .remove(&app.folder, file)
        .await
        .map_err(|e| Error::destination(format_args!("cannot delete {}", file.name), &e))
}

/// Deletes every copy of the app but the pinned ones (when an operator deletes the app and asks
/// for its copies to go too); returns how many were deleted.
pub async fn delete_all(runner: &Runner, app: &App) -> Result<usize, Error> {
    let files = list(runner, app).await?;
    let unpinned: Vec<&StoredFile> = files.iter().filter(|f| !pinned(f)).collect();
    for file in &unpinned {
        delete(runner, app, file).await?;
    }
    Ok(unpinned.len())
}
