//! The backup run: from a trigger to a verified copy in the destination, then retention; and the
//! way back, a stored copy restored into its app.

pub mod copies;
pub mod lease;
pub mod record;
pub mod restore;
pub mod retention;
pub mod run;
