//! The backup orchestrator: pulls exports from apps that speak contract v1 and streams them into
//! their destination. `main.rs` only wires the command line to the modules here.

pub mod audit;
pub mod backup;
pub mod catalogue;
pub mod cli;
pub mod codec;
pub mod config;
pub mod db;
pub mod deployment;
pub mod error;
pub mod fleet;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod overview;
pub mod registry;
pub mod runlog;
pub mod schedule;
pub mod secrets;
pub mod selfbackup;
pub mod startup;
pub mod storage;
pub mod users;
