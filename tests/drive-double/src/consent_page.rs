//! The HTML the authorization endpoint answers: the consent screen (one form, two buttons a browser test can
//! click) and Google's "Authorization Error" page. Every value from the request is escaped.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::authorize::AuthRequest;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn html(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

/// "Authorization Error / Error 400: redirect_uri_mismatch", with the request details Google lists under it.
pub(crate) fn error(status: u16, error: &str, description: &str, params: &BTreeMap<String, String>) -> Response {
    let details: String =
        params.iter().map(|(name, value)| format!("      <li>{}={}</li>\n", escape(name), escape(value))).collect();
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <title>Authorization Error</title>\n</head>\n<body>\n  <h1>Authorization Error</h1>\n  \
         <p id=\"error-code\">Error {status}: {}</p>\n  <p id=\"error-description\">{}</p>\n  \
         <section id=\"request-details\">\n    <h2>Request details</h2>\n    <ul>\n{details}    </ul>\n  \
         </section>\n</body>\n</html>\n",
        escape(error),
        escape(description),
    );
    html(status, body)
}

/// The consent screen of `email` for the request; Allow and Deny post the request back to `action`.
pub(crate) fn consent(request: &AuthRequest, email: &str, action: &str) -> Response {
    let scopes: String = request.scopes.iter().map(|scope| format!("      <li>{}</li>\n", escape(scope))).collect();
    let hidden: String = request
        .params
        .iter()
        .map(|(name, value)| {
            format!("    <input type=\"hidden\" name=\"{}\" value=\"{}\">\n", escape(name), escape(value))
        })
        .collect();
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <title>Sign in - Google Accounts</title>\n</head>\n<body>\n  \
         <h1 id=\"headline\">{client} wants to access your Google Account</h1>\n  \
         <p id=\"account\">{email}</p>\n  <p>This will allow {client} to:</p>\n  <ul id=\"scopes\">\n{scopes}  </ul>\n  \
         <form method=\"post\" action=\"{action}\">\n{hidden}    \
         <button type=\"submit\" id=\"deny\" name=\"decision\" value=\"deny\">Cancel</button>\n    \
         <button type=\"submit\" id=\"allow\" name=\"decision\" value=\"allow\">Allow</button>\n  </form>\n\
         </body>\n</html>\n",
        client = escape(&request.client_id),
        email = escape(email),
        action = escape(action),
    );
    html(200, body)
}
