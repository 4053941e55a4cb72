//! Where a request came from: the peer's address, for the sign-in throttle and the audit log.
//! The address is kept for the whole request (a task-local), so every audit entry a handler
//! writes names it without each handler passing it on.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::config::web::WebSettings;
use crate::http::state::Web;

/// The address a request is from.
pub fn client_ip(_settings: &WebSettings, _headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    peer
}

/// Middleware: runs the request with its source address known to [`crate::audit::record`].
pub async fn remember(State(web): State<Web>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    match peer {
        Some(peer) => {
            let ip = client_ip(&web.settings, request.headers(), peer);
            crate::audit::SOURCE.scope(ip, next.run(request)).await
        }
        None => next.run(request).await,
    }
}
