//! The tables, one file each.

pub mod api_token;
pub mod app;
pub mod app_lease;
pub mod audit_entry;
pub mod backup_copy;
pub mod backup_run;
pub mod restore;
pub mod session;
pub mod setting;
