//! "Check connection": asks an app for its capabilities with the URL and token an operator typed
//! (or the stored token), and says exactly what is wrong when it cannot.

use std::time::Duration;

use contract_spec::Capabilities;
use contract_spec::client::{AppClient, Timeouts};
use secrecy::SecretString;

use crate::error::{Error, Retry};

/// The app's capabilities, or what went wrong, in words.
pub async fn check(url: &str, token: SecretString) -> Result<Capabilities, Error> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::Invalid("give the app's URL first".into()));
    }
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        response: Duration::from_secs(15),
        idle: Duration::from_secs(15),
        total: Duration::from_secs(20),
    };
    let client = AppClient::new(url, token, timeouts).map_err(|e| Error::Invalid(e.to_string()))?;
    client.capabilities().await.map_err(|e| Error::App { message: e.to_string(), retry: Retry::when(e.is_retryable()) })
}
