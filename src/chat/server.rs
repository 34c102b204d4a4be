//! The chat server: the accept loop, per-connection routing, and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::hub::Hub;
use super::local_hub::LocalHub;
use super::options::ServerOptions;
use super::outbox::OutboxLimits;
use super::session::{self, SessionSettings};
use super::web::{self, Route};
use super::wire::WireFormat;
use crate::error::Error;
use crate::handshake::Rejection;
use crate::protocol::Config;
use crate::ws::IncomingRequest;

/// How long clients get to answer the shutdown close before the server exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The protocol-level message limit: far enough above the chat limit that an oversized chat
/// message gets a friendly error line, low enough that nobody can make us buffer megabytes.
fn protocol_limit(max_message: u32) -> usize {
    (max_message as usize).saturating_mul(8).max(64 << 10)
}

/// The line the server prints when it is ready.
#[must_use]
pub fn banner(addr: SocketAddr) -> String {
    format!("listening on ws://{addr}/chat (web client at http://{addr}/)")
}

/// What every connection needs.
struct Shared {
    config: Config,
    session: SessionSettings,
    hub: Arc<dyn Hub>,
}

/// A bound chat server, not yet accepting.
pub struct ChatServer {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ChatServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatServer")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl ChatServer {
    /// Binds `options.addr` with the in-process hub.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind(options: &ServerOptions) -> io::Result<Self> {
        Self::bind_with_hub(options, Arc::new(LocalHub::new(options.history))).await
    }

    /// Binds `options.addr` with another [`Hub`] implementation (`options.history` is then the
    /// hub's business).
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind_with_hub(options: &ServerOptions, hub: Arc<dyn Hub>) -> io::Result<Self> {
        let listener = TcpListener::bind(options.addr.as_str()).await?;
        let limit = protocol_limit(options.max_message);
        let mut config = Config::default()
            .with_max_message_size(limit)
            .with_max_frame_size(limit)
            .with_close_timeout(SHUTDOWN_GRACE);
        if !options.ping_interval.is_zero() {
            config = config.with_keepalive(options.ping_interval, options.idle_timeout);
        }
        let session = SessionSettings {
            max_message: options.max_message as usize,
            outbox: OutboxLimits {
                max_messages: options.queue_messages as usize,
                max_bytes: options.queue_bytes as usize,
            },
            close_grace: SHUTDOWN_GRACE,
        };
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                config,
                session,
                hub,
            }),
        })
    }

    /// The address actually bound (with the real port when port 0 was asked for).
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then stops accepting, closes every connection with
    /// 1001 "server shutting down", waits up to [`SHUTDOWN_GRACE`] for the closing handshakes,
    /// and returns.
    ///
    /// # Errors
    /// Never at present; accept errors (e.g. too many open files) are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        connections.spawn(serve(
                            stream,
                            peer,
                            Arc::clone(&self.shared),
                            stopped.clone(),
                        ));
                    }
                    Err(error) => {
                        warn!(%error, "accept failed; retrying shortly");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(self.listener);
        info!(
            connections = connections.len(),
            "shutting down: closing every connection with 1001"
        );
        stop.send_replace(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_millis(500), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                connections = connections.len(),
                "some connections did not close in time; dropping them"
            );
            connections.shutdown().await;
        }
        info!("shut down");
        Ok(())
    }
}

/// One TCP connection: read the request head, then serve the page, upgrade, or refuse.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let incoming = tokio::select! {
        incoming = IncomingRequest::read(stream, shared.config.clone()) => incoming,
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    let incoming = match incoming {
        Ok(incoming) => incoming,
        Err(Error::Rejected(rejection)) => return log_rejection(peer, &rejection),
        Err(error) => {
            return debug!(%peer, %error, "connection ended before a complete request");
        }
    };
    let request = incoming.request();
    let (method, path) = (request.method().to_owned(), request.path().to_owned());
    let refusal = match web::route(request) {
        Route::Page => {
            debug!(%peer, "serving the web client");
            if let Err(error) = incoming.respond(web::page_response()).await {
                debug!(%peer, %error, "could not send the page");
            }
            return;
        }
        Route::Upgrade => {
            let format = WireFormat::negotiate(request.offered_protocols());
            let accepted = incoming
                .accept_with(|_| Ok(format.protocol().map(str::to_owned)))
                .await;
            match accepted {
                Ok(ws) => {
                    let hub = Arc::clone(&shared.hub);
                    session::run(ws, peer, format, hub, shared.session.clone(), stopped).await;
                }
                Err(Error::Rejected(rejection)) => log_rejection(peer, &rejection),
                Err(error) => debug!(%peer, %error, "handshake failed"),
            }
            return;
        }
        Route::PlainChat => web::upgrade_required(),
        Route::MethodNotAllowed => web::method_not_allowed(),
        Route::NotFound => web::not_found(),
    };
    let status = refusal.status();
    let error = incoming.reject(refusal).await;
    if status == 404 {
        debug!(%peer, %method, %path, "not found");
    } else {
        info!(%peer, %method, %path, status, %error, "rejected request");
    }
}

fn log_rejection(peer: SocketAddr, rejection: &Rejection) {
    info!(
        %peer,
        status = rejection.status(),
        reason = rejection.reason(),
        "rejected handshake"
    );
}
