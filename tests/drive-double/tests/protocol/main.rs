//! Black-box tests of the Drive double with plain HTTP, written from Google's documentation: the Drive API v3
//! reference, the resumable-upload guide, "Resolve errors", and the OAuth 2.0 server-to-server guide.

mod auth;
mod common;
mod faults;
mod files;
mod limits;
mod strict;
mod uploads;
