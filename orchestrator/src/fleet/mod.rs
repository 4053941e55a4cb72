//! Operating a fleet of apps at once: which apps a filter picks (by name, tag, group and state,
//! with the count of each state) and the bulk actions applied to a selection of them.
//!
//! Both surfaces (pages, API) and the CLI go through here, so "failing" or "paused" means the
//! same everywhere and every app a bulk action changes is validated, changed and audited one
//! by one, through the registry and the queue's own paths. Never changes an app without an
//! audit entry.

pub mod bulk;
pub mod file;
pub mod filter;
