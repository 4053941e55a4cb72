//! The backup run: from a trigger to a verified copy in the destination, then retention.

pub mod copies;
pub mod lease;
pub mod record;
pub mod retention;
pub mod run;
