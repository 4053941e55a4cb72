//! Google Drive double (being written).
