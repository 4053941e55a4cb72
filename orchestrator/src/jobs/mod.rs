//! Background work: one queue (apalis, on the registry's own database) carries every job, and
//! each process's workers take them, `MAX_CONCURRENT_BACKUPS` at a time.
//!
//! - `queue`: what a job is, and putting jobs in the queue (Test now, retries, restores).
//! - `worker`: taking jobs and running them until shutdown.
//! - `backup`: the backup job (one attempt of a run, then retry or settle).
//! - `restore`: the restore job (a recorded restore, run once; never resumed after its process
//!   stopped).
//! - `self_backup`: the orchestrator's own backup, on `SELF_BACKUP_SCHEDULE` (a loop of its own,
//!   not a queued job: it has no app, no run record and no retries).
//! - `audit`: the integrity audit of every app's copies, on `AUDIT_SCHEDULE` (a loop of its own,
//!   claimed per fire like the self-backup's).
//! - `drills`: each app's restore drills on its drill schedule (queued as restore jobs), and the
//!   alert when none has passed within `DRILL_MAX_AGE_DAYS`.
//!
//! Jobs are idempotent: the queue delivers at least once, and a job seen again after its run or
//! restore ended does nothing.

pub mod audit;
pub mod backup;
pub mod drills;
pub mod queue;
pub mod restore;
pub mod self_backup;
pub mod worker;
