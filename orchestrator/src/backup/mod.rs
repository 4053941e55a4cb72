//! The backup run: from a trigger to a verified copy in the destination, then retention; and the
//! way back, a stored copy restored into its app.
//!
//! `lifecycle` owns every state change of a run (create, start, progress, settle); `run` is the
//! pipeline of one attempt; `inventory` the copies table; `retention` what to keep; `audit` whether
//! the stored copies are still there and still what was stored.

pub mod adopt;
pub mod audit;
pub mod bandwidth;
pub mod budget;
pub mod cancel;
pub mod copies;
pub mod drill;
pub mod inventory;
pub mod lease;
pub mod lifecycle;
pub mod reason;
pub mod restore;
pub mod retention;
pub mod run;
pub mod slots;
pub mod upload;
