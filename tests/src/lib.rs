//! Helpers for the end-to-end tests: the workspace's binaries, real apps started as processes,
//! deliberately broken apps, headless Chromium, the PostgreSQL of the machine, and doubles of the
//! services notifications go to.

pub mod apps;
pub mod binaries;
pub mod broken;
pub mod browser;
pub mod chat_receivers;
pub mod cli;
pub mod fleet;
pub mod harness;
pub mod oidc_provider;
pub mod postgres;
pub mod receivers;
pub mod s3;
pub mod sdk_apps;
pub mod web;
