//! The tables, one file each.

pub mod app;
pub mod app_lease;
pub mod backup_copy;
pub mod backup_run;
pub mod setting;
