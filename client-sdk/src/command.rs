//! A ready-made source for anything else (MySQL, files on a NAS, a script): shell commands that
//! write the backup to standard output, read one on standard input to restore it, and optionally
//! read one to check it without restoring (a restore drill). Each command's exit status is
//! checked: a non-zero exit fails the export (the connection is cut, so a half-written dump never
//! looks complete), the restore or the check.

use tokio::process::Command;

use contract_spec::VerifyReport;

use crate::process::{export_command, import_command, verify_command};
use crate::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};

/// One backup type made by shell commands, run with `sh -c`.
#[derive(Debug, Clone)]
pub struct Commands {
    app: String,
    backup_type: BackupType,
    export: String,
    import: Option<String>,
    verify: Option<String>,
}

fn shell(command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command);
    c
}

impl Commands {
    /// `export`'s standard output is a backup of type `backup_type`, announced as `app`.
    pub fn new(app: impl Into<String>, backup_type: BackupType, export: impl Into<String>) -> Self {
        let backup_type = BackupType { verify: false, ..backup_type };
        Commands { app: app.into(), backup_type, export: export.into(), import: None, verify: None }
    }

    /// `import` reads a backup on its standard input and restores it (enables restores).
    pub fn import(mut self, import: impl Into<String>) -> Self {
        self.import = Some(import.into());
        self
    }

    /// `verify` reads a backup on its standard input and exits 0 only if it would restore,
    /// changing nothing (enables restore drills).
    pub fn verify(mut self, verify: impl Into<String>) -> Self {
        self.verify = Some(verify.into());
        self.backup_type.verify = true;
        self
    }
}

impl BackupSource for Commands {
    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::new(&self.app, [self.backup_type.clone()]);
        capabilities.restore = self.import.is_some();
        capabilities
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        export_command(shell(&self.export))
    }

    async fn verify(&self, _: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let Some(command) = &self.verify else {
            return Err(SourceError::Unsupported);
        };
        verify_command(shell(command), body, "the verify command accepts the copy").await
    }

    async fn import(&self, _: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let Some(command) = &self.import else {
            return Err(SourceError::Unsupported);
        };
        import_command(shell(command), body).await
    }
}
