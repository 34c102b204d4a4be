//! The client side of the opening handshake over a stream.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ClientStream, WebSocket};
use crate::error::Error;
use crate::frame::Role;
use crate::handshake::{ClientRequest, HandshakeError, ResponseReader, UpgradeResponse};
use crate::protocol::Config;

/// Connects to a `ws://` or `wss://` URL with the default configuration (for `wss://`,
/// [`tls::default_client_config`](super::tls::default_client_config): Mozilla's roots).
///
/// # Errors
/// [`Error::Handshake`] for a bad URL or a refused/invalid upgrade; [`Error::Tls`] when the TLS
/// handshake fails (an untrusted or expired certificate, a name mismatch); [`Error::Io`] when
/// the TCP connection fails or the handshake times out.
pub async fn connect(url: &str) -> Result<WebSocket<ClientStream>, Error> {
    let request = ClientRequest::from_url(url)?;
    connect_with(request, Config::default())
        .await
        .map(|(ws, _)| ws)
}

/// Connects with a prepared request (subprotocols, extra headers) and configuration, over TLS
/// with the default client configuration when the URL was `wss://`. Returns the server's
/// response too (e.g. for the chosen subprotocol).
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<ClientStream>, UpgradeResponse), Error> {
    #[cfg(feature = "tls")]
    let tls = request.is_secure().then(super::tls::default_client_config);
    #[cfg(not(feature = "tls"))]
    let tls = None;
    open(request, config, tls).await
}

/// As [`connect_with`], with the caller's TLS configuration for a `wss://` URL (custom roots,
/// client certificates). Build it with the provider from
/// [`tls::crypto_provider`](super::tls::crypto_provider) (or any other) and ALPN `http/1.1`.
///
/// # Errors
/// As [`connect`].
#[cfg(feature = "tls")]
pub async fn connect_tls_with(
    request: ClientRequest,
    config: Config,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<(WebSocket<ClientStream>, UpgradeResponse), Error> {
    let tls = request.is_secure().then_some(tls);
    open(request, config, tls).await
}

#[cfg(feature = "tls")]
type TlsConfig = std::sync::Arc<rustls::ClientConfig>;
#[cfg(not(feature = "tls"))]
type TlsConfig = std::convert::Infallible;

/// TCP, TLS when `tls` is given, then the opening handshake, all within the handshake timeout.
async fn open(
    request: ClientRequest,
    config: Config,
    tls: Option<TlsConfig>,
) -> Result<(WebSocket<ClientStream>, UpgradeResponse), Error> {
    if request.is_secure() && tls.is_none() {
        return Err(HandshakeError::UnsupportedScheme("wss".into()).into());
    }
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let tcp = tokio::time::timeout_at(
        deadline,
        TcpStream::connect((request.host(), request.port())),
    )
    .await
    .map_err(|_| timed_out("TCP connect timed out"))??;
    tcp.set_nodelay(true)?;
    let stream = match tls {
        None => ClientStream::Plain(tcp),
        #[cfg(feature = "tls")]
        Some(tls) => {
            let secured = super::tls::handshake(tcp, request.host(), tls);
            let secured = tokio::time::timeout_at(deadline, secured)
                .await
                .map_err(|_| timed_out("TLS handshake timed out"))??;
            ClientStream::Tls(Box::new(secured))
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    };
    client_with_stream(stream, request, config).await
}

/// Performs the client handshake over an already connected stream.
///
/// # Errors
/// As [`connect`].
pub async fn client_with_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, UpgradeResponse), Error> {
    let mut reader = ResponseReader::new(config.head_limits);
    let response = tokio::time::timeout(config.handshake_timeout, async {
        stream.write_all(&request.to_bytes()).await?;
        stream.flush().await?;
        loop {
            if let Some(response) = reader.poll_response(&request)? {
                return Ok::<_, Error>(response);
            }
            let buffer = reader.buffer_mut();
            buffer.reserve(1024);
            if tokio::io::AsyncReadExt::read_buf(&mut stream, buffer).await? == 0 {
                return Err(HandshakeError::MalformedResponse(
                    "connection closed before the handshake response was complete".into(),
                )
                .into());
            }
        }
    })
    .await
    .map_err(|_| timed_out("opening handshake timed out"))??;
    let read_ahead = reader.take_remaining();
    Ok((
        WebSocket::from_handshake(stream, Role::Client, config, read_ahead),
        response,
    ))
}

fn timed_out(what: &str) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        what.to_owned(),
    ))
}
