//! An operator's cancel reaching the run (or restore) it is for, in whichever process runs it: the
//! request is a mark on the row ([`lifecycle::cancel`], `restore::record::cancel`), and the
//! process running it watches that row while it can still be stopped cleanly (a backup before its
//! upload is finished, a restore before the app has answered its import).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::backup::lifecycle;

/// How often a running run's row is read for a cancel request.
pub const CANCEL_POLL: Duration = Duration::from_millis(500);

/// Watches one run's row for a cancel request until dropped.
#[derive(Debug)]
pub struct CancelWatch {
    token: CancellationToken,
    reason: Arc<OnceLock<String>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl CancelWatch {
    /// Starts watching run `run_id`.
    pub fn start(db: &DatabaseConnection, run_id: i64) -> CancelWatch {
        CancelWatch::watching(db, Watched::Run(run_id))
    }

    /// Starts watching restore (or drill) `restore_id`.
    pub fn for_restore(db: &DatabaseConnection, restore_id: i64) -> CancelWatch {
        CancelWatch::watching(db, Watched::Restore(restore_id))
    }

    fn watching(db: &DatabaseConnection, watched: Watched) -> CancelWatch {
        let token = CancellationToken::new();
        let reason = Arc::new(OnceLock::new());
        let watcher = tokio::spawn(watch(db.clone(), watched, token.clone(), reason.clone()));
        CancelWatch { token, reason, watcher }
    }

    /// Who cancelled the run, once somebody did.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// Waits until somebody cancels it; who.
    pub async fn cancelled(&self) -> String {
        self.token.cancelled().await;
        self.reason().unwrap_or("cancelled").to_owned()
    }

    /// Runs `work` unless the run is cancelled first: then `work` is dropped (stopped where it
    /// waits) and the answer is `Err(reason)`.
    pub async fn unless_cancelled<T>(&self, work: impl Future<Output = T>) -> Result<T, String> {
        tokio::select! {
            biased;
            () = self.token.cancelled() => Err(self.reason().unwrap_or("cancelled").to_owned()),
            out = work => Ok(out),
        }
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The row a [`CancelWatch`] reads.
#[derive(Debug, Clone, Copy)]
enum Watched {
    Run(i64),
    Restore(i64),
}

async fn watch(db: DatabaseConnection, watched: Watched, token: CancellationToken, reason: Arc<OnceLock<String>>) {
    loop {
        tokio::time::sleep(CANCEL_POLL).await;
        let asked = match watched {
            Watched::Run(run_id) => lifecycle::cancel_requested(&db, run_id).await,
            Watched::Restore(restore_id) => crate::backup::restore::record::cancel_requested(&db, restore_id).await,
        };
        match asked {
            Ok(Some(why)) => {
                let _ = reason.set(why);
                token.cancel();
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(?watched, error = %e, "could not look for a cancel request; will look again"),
        }
    }
}
