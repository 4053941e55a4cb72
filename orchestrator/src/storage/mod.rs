//! Where backups go: opendal operators for Google Drive (our streaming service), a local folder
//! and S3-compatible storage, behind one adapter ([`destination::Destination`]).

pub mod check;
pub mod destination;
pub mod gdrive;
pub mod google_account;
