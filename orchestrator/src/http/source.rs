//! Where a request came from: the client's address, for the sign-in throttle and the audit log,
//! and whether it reached us over TLS, for the cookie's `Secure`. Behind a proxy of
//! `TRUSTED_PROXIES` both come from its `X-Forwarded-For` and `X-Forwarded-Proto`; from any other
//! peer those headers are anyone's to write and are ignored.
//!
//! [`remember`] works it out once per request and keeps it in the request's extensions (the
//! [`Source`] extractor) and, for the address, in a task-local, so every audit entry a handler
//! writes names it without each handler passing it on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::config::web::{TrustedProxies, WebSettings};
use crate::http::state::Web;

/// Where a request came from, as far as it can be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub client: IpAddr,
    /// A trusted proxy says the client reached it over TLS (`X-Forwarded-Proto: https`).
    pub forwarded_https: bool,
}

impl Source {
    /// The source of a request from `peer` with these headers.
    pub fn of(settings: &WebSettings, headers: &HeaderMap, peer: IpAddr) -> Source {
        let trusted = settings.trusted_proxies.contains(peer);
        let forwarded_https = trusted
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Source { client: client_ip(settings, headers, peer), forwarded_https }
    }

    /// A request whose peer is not known (no connection information): no proxy is believed,
    /// and every such request counts as one unknown address.
    fn unknown() -> Source {
        Source { client: IpAddr::V4(Ipv4Addr::UNSPECIFIED), forwarded_https: false }
    }
}

/// The address a request is from: the peer, unless the peer is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy. Each proxy appends
/// the address it was reached from, so only the right end is written by proxies we trust; what
/// lies left of it is whatever the client sent. A header that cannot be read is ignored.
pub fn client_ip(settings: &WebSettings, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    let trusted = &settings.trusted_proxies;
    if !trusted.contains(peer) {
        return peer;
    }
    forwarded_client(headers, trusted).unwrap_or(peer)
}

/// The right-most address of every `X-Forwarded-For` line (in order) that is not a trusted
/// proxy, or the left-most when all are; `None` when there is none, or any entry is not an
/// address.
fn forwarded_client(headers: &HeaderMap, trusted: &TrustedProxies) -> Option<IpAddr> {
    let mut hops = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        for entry in line.to_str().ok()?.split(',') {
            hops.push(hop(entry.trim())?);
        }
    }
    let mut client = None;
    for ip in hops.into_iter().rev() {
        client = Some(ip);
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// One entry: an address, or an address with a port as some proxies write it
/// (`203.0.113.7:4711`, `[2001:db8::7]:443`).
fn hop(entry: &str) -> Option<IpAddr> {
    let ip = entry.parse::<IpAddr>().or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip())).ok()?;
    Some(ip.to_canonical())
}

/// Middleware: works out the request's [`Source`] and runs the request with it known to the
/// handlers and to [`crate::audit::record`].
pub async fn remember(State(web): State<Web>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let source = match peer {
        Some(peer) => Source::of(&web.settings, request.headers(), peer),
        None => Source::unknown(),
    };
    request.extensions_mut().insert(source);
    match peer {
        Some(_) => crate::audit::SOURCE.scope(source.client, next.run(request)).await,
        None => next.run(request).await,
    }
}

impl FromRequestParts<Web> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        if let Some(source) = parts.extensions.get::<Source>() {
            return Ok(*source);
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(peer.map_or_else(Source::unknown, |peer| Source::of(&web.settings, &parts.headers, peer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    fn settings(trusted: &str) -> WebSettings {
        WebSettings::from_env(&Env::from_pairs([("TRUSTED_PROXIES", trusted)])).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_right_most_forwarded_address_that_is_no_trusted_proxy() {
        let proxies = settings("10.0.0.0/8, 127.0.0.1");
        let cases: &[(&str, &[&str], &str)] = &[
            // (peer, X-Forwarded-For lines, client)
            ("10.0.0.5", &["203.0.113.7"], "203.0.113.7"),
            ("10.0.0.5", &["198.51.100.1, 203.0.113.7"], "203.0.113.7"),
            ("10.0.0.5", &["203.0.113.7, 10.0.0.9"], "203.0.113.7"),
            ("10.0.0.5", &["198.51.100.1", "203.0.113.7, 10.1.1.1"], "203.0.113.7"),
            ("10.0.0.5", &["10.0.0.8, 10.0.0.9"], "10.0.0.8"),
            ("10.0.0.5", &["203.0.113.7:4711"], "203.0.113.7"),
            ("10.0.0.5", &["[2001:db8::7]:443"], "2001:db8::7"),
            ("10.0.0.5", &[" 2001:db8::7 "], "2001:db8::7"),
            ("::ffff:127.0.0.1", &["203.0.113.7"], "203.0.113.7"),
            // Malformed or missing: the peer.
            ("10.0.0.5", &[], "10.0.0.5"),
            ("10.0.0.5", &[""], "10.0.0.5"),
            ("10.0.0.5", &["unknown"], "10.0.0.5"),
            ("10.0.0.5", &["203.0.113.7, , 198.51.100.1"], "10.0.0.5"),
            ("10.0.0.5", &["203.0.113.7;198.51.100.1"], "10.0.0.5"),
            ("10.0.0.5", &["203.0.113.7", "garbage"], "10.0.0.5"),
            // From a peer that is no trusted proxy the header is anyone's: ignored.
            ("192.0.2.1", &["203.0.113.7"], "192.0.2.1"),
            ("192.0.2.1", &["10.0.0.9"], "192.0.2.1"),
        ];
        for (peer, lines, client) in cases {
            let forwarded: Vec<(&'static str, &str)> = lines.iter().map(|l| ("x-forwarded-for", *l)).collect();
            assert_eq!(client_ip(&proxies, &headers(&forwarded), ip(peer)), ip(client), "{peer} {lines:?}");
        }
        let nobody = settings("");
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client_ip(&nobody, &forwarded, ip("127.0.0.1")), ip("127.0.0.1"), "none trusted by default");
    }

    #[test]
    fn tls_is_believed_only_from_a_trusted_proxy() {
        let proxies = settings("127.0.0.1");
        let https = headers(&[("x-forwarded-proto", "HTTPS")]);
        assert!(Source::of(&proxies, &https, ip("127.0.0.1")).forwarded_https);
        assert!(!Source::of(&proxies, &https, ip("127.0.0.2")).forwarded_https);
        assert!(!Source::of(&settings(""), &https, ip("127.0.0.1")).forwarded_https);
        let http = headers(&[("x-forwarded-proto", "http")]);
        assert!(!Source::of(&proxies, &http, ip("127.0.0.1")).forwarded_https);
        assert!(!Source::of(&proxies, &HeaderMap::new(), ip("127.0.0.1")).forwarded_https);
    }
}
