//! One integration test binary: every test starts real servers on port 0.

mod adopt;
mod alerts;
mod backup_run;
mod broken_apps;
mod browser_harness;
mod browser_ui;
mod deployment;
mod destination;
mod encryption;
mod flask_app;
mod gdrive;
mod gdrive_budget;
mod google_connect;
mod lifecycle;
mod ownership;
mod pins;
mod remote_storage;
mod restore;
mod restore_into;
mod scheduling;
mod schema;
mod sdk_examples;
mod sdk_memory;
mod sdk_postgres;
mod selfbackup;
mod web;
