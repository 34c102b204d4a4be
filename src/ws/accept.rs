//! The server side of the opening handshake over a stream.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::WebSocket;
use crate::error::Error;
use crate::frame::Role;
use crate::handshake::{Rejection, Request, RequestReader, UpgradeRequest};
use crate::protocol::Config;

/// A request head read from a new connection, before the application decides what to do with
/// it: upgrade it, answer it as plain HTTP (a web page on the same port), or refuse it.
#[derive(Debug)]
pub struct IncomingRequest<S> {
    stream: S,
    request: Request,
    read_ahead: BytesMut,
    config: Config,
}

impl<S: AsyncRead + AsyncWrite + Unpin> IncomingRequest<S> {
    /// Reads the request head, within [`Config::handshake_timeout`] and
    /// [`Config::head_limits`].
    ///
    /// # Errors
    /// [`Error::Rejected`] after answering a malformed (400) or oversized (431) head;
    /// [`Error::Io`] when the peer disconnects or the timeout passes (nothing is answered then).
    pub async fn read(stream: S, config: Config) -> Result<Self, Error> {
        // Boxed: reading the head needs a reader and a timer, far more state than an open
        // connection; unboxed, that size would stay in every connection task that awaits it
        // for as long as the connection lives.
        Box::pin(Self::read_head(stream, config)).await
    }

    async fn read_head(mut stream: S, config: Config) -> Result<Self, Error> {
        let mut reader = RequestReader::new(config.head_limits);
        let outcome = tokio::time::timeout(config.handshake_timeout, async {
            loop {
                match reader.poll_head() {
                    Ok(Some(request)) => return Ok(Ok(request)),
                    Ok(None) => {}
                    Err(rejection) => return Ok(Err(rejection)),
                }
                let buffer = reader.buffer_mut();
                buffer.reserve(1024);
                if tokio::io::AsyncReadExt::read_buf(&mut stream, buffer).await? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed during the opening handshake",
                    ));
                }
            }
        })
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "opening handshake timed out")
        })??;
        match outcome {
            Ok(request) => Ok(Self {
                stream,
                request,
                read_ahead: reader.take_remaining(),
                config,
            }),
            Err(rejection) => Err(refuse(&mut stream, rejection).await),
        }
    }

    /// The request: method, path, query, headers, Origin, offered subprotocols.
    #[must_use]
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Validates the upgrade (RFC 6455 section 4.2.1) and answers 101 with `protocol` (which
    /// should be one the client offered; see [`UpgradeRequest::select_protocol`]).
    ///
    /// # Errors
    /// [`Error::Rejected`] after answering an invalid upgrade (400, 405 or 426); [`Error::Io`].
    pub async fn accept(self, protocol: Option<&str>) -> Result<WebSocket<S>, Error> {
        self.accept_with(|_| Ok(protocol.map(str::to_owned))).await
    }

    /// Validates the upgrade, then lets `decide` pick a subprotocol or refuse (e.g. 403 for an
    /// unwelcome Origin); answers accordingly.
    ///
    /// # Errors
    /// [`Error::Rejected`] after answering a refusal; [`Error::Io`].
    pub async fn accept_with<F>(self, decide: F) -> Result<WebSocket<S>, Error>
    where
        F: FnOnce(&UpgradeRequest<'_>) -> Result<Option<String>, Rejection>,
    {
        // Boxed for the same reason as `read`.
        Box::pin(self.answer(decide)).await
    }

    async fn answer<F>(mut self, decide: F) -> Result<WebSocket<S>, Error>
    where
        F: FnOnce(&UpgradeRequest<'_>) -> Result<Option<String>, Rejection>,
    {
        let response = match self.request.validate_upgrade() {
            Ok(upgrade) => {
                decide(&upgrade).map(|protocol| upgrade.accept_response(protocol.as_deref()))
            }
            Err(rejection) => Err(rejection),
        };
        match response {
            Ok(response) => {
                self.stream.write_all(&response).await?;
                self.stream.flush().await?;
                Ok(WebSocket::from_handshake(
                    self.stream,
                    Role::Server,
                    self.config,
                    self.read_ahead,
                ))
            }
            Err(rejection) => Err(refuse(&mut self.stream, rejection).await),
        }
    }

    /// Refuses the request with `rejection`'s status and reason, then closes the connection.
    /// Returns the [`Error::Rejected`] describing what was sent.
    pub async fn reject(mut self, rejection: Rejection) -> Error {
        refuse(&mut self.stream, rejection).await
    }

    /// Answers with a complete plain HTTP response (see [`crate::handshake::http_response`]) and
    /// closes the connection.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub async fn respond(mut self, response: &[u8]) -> Result<(), Error> {
        self.stream.write_all(response).await?;
        self.stream.shutdown().await?;
        Ok(())
    }
}

async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, rejection: Rejection) -> Error {
    let written = async {
        stream.write_all(&rejection.to_bytes()).await?;
        stream.shutdown().await
    };
    match written.await {
        Ok(()) => Error::Rejected(Box::new(rejection)),
        Err(e) => Error::Io(e),
    }
}

/// Accepts a WebSocket connection on any path, with no subprotocol.
///
/// Any stream works, so TLS (`wss://`) is the caller's: accept TLS first, then the WebSocket
/// over the TLS stream.
///
/// ```no_run
/// # #[cfg(feature = "tls")]
/// # async fn serve(tls: std::sync::Arc<rustls::ServerConfig>) -> Result<(), wschat::Error> {
/// // `tls` from your certificate, e.g. wschat::chat::tls::load_server_config(cert, key).
/// let acceptor = tokio_rustls::TlsAcceptor::from(tls);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
/// let (tcp, _) = listener.accept().await?;
/// let stream: tokio_rustls::server::TlsStream<_> =
///     acceptor.accept(tcp).await.map_err(wschat::Error::from_tls_io)?;
/// let mut ws = wschat::accept(stream, wschat::Config::default()).await?;
/// while let Some(message) = ws.recv().await {
///     let message = message?;
///     if message.is_data() {
///         ws.send(message).await?;
///     }
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`IncomingRequest::read`] and [`IncomingRequest::accept`].
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: Config,
) -> Result<WebSocket<S>, Error> {
    // Boxed, so that the task awaiting it is sized for the open connection, not the handshake.
    Box::pin(async move {
        IncomingRequest::read(stream, config)
            .await?
            .accept(None)
            .await
    })
    .await
}

/// Accepts a WebSocket connection after `decide` has inspected the validated request (path,
/// query, Origin, headers) and picked a subprotocol, or refused with a status of its choosing.
///
/// # Errors
/// As [`IncomingRequest::read`] and [`IncomingRequest::accept_with`].
pub async fn accept_with<S, F>(stream: S, config: Config, decide: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&UpgradeRequest<'_>) -> Result<Option<String>, Rejection>,
{
    // Boxed, so that the task awaiting it is sized for the open connection, not the handshake.
    Box::pin(async move {
        IncomingRequest::read(stream, config)
            .await?
            .accept_with(decide)
            .await
    })
    .await
}
