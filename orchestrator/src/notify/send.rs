//! One attempt at one delivery: a signed webhook POST, an email, or a ping.

use std::time::Duration;

use aws_lc_rs::hmac;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::channel::{Channel, Config, Kind, Secret, Tls};
use super::message::Notice;

/// Why an attempt failed, and whether another may succeed.
#[derive(Debug)]
pub struct SendError {
    /// For the operator (never a secret: URLs are reduced to their host).
    pub message: String,
    /// Trying again later may help.
    pub retryable: bool,
}

impl SendError {
    fn retry(message: impl Into<String>) -> Self {
        SendError { message: message.into(), retryable: true }
    }

    fn fatal(message: impl Into<String>) -> Self {
        SendError { message: message.into(), retryable: false }
    }
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256, under the channel's signing
/// secret, of `{timestamp}.{body}` (the timestamp is sent in `X-Backup-Timestamp`, so a receiver
/// can refuse old replays).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
}

/// Sends `notice` through `channel` once.
pub async fn send(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    delivery_id: i64,
    timeout: Duration,
) -> Result<(), SendError> {
    match channel.kind {
        Kind::Webhook => webhook(http, channel, secret, notice, delivery_id, timeout).await,
        Kind::Email => email(&channel.config, secret, notice, timeout).await,
        Kind::Ping => ping(http, channel, secret, notice, timeout).await,
    }
}

/// A reqwest error without the URL (which may carry a token).
fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    format!("{what}: {}", e.without_url())
}

async fn post(request: reqwest::RequestBuilder, host: &str, timeout: Duration) -> Result<(), SendError> {
    let response =
        request.timeout(timeout).send().await.map_err(|e| SendError::retry(format!("{host}: {}", describe(e))))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = response.text().await.unwrap_or_default().chars().take(200).collect();
    let message =
        format!("{host} answered {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") });
    // A receiver that is down or busy may come back; one that refuses the request will not.
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(SendError::retry(message))
    } else {
        Err(SendError::fatal(message))
    }
}

async fn webhook(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    delivery_id: i64,
    timeout: Duration,
) -> Result<(), SendError> {
    let (Some(url), Some(signing)) = (&secret.url, &secret.signing_secret) else {
        return Err(SendError::fatal("the channel has no URL or signing secret: edit it"));
    };
    let body = notice.json();
    let timestamp = jiff::Timestamp::now().as_second();
    let request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Backup-Event", notice.event.as_str())
        .header("X-Backup-Delivery", delivery_id.to_string())
        .header("X-Backup-Timestamp", timestamp.to_string())
        .header("X-Backup-Signature", signature(signing, timestamp, &body))
        .body(body);
    post(request, &channel.config.host, timeout).await
}

async fn ping(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    timeout: Duration,
) -> Result<(), SendError> {
    let url = match notice.event.as_str() {
        "start" => &secret.start_url,
        "fail" => &secret.fail_url,
        _ => &secret.success_url,
    };
    let Some(url) = url else { return Ok(()) };
    // Healthchecks keeps a ping's body as its log: the reason, for a failure.
    let request = http.post(url).header(reqwest::header::CONTENT_TYPE, "text/plain").body(notice.text());
    post(request, &channel.config.host, timeout).await
}

async fn email(config: &Config, secret: &Secret, notice: &Notice, timeout: Duration) -> Result<(), SendError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| SendError::fatal(format!("{what}: {e}"));
    let from: Mailbox =
        config.from.as_deref().unwrap_or_default().parse().map_err(|e| bad("the sender address", &e))?;
    let mut message = Message::builder().from(from).subject(notice.subject());
    for to in &config.to {
        message = message.to(to.parse().map_err(|e| bad("a recipient address", &e))?);
    }
    let message = message
        .header(ContentType::TEXT_PLAIN)
        .body(notice.text())
        .map_err(|e| bad("the message could not be built", &e))?;
    let host = config.host.as_str();
    let builder = match config.tls.unwrap_or_default() {
        Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        Tls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
    }
    .map_err(|e| bad("the SMTP server", &e))?;
    let mut builder = builder.timeout(Some(timeout));
    if let Some(port) = config.port {
        builder = builder.port(port);
    }
    if let (Some(user), Some(password)) = (&config.username, &secret.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::fatal(format!("{host} refused the message: {e}"))),
        Err(e) => Err(SendError::retry(format!("{host}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_an_hmac_of_the_timestamp_and_body() {
        // The expected value was computed independently, with Python's hmac module.
        let body = "{\"event\":\"test\"}";
        let sig = signature("0123456789abcdef", 1700000000, body);
        assert_eq!(sig, "sha256=b9005c057dcc1e213fabfcf201ebc5a9d7ec8f55d7e3df7434020c39c458beb3");
        assert_ne!(sig, signature("0123456789abcdeX", 1700000000, body));
        assert_ne!(sig, signature("0123456789abcdef", 1700000001, body));
    }
}
