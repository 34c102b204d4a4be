//! [`WebSocket`]: an open connection over any tokio byte stream.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

use super::split::{split, WsReader, WsWriter};
use super::transport::Transport;
use crate::error::Error;
use crate::frame::{CloseCode, CloseFrame, Role};
use crate::protocol::{Config, Connection, EncodedFrame, Message};

/// An open WebSocket connection (after the opening handshake) over a stream `S`.
///
/// - [`WebSocket::recv`] returns the next message; it is cancel-safe (all state lives in the
///   `WebSocket`, none in the future), so it can sit in `tokio::select!` without losing data.
///   Pings are answered and closes completed while receiving.
/// - [`WebSocket::send`] queues and flushes; [`WebSocket::feed`] only queues, and the queued
///   frames leave in one write at the next flush or when `recv` waits for input. An echo loop
///   using `feed` therefore answers a burst of N messages with one system call.
/// - It implements `futures::Stream` and `futures::Sink`, like tokio-tungstenite's type.
#[derive(Debug)]
pub struct WebSocket<S> {
    transport: Transport<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream on which the opening handshake is already done. `read_ahead` holds bytes
    /// received after the handshake (frames the peer pipelined), which are processed first.
    pub fn from_raw(stream: S, role: Role, config: Config, read_ahead: &[u8]) -> Self {
        let mut conn = Connection::new(role, config, tokio::time::Instant::now().into_std());
        if !read_ahead.is_empty() {
            conn.receive(read_ahead);
        }
        Self {
            transport: Transport::new(stream, conn),
        }
    }

    pub(crate) fn from_handshake(
        stream: S,
        role: Role,
        config: Config,
        read_ahead: BytesMut,
    ) -> Self {
        Self::from_raw(stream, role, config, &read_ahead)
    }

    /// The next message, ping, pong or close from the peer; `None` once the connection is
    /// closed and the transport shut down.
    ///
    /// # Errors
    /// A protocol violation (the connection is failed with its close code), a keepalive timeout,
    /// an I/O error or an abnormal closure; `None` follows.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.transport.poll_next_message(cx)).await
    }

    /// Sends a message and flushes it to the transport.
    ///
    /// # Errors
    /// [`Error::Closed`] once the closing handshake has started, or an I/O error.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without flushing, waiting only while the write buffer is over its limit.
    ///
    /// # Errors
    /// As [`WebSocket::send`].
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.transport.poll_ready(cx)).await?;
        self.transport.conn_mut().send(message)
    }

    /// Queues a frame encoded once for many connections (server only), without flushing.
    ///
    /// # Errors
    /// As [`Connection::send_encoded`].
    pub async fn feed_encoded(&mut self, frame: &EncodedFrame) -> Result<(), Error> {
        poll_fn(|cx| self.transport.poll_ready(cx)).await?;
        self.transport.conn_mut().send_encoded(frame)
    }

    /// Writes everything queued.
    ///
    /// # Errors
    /// An I/O error.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.transport.poll_write_out(cx))
            .await
            .map_err(Error::Io)
    }

    /// Sends a ping with `payload` (at most 125 bytes).
    ///
    /// # Errors
    /// As [`WebSocket::send`], or a payload over 125 bytes.
    pub async fn ping(&mut self, payload: impl Into<bytes::Bytes>) -> Result<(), Error> {
        self.send(Message::Ping(payload.into())).await
    }

    /// Performs the closing handshake: sends a close with `code` and `reason` (cut to 123
    /// bytes), discards incoming messages until the peer's close arrives, and closes the
    /// transport in the RFC's order. Bounded by [`Config::close_timeout`].
    ///
    /// # Errors
    /// An I/O or protocol error during the handshake.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.transport
            .start_close(Some(CloseFrame::new(code, reason)));
        poll_fn(|cx| self.transport.poll_close(cx)).await
    }

    /// Splits into a read half and a write half usable from two tasks. The read half still
    /// answers pings and completes the closing handshake.
    pub fn split(self) -> (WsReader<S>, WsWriter<S>) {
        split(self.transport)
    }

    /// The protocol state, for inspection.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        self.transport.conn()
    }

    /// The underlying stream (e.g. for its peer address).
    #[must_use]
    pub fn get_ref(&self) -> &S {
        self.transport.stream()
    }

    /// Current time as the connection sees it, for callers that drive timers themselves.
    #[must_use]
    pub fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().transport.poll_next_message(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().transport.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().transport.conn_mut().send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut()
            .transport
            .poll_write_out(cx)
            .map_err(Error::Io)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let transport = &mut self.get_mut().transport;
        if !transport.conn().close_sent() {
            transport.start_close(Some(CloseFrame::new(CloseCode::NORMAL, "")));
        }
        transport.poll_close(cx)
    }
}
