//! Black-box tests of the Drive double with plain HTTP, written from Google's documentation: the Drive API v3
//! reference, the resumable-upload guide, "Resolve errors", the OAuth 2.0 server-to-server and web-server guides,
//! and the Drive API scopes guide.

mod auth;
mod common;
mod faults;
mod files;
mod limits;
mod oauth;
mod strict;
mod uploads;
