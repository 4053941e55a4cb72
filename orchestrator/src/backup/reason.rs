//! Why a run or a restore stopped, as texts of the catalogue: a stable code for each kind of
//! reason, with what another system said (the app, the network, the destination) quoted as it
//! came. Runs store these, so that each page, notice and API answer says them in its reader's
//! language.

use contract_spec::client::ClientError;

use crate::catalogue::{Lang, Msg};

/// What the app (or the network on the way to it) answered, said as one of our texts.
pub fn app(e: &ClientError) -> Msg {
    match e {
        ClientError::InvalidUrl { url, reason } => {
            Msg::new("reason.app.invalid_url").with("url", url).quoting("detail", reason)
        }
        ClientError::Unreachable { url, reason } => {
            Msg::new("reason.app.unreachable").with("url", url).quoting("detail", reason)
        }
        ClientError::Timeout { what, limit } => {
            Msg::new("reason.app.timeout").with("limit", format!("{}s", limit.as_secs())).quoting("detail", what)
        }
        ClientError::Unauthorized => Msg::new("reason.app.unauthorized"),
        ClientError::Busy { retry_after: Some(after), message } => {
            Msg::new("reason.app.busy_retry").with("seconds", after.as_secs()).quoting("detail", message)
        }
        ClientError::Busy { retry_after: None, message } => Msg::new("reason.app.busy").quoting("detail", message),
        ClientError::Status { status, code, message } => {
            Msg::new("reason.app.status").with("status", status).with("code", code).quoting("detail", message)
        }
        ClientError::InvalidCapabilities(problems) => {
            Msg::new("reason.app.invalid_capabilities").quoting("detail", problems.join("; "))
        }
        ClientError::Protocol(detail) => Msg::new("reason.app.protocol").quoting("detail", detail),
        ClientError::Aborted { bytes, reason } => {
            Msg::new("reason.app.aborted").with("bytes", bytes).quoting("detail", reason)
        }
        ClientError::Empty => Msg::new("reason.app.empty"),
        ClientError::Mismatch(detail) => Msg::new("reason.app.mismatch").quoting("detail", detail),
    }
}

/// A destination call failed (`what`: the catalogue's text for the call, with a `{detail}`
/// that gets opendal's explanation).
pub fn destination(what: &'static str, e: &opendal::Error) -> Msg {
    Msg::new(what).quoting("detail", e.message())
}

/// The database failed.
pub fn database(e: &impl std::fmt::Display) -> Msg {
    Msg::new("reason.database").quoting("detail", e)
}

/// An operator (`by`, a user name; empty when not known) cancelled it.
pub fn cancelled(by: &str) -> Msg {
    if by.is_empty() { Msg::new("reason.cancelled") } else { Msg::new("reason.cancelled_by").with("by", by) }
}

/// A reason as a record holds it: the message it was said with, or only its English text (a
/// record written by an earlier version, or by another that knows texts this one does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Said with a text of the catalogue.
    Said(Msg),
    /// English only.
    Text(String),
}

impl Stored {
    /// From a record's English text and message columns; `None` when it has neither.
    pub fn read(text: Option<&str>, msg: Option<&str>) -> Option<Stored> {
        match msg.and_then(Msg::from_json) {
            Some(msg) => Some(Stored::Said(msg)),
            None => text.filter(|t| !t.is_empty()).map(|t| Stored::Text(t.to_owned())),
        }
    }

    /// Its stable machine code, when it was said with a text of the catalogue.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Stored::Said(msg) => Some(msg.code()),
            Stored::Text(_) => None,
        }
    }

    /// In `lang`, as plain text.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Stored::Said(msg) => msg.render(lang),
            Stored::Text(text) => text.clone(),
        }
    }

    /// In `lang`, as HTML (escaped; other systems' words and old English texts marked as not in
    /// the page's language).
    pub fn html(&self, lang: Lang) -> String {
        match self {
            Stored::Said(msg) => msg.render_html(lang),
            Stored::Text(text) => crate::catalogue::foreign_html(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_answer_of_an_app_has_a_text_in_each_language_that_keeps_the_apps_words() {
        let errors = [
            ClientError::InvalidUrl { url: "ftp://x".into(), reason: "scheme".into() },
            ClientError::Unreachable { url: "http://x".into(), reason: "connection refused".into() },
            ClientError::Timeout { what: "did not answer".into(), limit: Duration::from_secs(30) },
            ClientError::Unauthorized,
            ClientError::Busy { retry_after: Some(Duration::from_secs(9)), message: "dumping".into() },
            ClientError::Busy { retry_after: None, message: "dumping".into() },
            ClientError::Status { status: 500, code: "boom".into(), message: "disk full".into() },
            ClientError::InvalidCapabilities(vec!["no types".into()]),
            ClientError::Protocol("no trailer".into()),
            ClientError::Aborted { bytes: 42, reason: "reset".into() },
            ClientError::Empty,
            ClientError::Mismatch("length".into()),
        ];
        for e in &errors {
            let msg = app(e);
            for lang in Lang::ALL {
                let said = msg.render(lang);
                assert!(!said.contains('{') && !said.starts_with("reason."), "{said}");
            }
            assert_ne!(msg.render(Lang::En), msg.render(Lang::Es), "{e}");
        }
    }

    #[test]
    fn a_stored_reason_reads_its_message_or_else_its_old_english_text() {
        let msg = Msg::new("reason.cancelled_by").with("by", "ana");
        let said = Stored::read(Some("Cancelled by ana."), Some(&msg.to_json())).unwrap();
        assert_eq!(said.code(), Some("reason.cancelled_by"));
        assert_eq!(said.text(Lang::Es), msg.render(Lang::Es));
        let old = Stored::read(Some("cancelled by <ana>"), None).unwrap();
        assert_eq!(old.code(), None);
        assert_eq!(old.text(Lang::Es), "cancelled by <ana>");
        assert_eq!(old.html(Lang::Es), r#"<span lang="">cancelled by &lt;ana&gt;</span>"#);
        assert_eq!(Stored::read(Some(""), Some("{}")), None);
    }
}
