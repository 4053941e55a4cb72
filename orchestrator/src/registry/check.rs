//! "Check connection": asks an app for its capabilities with the URL and token an operator typed
//! (or the stored token), and says exactly what is wrong when it cannot. Saving an app asks the
//! same first ([`before_save`]).

use std::time::Duration;

use contract_spec::Capabilities;
use contract_spec::client::{AppClient, ClientError, Timeouts};
use secrecy::SecretString;

use crate::catalogue::Msg;
use crate::error::{Error, Retry};
use crate::registry::input::FieldError;

/// How long a check waits for the app.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    response: Duration::from_secs(15),
    idle: Duration::from_secs(15),
    total: Duration::from_secs(20),
};

/// The app's capabilities, or what went wrong, in words.
pub async fn check(url: &str, token: SecretString) -> Result<Capabilities, Error> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::Invalid("give the app's URL first".into()));
    }
    ask(url, token).await.map_err(|e| match e {
        ClientError::InvalidUrl { .. } => Error::Invalid(e.to_string()),
        e => Error::App { message: e.to_string(), retry: Retry::when(e.is_retryable()) },
    })
}

async fn ask(url: &str, token: SecretString) -> Result<Capabilities, ClientError> {
    AppClient::new(url, token, TIMEOUTS)?.capabilities().await
}

/// What saving an app asks of it first: that it answers at `url` with contract v1, accepts
/// `token` and offers `backup_type` (when one is set). A refusal names the field to fix and
/// carries the app's own answer; an app that cannot be reached says how to save it anyway.
pub async fn before_save(url: &str, token: SecretString, backup_type: Option<&str>) -> Result<(), Vec<FieldError>> {
    let caps = match ask(url, token).await {
        Ok(caps) => caps,
        Err(ClientError::Unauthorized) => {
            return Err(vec![FieldError::new("token", Msg::new("check.token_refused"))]);
        }
        Err(e @ (ClientError::Unreachable { .. } | ClientError::Timeout { .. })) => {
            return Err(vec![FieldError::new("url", Msg::new("check.unreachable").with("detail", e))]);
        }
        Err(e) => return Err(vec![FieldError::new("url", Msg::new("check.not_backup_app").with("detail", e))]),
    };
    let Some(wanted) = backup_type.filter(|t| !t.is_empty()) else { return Ok(()) };
    if caps.resolve_type(Some(wanted)).is_some() {
        return Ok(());
    }
    let offered: Vec<&str> = caps.types.iter().map(|t| t.name.as_str()).collect();
    Err(vec![FieldError::new(
        "backup_type",
        Msg::new("check.type_not_offered").with("wanted", wanted).with("offered", offered.join(", ")),
    )])
}
