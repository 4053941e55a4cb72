//! The tables, one file each.

pub mod api_token;
pub mod app;
pub mod app_alert;
pub mod app_group;
pub mod app_lease;
pub mod audit_entry;
pub mod backup_copy;
pub mod backup_run;
pub mod copy_audit;
pub mod drive_upload;
pub mod drive_upload_hold;
pub mod group_slot;
pub mod group_waiter;
pub mod notification_channel;
pub mod notification_delivery;
pub mod restore;
pub mod run_log;
pub mod session;
pub mod setting;
pub mod user;
