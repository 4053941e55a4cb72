//! When backups run: cron expressions as users write them, per app, in the app's time zone.

pub mod cron;
pub mod describe;
pub mod queue;
pub mod scheduler;
pub mod worker;
