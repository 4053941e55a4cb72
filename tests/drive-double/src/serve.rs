//! Serves each TCP connection with hyper directly, so a handler can make its connection vanish without any
//! response (the `drop_connection_next_chunk` fault), which axum::serve cannot do.

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// Put into every request's extensions: lets the handler close its own connection.
#[derive(Clone)]
pub(crate) struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    /// Closes the TCP connection; the pending response is never written.
    pub(crate) fn kill(&self) {
        self.0.notify_one();
    }
}

/// Accepts until aborted; aborting drops the JoinSet, which aborts every open connection too.
/// With `tls`, each connection's TLS handshake runs first, in the connection's own task.
pub(crate) async fn serve(listener: TcpListener, router: Router, tls: Option<TlsAcceptor>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    let router = router.clone();
                    match tls.clone() {
                        None => connections.spawn(serve_connection(stream, router)),
                        Some(tls) => connections.spawn(async move {
                            if let Ok(stream) = tls.accept(stream).await {
                                serve_connection(stream, router).await;
                            }
                        }),
                    };
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<S>(stream: S, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let notify = Arc::new(Notify::new());
    let kill = ConnectionKill(notify.clone());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(kill.clone());
        router.clone().call(request)
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        // Dropping the connection future drops the socket (and the handler): the client sees the connection die.
        _ = notify.notified() => {}
    }
}
