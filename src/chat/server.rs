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

use super::admission::{Admission, AdmissionLimits, Refusal, Slot, RETRY_AFTER_SECS};
use super::flood_control::FloodLimits;
use super::hub::Hub;
use super::local_hub::LocalHub;
use super::log_throttle::{FirstSeen, LogThrottle};
use super::options::ServerOptions;
use super::outbox::OutboxLimits;
use super::session::{self, SessionSettings};
use super::web::{self, Route};
use super::wire::WireFormat;
use crate::error::Error;
use crate::handshake::{OriginPolicy, Rejection};
use crate::protocol::Config;
use crate::ws::{IncomingRequest, WebSocket};

/// How often a repeated warning (accept errors, a full server) may be logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after an accept error (e.g. out of file descriptors), so it
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Distinct refused origins remembered for logging each once.
const ORIGINS_REMEMBERED: usize = 1024;

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
    admission: Arc<Admission>,
    handshakes: Arc<Admission>,
    origin_policy: OriginPolicy,
    refused_origins: FirstSeen,
    capacity_warnings: LogThrottle,
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
            .with_close_timeout(SHUTDOWN_GRACE)
            .with_handshake_timeout(options.handshake_timeout);
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
            flood: (options.rate > 0).then(|| FloodLimits {
                rate: f64::from(options.rate),
                burst: f64::from(options.burst),
                disconnect_after: options.flood_disconnect_after,
            }),
        };
        let admission = Admission::new(AdmissionLimits {
            total: options.max_connections as usize,
            per_address: options.max_connections_per_ip as usize,
        });
        let handshakes = Admission::new(AdmissionLimits {
            total: options.max_pending_handshakes as usize,
            per_address: options.max_pending_handshakes_per_ip as usize,
        });
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                config,
                session,
                hub,
                admission,
                handshakes,
                origin_policy: options.origin_policy(),
                refused_origins: FirstSeen::new(ORIGINS_REMEMBERED),
                capacity_warnings: LogThrottle::new(WARNING_INTERVAL),
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

    /// A handle that reports the open chat connections (admitted upgrades whose connection has
    /// not ended) while the server runs.
    #[must_use]
    pub fn connection_count(&self) -> ConnectionCount {
        ConnectionCount(Arc::clone(&self.shared.admission))
    }

    /// Serves until `shutdown` resolves, then stops accepting, closes every connection with
    /// 1001 "server shutting down", waits up to [`SHUTDOWN_GRACE`] for the closing handshakes,
    /// and returns.
    ///
    /// # Errors
    /// Never at present; accept errors (e.g. too many open files) are logged (at most once per
    /// 10 s, with a count) and retried after a short pause.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        let accept_warnings = LogThrottle::new(WARNING_INTERVAL);
        let handshake_warnings = LogThrottle::new(WARNING_INTERVAL);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => match self.shared.handshakes.try_admit(peer.ip()) {
                        Ok(handshake) => {
                            connections.spawn(serve(
                                stream,
                                peer,
                                Arc::clone(&self.shared),
                                handshake,
                                stopped.clone(),
                            ));
                        }
                        Err(refusal) => {
                            refuse_at_once(&stream, refusal);
                            if let Some(suppressed) = handshake_warnings.admit(std::time::Instant::now()) {
                                warn!(%peer, ?refusal, similar_refusals_not_logged = suppressed, "too many handshakes in progress; closed a new connection");
                            }
                        }
                    },
                    Err(error) => {
                        if let Some(suppressed) = accept_warnings.admit(std::time::Instant::now()) {
                            warn!(%error, similar_errors_not_logged = suppressed, "accept failed; retrying shortly");
                        }
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
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

/// One TCP connection: the request and its answer within the handshake timeout (holding a
/// `handshake` slot meanwhile), then the chat session if it was an admitted upgrade.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handshake: Slot,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let opening =
        tokio::time::timeout(shared.config.handshake_timeout, open(stream, peer, &shared));
    let opened = tokio::select! {
        opened = opening => opened,
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    drop(handshake);
    match opened {
        Ok(Some((ws, format, slot))) => {
            let hub = Arc::clone(&shared.hub);
            session::run(ws, peer, format, hub, shared.session.clone(), stopped).await;
            drop(slot);
        }
        Ok(None) => {}
        Err(_) => debug!(%peer, "handshake timed out; dropping the connection"),
    }
}

/// Reads the request and serves the page, refuses, or accepts the upgrade (taking a connection
/// slot); `None` when there is no chat session to run.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<(WebSocket<TcpStream>, WireFormat, Slot)> {
    let incoming = match IncomingRequest::read(stream, shared.config.clone()).await {
        Ok(incoming) => incoming,
        Err(Error::Rejected(rejection)) => {
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
    let error = incoming.reject(refusal).await;
    if status == 404 {
        debug!(%peer, %method, %path, "not found");
    } else {
        info!(%peer, %method, %path, status, %error, "rejected request");
    }
    None
}

/// Logs a refused upgrade without letting a flood of them flood the log: a refused origin once
/// per origin, a full server once per [`WARNING_INTERVAL`].
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
fn refuse_at_once(stream: &TcpStream, refusal: Refusal) {
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

/// Reports the number of open chat connections of a running [`ChatServer`].
#[derive(Clone, Debug)]
pub struct ConnectionCount(Arc<Admission>);

impl ConnectionCount {
    /// Chat connections open now.
    #[must_use]
    pub fn get(&self) -> usize {
        self.0.connections()
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
