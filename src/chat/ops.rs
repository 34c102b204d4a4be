//! The operations listener: `/metrics` for Prometheus, `/healthz` and `/readyz` for a load
//! balancer or an orchestrator, on an address of its own (plain HTTP), so that none of it is
//! exposed on the public port.
//!
//! - `GET /metrics`: the [`ChatMetrics`] exposition;
//! - `GET /healthz`: 200 `ok` while the process runs;
//! - `GET /readyz`: 200 `ready` while the server accepts connections, 503 from the moment its
//!   shutdown begins, so traffic moves elsewhere before the connections are closed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{debug, warn};

use super::metrics::{ChatMetrics, CONTENT_TYPE};
use crate::handshake::{http_response, Request};
use crate::protocol::Config;
use crate::ws::IncomingRequest;

/// How long a scraper or probe may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the server accepts connections; shared between the server and `/readyz`.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Ready.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    /// From now on `/readyz` answers 503.
    pub fn not_ready(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Whether the server accepts connections.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves the operations endpoints on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<ChatMetrics>, readiness: Readiness) {
    let config = Config::default().with_handshake_timeout(REQUEST_TIMEOUT);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (metrics, readiness, config) =
                    (Arc::clone(&metrics), readiness.clone(), config.clone());
                tokio::spawn(async move {
                    let incoming = match IncomingRequest::read(stream, config).await {
                        Ok(incoming) => incoming,
                        Err(error) => return debug!(%peer, %error, "bad operations request"),
                    };
                    let response = respond(incoming.request(), &metrics, &readiness);
                    if let Err(error) = incoming.respond(&response).await {
                        debug!(%peer, %error, "could not answer an operations request");
                    }
                });
            }
            Err(error) => {
                warn!(%error, "operations listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The complete response to an operations request.
#[must_use]
pub fn respond(request: &Request, metrics: &ChatMetrics, readiness: &Readiness) -> Vec<u8> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if request.method() != "GET" && request.method() != "HEAD" {
        return http_response(
            405,
            &[("Content-Type", TEXT), ("Allow", "GET")],
            b"GET only\n",
        );
    }
    match request.path() {
        "/metrics" => http_response(
            200,
            &[("Content-Type", CONTENT_TYPE)],
            metrics.encode().as_bytes(),
        ),
        "/healthz" => http_response(200, &[("Content-Type", TEXT)], b"ok\n"),
        "/readyz" if readiness.is_ready() => {
            http_response(200, &[("Content-Type", TEXT)], b"ready\n")
        }
        "/readyz" => http_response(503, &[("Content-Type", TEXT)], b"shutting down\n"),
        _ => http_response(
            404,
            &[("Content-Type", TEXT)],
            b"Not found. Try /metrics, /healthz or /readyz.\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{HeadLimits, RequestReader};

    fn get(path: &str) -> Request {
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        RequestReader::new(HeadLimits::default())
            .feed(head.as_bytes())
            .unwrap()
            .unwrap()
    }

    fn answer(path: &str, readiness: &Readiness) -> String {
        String::from_utf8(respond(&get(path), &ChatMetrics::new(), readiness)).unwrap()
    }

    #[test]
    fn health_readiness_metrics_and_the_rest() {
        let readiness = Readiness::new();
        assert!(answer("/healthz", &readiness).starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(answer("/readyz", &readiness).starts_with("HTTP/1.1 200 OK\r\n"));
        let metrics = answer("/metrics", &readiness);
        assert!(metrics.contains("Content-Type: application/openmetrics-text"));
        assert!(metrics.contains("wschat_connections 0"));
        assert!(answer("/other", &readiness).starts_with("HTTP/1.1 404 "));
        readiness.not_ready();
        assert!(answer("/readyz", &readiness).starts_with("HTTP/1.1 503 "));
        assert!(answer("/healthz", &readiness).starts_with("HTTP/1.1 200 "));
    }
}
