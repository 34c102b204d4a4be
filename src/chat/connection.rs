//! One TCP connection, from accept to the end of its chat session: TLS (when configured), the
//! HTTP request, the page or a refusal or the upgrade, then the session. Everything before the
//! session runs within the handshake timeout and holds a handshake slot.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::admission::{Refusal, Slot, RETRY_AFTER_SECS};
use super::server::Shared;
use super::session;
use super::web::{self, Route};
use super::wire::WireFormat;
use crate::error::Error;
use crate::handshake::Rejection;
use crate::ws::{IncomingRequest, WebSocket};

/// One TCP connection: TLS if configured, the request and its answer, all within the handshake
/// timeout (holding a `handshake` slot meanwhile), then the chat session if it was an admitted
/// upgrade.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handshake: Slot,
    stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + shared.config.handshake_timeout;
    #[cfg(feature = "tls")]
    if let Some(tls) = shared.tls.clone() {
        // Boxed: the TLS state (rustls' connection and buffers, several KiB) would otherwise
        // size every connection's task, plain ones included.
        return Box::pin(serve_tls(
            stream, peer, shared, handshake, stopped, deadline, tls,
        ))
        .await;
    }
    serve_over(stream, peer, shared, handshake, stopped, deadline).await;
}

/// The TLS handshake by `deadline`, then [`serve_over`] the TLS stream.
#[cfg(feature = "tls")]
async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handshake: Slot,
    mut stopped: watch::Receiver<bool>,
    deadline: Instant,
    tls: Arc<super::tls::ServerTls>,
) {
    let accepting = tokio::time::timeout_at(deadline, tls.acceptor().accept(stream));
    let accepted = tokio::select! {
        accepted = accepting => accepted,
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    match accepted {
        Ok(Ok(stream)) => serve_over(stream, peer, shared, handshake, stopped, deadline).await,
        Ok(Err(error)) => {
            shared.metrics.tls_handshake_failures.inc();
            debug!(%peer, %error, "TLS handshake failed");
        }
        Err(_) => {
            shared.metrics.tls_handshake_failures.inc();
            debug!(%peer, "TLS handshake timed out; dropping the connection");
        }
    }
}

/// The request over `stream` (plain or TLS) by `deadline`, then the session.
async fn serve_over<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handshake: Slot,
    mut stopped: watch::Receiver<bool>,
    deadline: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let opening = tokio::time::timeout_at(deadline, open(stream, peer, &shared));
    let opened = tokio::select! {
        opened = opening => opened,
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    drop(handshake);
    match opened {
        Ok(Some((ws, format, slot))) => {
            shared.metrics.connections_accepted.inc();
            shared.metrics.connections.inc();
            let hub = Arc::clone(&shared.hub);
            session::run(ws, peer, format, hub, shared.session.clone(), stopped).await;
            shared.metrics.connections.dec();
            drop(slot);
        }
        Ok(None) => {}
        Err(_) => debug!(%peer, "handshake timed out; dropping the connection"),
    }
}

/// Reads the request and serves the page, refuses, or accepts the upgrade (taking a connection
/// slot); `None` when there is no chat session to run.
async fn open<S>(
    stream: S,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<(WebSocket<S>, WireFormat, Slot)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let incoming = match IncomingRequest::read(stream, shared.config.clone()).await {
        Ok(incoming) => incoming,
        Err(Error::Rejected(rejection)) => {
            shared.metrics.rejected(rejection.status());
            log_rejection(peer, &rejection);
            return None;
        }
        Err(error) => {
            debug!(%peer, %error, "connection ended before a complete request");
            return None;
        }
    };
    let request = incoming.request();
    let (method, path) = (request.method().to_owned(), request.path().to_owned());
    let origin = request.origin().map(str::to_owned);
    let refusal = match web::route(request) {
        Route::Page => {
            debug!(%peer, "serving the web client");
            if let Err(error) = incoming.respond(web::page_response()).await {
                debug!(%peer, %error, "could not send the page");
            }
            return None;
        }
        Route::Upgrade => {
            let format = WireFormat::negotiate(request.offered_protocols());
            let mut slot = None;
            let accepted = incoming
                .accept_with(|upgrade| {
                    shared.origin_policy.check(upgrade.request())?;
                    let admitted = shared.admission.try_admit(peer.ip());
                    slot = Some(admitted.map_err(|refusal| refusal.rejection())?);
                    Ok(format.protocol().map(str::to_owned))
                })
                .await;
            match (accepted, slot) {
                (Ok(ws), Some(slot)) => return Some((ws, format, slot)),
                (Ok(_), None) => warn!(%peer, "upgrade accepted without a slot"),
                (Err(Error::Rejected(rejection)), _) => {
                    shared.metrics.rejected(rejection.status());
                    log_refused_upgrade(peer, &rejection, origin.as_deref(), shared);
                }
                (Err(error), _) => debug!(%peer, %error, "handshake failed"),
            }
            return None;
        }
        Route::PlainChat => web::upgrade_required(),
        Route::MethodNotAllowed => web::method_not_allowed(),
        Route::NotFound => web::not_found(),
    };
    let status = refusal.status();
    shared.metrics.rejected(status);
    let error = incoming.reject(refusal).await;
    if status == 404 {
        debug!(%peer, %method, %path, "not found");
    } else {
        info!(%peer, %method, %path, status, %error, "rejected request");
    }
    None
}

/// Logs a refused upgrade without letting a flood of them flood the log: a refused origin once
/// per origin, a full server once per [`WARNING_INTERVAL`](super::server::WARNING_INTERVAL).
fn log_refused_upgrade(
    peer: SocketAddr,
    rejection: &Rejection,
    origin: Option<&str>,
    shared: &Shared,
) {
    match rejection.status() {
        403 => {
            let origin = origin.unwrap_or("");
            if shared.refused_origins.first(origin) {
                warn!(%peer, origin, "refused a WebSocket upgrade from another site's page (403); further refusals of this origin are logged at debug level");
            } else {
                debug!(%peer, origin, "refused origin (403)");
            }
        }
        503 => {
            if let Some(suppressed) = shared.capacity_warnings.admit(std::time::Instant::now()) {
                warn!(
                    %peer,
                    connections = shared.admission.connections(),
                    limits = ?shared.admission.limits(),
                    similar_refusals_not_logged = suppressed,
                    reason = rejection.reason().trim_end(),
                    "refused a connection over the cap (503)"
                );
            }
        }
        _ => log_rejection(peer, rejection),
    }
}

/// Answers a connection over the handshake caps with a 503 without waiting for anything: the
/// request is read and the answer written only as far as the socket allows right now, then the
/// connection is closed. A well-behaved client sees why; a slowloris gets nothing to hold on to.
pub(super) fn refuse_at_once(stream: &TcpStream, refusal: Refusal, shared: &Shared) {
    shared.metrics.rejected(503);
    let mut request = [0; 4096];
    while matches!(stream.try_read(&mut request), Ok(n) if n > 0) {}
    let rejection = match refusal {
        Refusal::Full { .. } => Rejection::new(
            503,
            "The server is busy with other handshakes. Try again in a few seconds.\n",
        ),
        Refusal::AddressFull { .. } => Rejection::new(
            503,
            "Too many handshakes in progress from your address. Try again in a few seconds.\n",
        ),
    }
    .with_header("Retry-After", &RETRY_AFTER_SECS.to_string());
    let _ = stream.try_write(&rejection.to_bytes());
}

pub(super) fn log_rejection(peer: SocketAddr, rejection: &Rejection) {
    info!(
        %peer,
        status = rejection.status(),
        reason = rejection.reason(),
        "rejected handshake"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::admission::{Admission, AdmissionLimits};
    use crate::chat::{ChatServer, ServerOptions};

    /// Every connection's task is as large as the largest state of `serve`: with the TLS
    /// handshake inline, plain connections paid for rustls' state too (an idle chat connection
    /// went from 9.6 to 20 KiB in `load-test memory`).
    #[tokio::test]
    async fn a_connection_task_is_not_sized_for_tls() {
        let options = ServerOptions {
            addr: "127.0.0.1:0".into(),
            ..ServerOptions::default()
        };
        let server = ChatServer::bind(&options).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let slot = Admission::new(AdmissionLimits {
            total: 1,
            per_address: 0,
        })
        .try_admit(peer.ip())
        .unwrap();
        let (_stop, stopped) = watch::channel(false);
        let task = serve(stream, peer, server.shared(), slot, stopped);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 4096, "{size} bytes per connection task");
    }
}
