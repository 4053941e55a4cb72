//! When backups run: cron expressions as users write them, per app, in the app's time zone, and
//! the scheduler that turns each fire into a queued run (the jobs themselves live in `jobs`).

pub mod cron;
pub mod describe;
pub mod scheduler;
pub mod spread;
