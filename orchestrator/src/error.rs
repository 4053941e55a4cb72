//! The domain's errors: what failed, in a few classes that every surface maps once — the JSON API
//! (status and code, `http::api::error`), the pages (status, `http::error`) and the command line
//! (exit code 1 for any of them; 2 stays for what stops a command before it runs). The same failure gets the same class everywhere. Messages
//! say what failed, with what input, and what the user can do.

use sea_orm::DbErr;

use crate::catalogue::Msg;

/// Whether trying again later may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// It may clear by itself (a 503, a cut connection, a rate limit).
    Temporary,
    /// It will not clear without someone fixing something (a 401, a wrong contract, no quota).
    Permanent,
}

impl Retry {
    /// `Temporary` when `temporary`.
    pub fn when(temporary: bool) -> Retry {
        if temporary { Retry::Temporary } else { Retry::Permanent }
    }
}

/// Why a domain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something named does not exist: an app, a copy, a run, a restore.
    #[error("{0}")]
    NotFound(String),
    /// The input cannot be used as given; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The request is understood, but the app or the copy cannot do it (an app that takes no
    /// restores, a copy of a type no longer offered).
    #[error("{0}")]
    Refused(String),
    /// Something else holds the app now (a backup or a restore): try again when it has finished.
    #[error("{0}")]
    Busy(String),
    /// The app could not be reached, or answered with an error.
    #[error("{message}")]
    App {
        /// What failed.
        message: String,
        /// Whether trying again may help.
        retry: Retry,
    },
    /// The destination (Drive, a folder, S3) could not be reached, or refused.
    #[error("{message}")]
    Destination {
        /// What failed.
        message: String,
        /// Whether trying again may help.
        retry: Retry,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A fault of ours (a queue that cannot be written, a secret that cannot be opened).
    #[error("{0}")]
    Internal(String),
    /// One of the classes above, said as a text of the catalogue, so that each surface says it
    /// in its reader's language (where a surface knows it; else in English).
    #[error("{1}")]
    Said(Class, crate::catalogue::Msg),
}

/// Which kind of failure an [`Error::Said`] is: as the variants of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// As [`Error::NotFound`].
    NotFound,
    /// As [`Error::Invalid`].
    Invalid,
    /// As [`Error::Refused`].
    Refused,
    /// As [`Error::Busy`].
    Busy,
}

impl Error {
    /// A destination failure: `what` failed, with opendal's reason; temporary when opendal says so.
    pub fn destination(what: impl std::fmt::Display, e: &opendal::Error) -> Error {
        Error::Destination { message: format!("{what}: {}", e.message()), retry: Retry::when(e.is_temporary()) }
    }

    /// An app failure.
    pub fn app(what: impl std::fmt::Display, e: &contract_spec::client::ClientError) -> Error {
        Error::App { message: format!("{what}: {e}"), retry: Retry::when(e.is_retryable()) }
    }

    /// What went wrong, for a reader: the catalogue's text, or the English sentence of an error
    /// not yet in the catalogue.
    pub fn said(&self) -> crate::catalogue::Said {
        match self {
            Error::Said(_, msg) => msg.clone().into(),
            other => other.to_string().into(),
        }
    }

    /// A refusal said as `msg`: the request cannot be done as asked.
    pub fn refused(msg: crate::catalogue::Msg) -> Error {
        Error::Said(Class::Refused, msg)
    }

    /// Whether trying the same thing again later may help.
    pub fn retry(&self) -> Retry {
        match self {
            Error::App { retry, .. } | Error::Destination { retry, .. } => *retry,
            Error::Busy(_) | Error::Db(_) | Error::Said(Class::Busy, _) => Retry::Temporary,
            Error::NotFound(_) | Error::Invalid(_) | Error::Refused(_) | Error::Internal(_) | Error::Said(..) => {
                Retry::Permanent
            }
        }
    }
}

impl From<crate::registry::RegistryError> for Error {
    fn from(e: crate::registry::RegistryError) -> Self {
        use crate::registry::RegistryError;
        match e {
            RegistryError::NotFound(name) => Error::Said(Class::NotFound, Msg::new("missing.app").with("name", name)),
            RegistryError::Invalid(errors) => {
                let each = errors
                    .into_iter()
                    .map(|e| Msg::new("page_error.field").with("field", e.field).with_msg("error", e.msg));
                Error::Said(Class::Invalid, Msg::new("page_error.fields").with_msgs("errors", each.collect()))
            }
            other => Error::Internal(other.to_string()),
        }
    }
}
