//! The backup run: from a trigger to a verified copy in the destination, then retention.

pub mod retention;
