//! The client side of the opening handshake over a stream.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WebSocket;
use crate::error::Error;
use crate::frame::Role;
use crate::handshake::{ClientRequest, HandshakeError, ResponseReader, UpgradeResponse};
use crate::protocol::Config;

/// Connects to a `ws://` URL over TCP with the default configuration.
///
/// # Errors
/// [`Error::Handshake`] for a bad URL or a refused/invalid upgrade; [`Error::Io`] when the TCP
/// connection fails or the handshake times out.
pub async fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    let request = ClientRequest::from_url(url)?;
    connect_with(request, Config::default())
        .await
        .map(|(ws, _)| ws)
}

/// Connects over TCP with a prepared request (subprotocols, extra headers) and configuration.
/// Returns the server's response too (e.g. for the chosen subprotocol).
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<TcpStream>, UpgradeResponse), Error> {
    let stream = tokio::time::timeout(
        config.handshake_timeout,
        TcpStream::connect((request.host(), request.port())),
    )
    .await
    .map_err(|_| timed_out("TCP connect timed out"))??;
    stream.set_nodelay(true)?;
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
