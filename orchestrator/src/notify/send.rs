//! One attempt at one delivery: a signed webhook POST, an email, a ping, or a message to a chat
//! or push service in its own format ([`super::formats`]).
//!
//! Errors name the host, never a URL: Slack's, Teams' and Discord's URLs are their secret, and
//! Telegram's token is in the path.

use std::time::Duration;

use aws_lc_rs::hmac;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::channel::{Channel, Config, Kind, Secret, Tls};
use super::formats::{self, Answer, Refusal, Retry};
use super::message::Notice;

/// The longest pause a service may ask for (`retry_after`) that an attempt waits out itself
/// before trying once more; a longer one is left to the outbox's next attempt.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

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
        Kind::Slack | Kind::Teams | Kind::Discord => chat_webhook(http, channel, secret, notice, timeout).await,
        Kind::Telegram => telegram(http, channel, secret, notice, timeout).await,
        Kind::Ntfy => ntfy(http, channel, secret, notice, timeout).await,
        Kind::Gotify => gotify(http, channel, secret, notice, timeout).await,
    }
}

/// The TLS error somewhere in `error`'s chain of causes, if any.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // An I/O error's source is its inner error's source: the inner error itself (often
        // another I/O error, around the TLS one) is reached through `get_ref`.
        cause = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// A failed TLS handshake with `host`, in words, with what to do: it will fail the same way until
/// someone changes the server's certificate or what this machine trusts, so it is not retried.
fn tls_refusal(host: &str, error: &rustls::Error) -> SendError {
    use rustls::CertificateError;
    let hint = match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is signed by an authority this machine does not trust; for an internal authority, start the orchestrator with SSL_CERT_FILE naming a PEM file of the certificates to trust".to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
            format!("its certificate is not for {host}: use the name the certificate is for")
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired) => "its certificate has expired".to_owned(),
        rustls::Error::InvalidCertificate(_) => "its certificate was refused".to_owned(),
        _ => "check that the port and the protection (TLS or STARTTLS) match the server's".to_owned(),
    };
    SendError::fatal(format!("{host}: the TLS handshake failed ({error}): {hint}"))
}

/// A reqwest error without the URL (which may carry a token): TLS failures are final, others
/// may pass.
fn transport_error(host: &str, e: reqwest::Error) -> SendError {
    if let Some(tls) = tls_error(&e) {
        return tls_refusal(host, tls);
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    SendError::retry(format!("{host}: {what}: {}", e.without_url()))
}

async fn post(request: reqwest::RequestBuilder, host: &str, timeout: Duration) -> Result<(), SendError> {
    let response = request.timeout(timeout).send().await.map_err(|e| transport_error(host, e))?;
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
        Err(e) => match tls_error(&e) {
            Some(tls) => Err(tls_refusal(host, tls)),
            None => Err(SendError::retry(format!("{host}: {e}"))),
        },
    }
}

/// What a service's answer means, as one of [`formats`]' readers says.
type ReadAnswer = fn(&Answer<'_>) -> Result<(), Refusal>;

/// Sends `request` (a JSON POST) and reads the answer with `read`; a short pause the service asks
/// for is waited out, and the request made once more.
async fn exchange(
    request: reqwest::RequestBuilder,
    host: &str,
    timeout: Duration,
    read: ReadAnswer,
) -> Result<(), SendError> {
    let mut waited = None;
    loop {
        let attempt = request.try_clone().expect("a JSON request can be cloned");
        let response = attempt.timeout(timeout).send().await.map_err(|e| transport_error(host, e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        let refusal = match read(&Answer { status, retry_after, body: &body }) {
            Ok(()) => return Ok(()),
            Err(refusal) => refusal,
        };
        match (refusal.retry, waited) {
            (Retry::After(pause), None) if pause <= LONGEST_WAIT => {
                tokio::time::sleep(pause).await;
                waited = Some(pause);
            }
            (retry, _) => {
                let mut message = format!("{host} answered {}", refusal.detail);
                if let Some(pause) = waited {
                    message
                        .push_str(&format!(" (a second time, after waiting {:.1} s as it asked)", pause.as_secs_f64()));
                }
                if let Retry::After(pause) = retry {
                    message.push_str(&format!(" (it asks to wait {} s)", pause.as_secs()));
                }
                return Err(SendError { message, retryable: retry != Retry::Never });
            }
        }
    }
}

fn json_post(http: &reqwest::Client, url: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
    http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string())
}

/// Slack, Teams and Discord: a JSON document POSTed to the webhook URL, which is the secret.
async fn chat_webhook(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    timeout: Duration,
) -> Result<(), SendError> {
    let Some(url) = &secret.url else {
        return Err(SendError::fatal("the channel has no webhook URL: edit it"));
    };
    let (body, read): (_, ReadAnswer) = match channel.kind {
        Kind::Slack => (formats::slack::payload(notice), formats::slack::answer),
        Kind::Teams => (formats::teams::payload(notice), formats::teams::answer),
        _ => (formats::discord::payload(notice), formats::discord::answer),
    };
    exchange(json_post(http, url, &body), &channel.config.host, timeout, read).await
}

async fn telegram(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    timeout: Duration,
) -> Result<(), SendError> {
    let (Some(token), Some(chat), Some(api)) = (&secret.token, &channel.config.chat_id, &channel.config.server) else {
        return Err(SendError::fatal("the channel has no bot token, chat or server: edit it"));
    };
    let url = format!("{api}/bot{token}/sendMessage");
    let body = formats::telegram::payload(notice, chat);
    exchange(json_post(http, &url, &body), &channel.config.host, timeout, formats::telegram::answer).await
}

async fn ntfy(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    timeout: Duration,
) -> Result<(), SendError> {
    let (Some(topic), Some(server)) = (&secret.topic, &channel.config.server) else {
        return Err(SendError::fatal("the channel has no topic or server: edit it"));
    };
    // JSON is published to the server's root, not to the topic's URL.
    let mut request = json_post(http, &format!("{server}/"), &formats::ntfy::payload(notice, topic));
    if let Some(token) = &secret.token {
        request = request.bearer_auth(token);
    }
    exchange(request, &channel.config.host, timeout, formats::ntfy::answer).await
}

async fn gotify(
    http: &reqwest::Client,
    channel: &Channel,
    secret: &Secret,
    notice: &Notice,
    timeout: Duration,
) -> Result<(), SendError> {
    let (Some(token), Some(server)) = (&secret.token, &channel.config.server) else {
        return Err(SendError::fatal("the channel has no token or server: edit it"));
    };
    let request = json_post(http, &format!("{server}/message"), &formats::gotify::payload(notice))
        .header("X-Gotify-Key", token.as_str());
    exchange(request, &channel.config.host, timeout, formats::gotify::answer).await
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

    #[test]
    fn a_certificate_refused_under_nested_io_errors_is_final_and_says_what_to_do() {
        use rustls::CertificateError::UnknownIssuer;
        // As hyper and lettre pass it on: an I/O error around an I/O error around rustls's.
        let tls = rustls::Error::InvalidCertificate(UnknownIssuer);
        let outer = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        let found = tls_error(&outer).expect("the TLS error is found");
        assert!(matches!(found, rustls::Error::InvalidCertificate(UnknownIssuer)));
        let refused = tls_refusal("smtp.internal", found);
        assert!(!refused.retryable);
        assert!(
            refused
                .message
                .starts_with("smtp.internal: the TLS handshake failed (invalid peer certificate: UnknownIssuer)")
        );
        assert!(refused.message.contains("SSL_CERT_FILE"), "{}", refused.message);
        assert!(tls_error(&std::io::Error::other("connection reset")).is_none());
    }
}
