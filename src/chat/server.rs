//! The chat server: the accept loop, per-connection routing, and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::admission::{Admission, AdmissionLimits};
use super::connection::{refuse_at_once, serve};
use super::flood_control::FloodLimits;
use super::hub::Hub;
use super::local_hub::LocalHub;
use super::log_throttle::{FirstSeen, LogThrottle};
use super::metrics::ChatMetrics;
use super::ops::Readiness;
use super::options::ServerOptions;
use super::outbox::OutboxLimits;
use super::session::SessionSettings;
#[cfg(feature = "tls")]
use super::tls::ServerTls;
use crate::handshake::OriginPolicy;
use crate::protocol::Config;

/// How often a repeated warning (accept errors, a full server) may be logged.
pub(super) const WARNING_INTERVAL: Duration = Duration::from_secs(10);

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

/// The line the server prints when it is ready; `secure` when it serves TLS.
#[must_use]
pub fn banner(addr: SocketAddr, secure: bool) -> String {
    let (ws, http) = if secure {
        ("wss", "https")
    } else {
        ("ws", "http")
    };
    format!("listening on {ws}://{addr}/chat (web client at {http}://{addr}/)")
}

/// What every connection needs.
pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) session: SessionSettings,
    pub(super) hub: Arc<dyn Hub>,
    pub(super) admission: Arc<Admission>,
    pub(super) handshakes: Arc<Admission>,
    pub(super) origin_policy: OriginPolicy,
    pub(super) refused_origins: FirstSeen,
    pub(super) capacity_warnings: LogThrottle,
    pub(super) metrics: Arc<ChatMetrics>,
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Arc<ServerTls>>,
}

/// A bound chat server, not yet accepting.
pub struct ChatServer {
    listener: TcpListener,
    /// The operations listener (`/metrics`, `/healthz`, `/readyz`), when asked for.
    ops: Option<TcpListener>,
    readiness: Readiness,
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
    /// Binds `options.addr` (and `options.metrics_addr`) with the in-process hub, and loads
    /// the TLS certificate and key when given.
    ///
    /// # Errors
    /// When an address cannot be resolved or bound, or the TLS files cannot be used
    /// ([`io::ErrorKind::InvalidInput`], with a message naming the file and the problem).
    pub async fn bind(options: &ServerOptions) -> io::Result<Self> {
        Self::bind_with_hub(options, Arc::new(LocalHub::new(options.history))).await
    }

    /// As [`ChatServer::bind`], with another [`Hub`] implementation (`options.history` is then
    /// the hub's business).
    ///
    /// # Errors
    /// As [`ChatServer::bind`].
    pub async fn bind_with_hub(options: &ServerOptions, hub: Arc<dyn Hub>) -> io::Result<Self> {
        #[cfg(feature = "tls")]
        let tls = load_tls(options)?;
        #[cfg(not(feature = "tls"))]
        if options.tls_cert.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this build has no TLS support (built without the `tls` feature)",
            ));
        }
        let listener = TcpListener::bind(options.addr.as_str())
            .await
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot listen on {}: {error}", options.addr),
                )
            })?;
        let ops = match &options.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr.as_str()).await.map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot listen on {addr} for metrics: {error}"),
                )
            })?),
            None => None,
        };
        let metrics = Arc::new(ChatMetrics::new());
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
            metrics: Arc::clone(&metrics),
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
            ops,
            readiness: Readiness::new(),
            shared: Arc::new(Shared {
                config,
                session,
                hub,
                admission,
                handshakes,
                origin_policy: options.origin_policy(),
                refused_origins: FirstSeen::new(ORIGINS_REMEMBERED),
                capacity_warnings: LogThrottle::new(WARNING_INTERVAL),
                metrics,
                #[cfg(feature = "tls")]
                tls,
            }),
        })
    }

    /// Whether connections are served over TLS (`https://` and `wss://`).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.shared.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The certificate in force, to reload (on SIGHUP) while the server runs; `None` without
    /// TLS.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(&self) -> Option<Arc<ServerTls>> {
        self.shared.tls.clone()
    }

    /// The operations listener's address (`/metrics`, `/healthz`, `/readyz`), when it was asked
    /// for.
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn metrics_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.ops.as_ref().map(TcpListener::local_addr).transpose()
    }

    #[cfg(test)]
    pub(super) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// The server's metrics.
    #[must_use]
    pub fn metrics(&self) -> Arc<ChatMetrics> {
        Arc::clone(&self.shared.metrics)
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

    /// Serves until `shutdown` resolves, then stops accepting (`/readyz` answers 503 from that
    /// moment), closes every connection with 1001 "server shutting down", waits up to
    /// [`SHUTDOWN_GRACE`] for the closing handshakes, and returns.
    ///
    /// # Errors
    /// Never at present; accept errors (e.g. too many open files) are logged (at most once per
    /// 10 s, with a count) and retried after a short pause.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        let accept_warnings = LogThrottle::new(WARNING_INTERVAL);
        let handshake_warnings = LogThrottle::new(WARNING_INTERVAL);
        let ops = self.ops.map(|listener| {
            tokio::spawn(super::ops::serve(
                listener,
                Arc::clone(&self.shared.metrics),
                self.readiness.clone(),
            ))
        });
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
                            refuse_at_once(&stream, refusal, &self.shared);
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
        self.readiness.not_ready();
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
        if let Some(ops) = ops {
            ops.abort();
        }
        Ok(())
    }
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

/// Loads the certificate and key the options name, if any.
#[cfg(feature = "tls")]
fn load_tls(options: &ServerOptions) -> io::Result<Option<Arc<ServerTls>>> {
    match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => ServerTls::load(cert, key)
            .map(Some)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string())),
        (None, None) => Ok(None),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--tls-cert and --tls-key go together",
        )),
    }
}
