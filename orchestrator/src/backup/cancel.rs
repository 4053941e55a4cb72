//! An operator's cancel reaching the run it is for, in whichever process runs it: the request is
//! a mark on the run's row ([`lifecycle::cancel`]), and the process running the run watches that
//! row while the run can still be stopped cleanly (before its upload is finished).

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
        let token = CancellationToken::new();
        let reason = Arc::new(OnceLock::new());
        let watcher = tokio::spawn(watch(db.clone(), run_id, token.clone(), reason.clone()));
        CancelWatch { token, reason, watcher }
    }

    /// Who cancelled the run, once somebody did.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
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

async fn watch(db: DatabaseConnection, run_id: i64, token: CancellationToken, reason: Arc<OnceLock<String>>) {
    loop {
        tokio::time::sleep(CANCEL_POLL).await;
        match lifecycle::cancel_requested(&db, run_id).await {
            Ok(Some(why)) => {
                let _ = reason.set(why);
                token.cancel();
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(run_id, error = %e, "could not look for a cancel request; will look again"),
        }
    }
}
