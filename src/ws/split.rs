//! Read and write halves of a [`super::WebSocket`] for use from two tasks.
//!
//! Both halves share the transport behind a mutex that is held only for the duration of one
//! non-blocking poll, never across an await. Either half writes whatever the connection has
//! queued whenever it polls the stream for writing, so a pong queued by the reader is sent by
//! whichever half gets to the socket next: no reply depends on one particular task being
//! scheduled.
//!
//! No wakeup is lost: a tokio stream keeps one waker per direction, so when both halves wait to
//! write, only the one that registered last is woken. Each half therefore leaves its waker in the
//! shared state when it has to wait, and a poll that writes bytes (or ends the connection) wakes
//! the other half to re-check what it was waiting for.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite};

use super::transport::Transport;
use crate::error::Error;
use crate::frame::{CloseCode, CloseFrame};
use crate::protocol::{EncodedFrame, Message};

type Shared<S> = Arc<Mutex<Halves<S>>>;

/// The transport and the task each half last left waiting.
#[derive(Debug)]
struct Halves<S> {
    transport: Transport<S>,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

#[derive(Clone, Copy)]
enum Half {
    Reader,
    Writer,
}

fn lock<S>(shared: &Shared<S>) -> MutexGuard<'_, Halves<S>> {
    // A panic while holding the lock cannot leave the transport half-updated in a way that
    // matters more than the panic itself; keep serving the other half.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs one non-blocking poll of the transport for `half`, keeping its waker when it has to wait
/// and waking the other half when this poll wrote bytes or ended the connection.
fn poll_half<S: AsyncRead + AsyncWrite + Unpin, T>(
    shared: &Shared<S>,
    half: Half,
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Transport<S>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let mut guard = lock(shared);
    let halves = &mut *guard;
    let before = (
        halves.transport.bytes_written(),
        halves.transport.is_finished(),
    );
    let result = poll(&mut halves.transport, cx);
    let (own, other) = match half {
        Half::Reader => (&mut halves.reader, &mut halves.writer),
        Half::Writer => (&mut halves.writer, &mut halves.reader),
    };
    if result.is_pending() && !own.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *own = Some(cx.waker().clone());
    }
    let after = (
        halves.transport.bytes_written(),
        halves.transport.is_finished(),
    );
    let to_wake = if after == before { None } else { other.take() };
    drop(guard);
    if let Some(waker) = to_wake {
        waker.wake();
    }
    result
}

pub(crate) fn split<S>(transport: Transport<S>) -> (WsReader<S>, WsWriter<S>) {
    let shared = Arc::new(Mutex::new(Halves {
        transport,
        reader: None,
        writer: None,
    }));
    (
        WsReader {
            shared: Arc::clone(&shared),
        },
        WsWriter { shared },
    )
}

/// The receiving half: messages, with pings answered and closes completed automatically.
#[derive(Debug)]
pub struct WsReader<S> {
    shared: Shared<S>,
}

/// The sending half.
#[derive(Debug)]
pub struct WsWriter<S> {
    shared: Shared<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsReader<S> {
    /// As [`super::WebSocket::recv`]; cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| {
            poll_half(&self.shared, Half::Reader, cx, |transport, cx| {
                transport.poll_next_message(cx)
            })
        })
        .await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsWriter<S> {
    /// As [`super::WebSocket::send`].
    ///
    /// # Errors
    /// [`Error::Closed`] after the closing handshake started, or an I/O error.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// As [`super::WebSocket::feed`].
    ///
    /// # Errors
    /// As [`WsWriter::send`].
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        let mut message = Some(message);
        poll_fn(|cx| {
            poll_half(
                &self.shared,
                Half::Writer,
                cx,
                |transport, cx| match transport.poll_ready(cx) {
                    Poll::Ready(Ok(())) => match message.take() {
                        Some(message) => Poll::Ready(transport.conn_mut().send(message)),
                        None => Poll::Ready(Ok(())),
                    },
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                },
            )
        })
        .await
    }

    /// Queues a pre-encoded frame (server only), without flushing.
    ///
    /// # Errors
    /// As [`crate::protocol::Connection::send_encoded`].
    pub async fn feed_encoded(&mut self, frame: &EncodedFrame) -> Result<(), Error> {
        poll_fn(|cx| {
            poll_half(
                &self.shared,
                Half::Writer,
                cx,
                |transport, cx| match transport.poll_ready(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(transport.conn_mut().send_encoded(frame)),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                },
            )
        })
        .await
    }

    /// Queues pre-encoded frames (server only), without flushing: as [`WsWriter::feed_encoded`]
    /// for each, taking the connection's lock once per poll instead of once per frame.
    ///
    /// # Errors
    /// As [`crate::protocol::Connection::send_encoded`]; the frames before the failing one are
    /// queued.
    pub async fn feed_encoded_all(&mut self, frames: &[EncodedFrame]) -> Result<(), Error> {
        let mut next = 0;
        poll_fn(|cx| {
            poll_half(&self.shared, Half::Writer, cx, |transport, cx| {
                while let Some(frame) = frames.get(next) {
                    match transport.poll_ready(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                    if let Err(e) = transport.conn_mut().send_encoded(frame) {
                        return Poll::Ready(Err(e));
                    }
                    next += 1;
                }
                Poll::Ready(Ok(()))
            })
        })
        .await
    }

    /// Writes everything queued.
    ///
    /// # Errors
    /// An I/O error.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_out(cx)).await
    }

    fn poll_write_out(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_half(&self.shared, Half::Writer, cx, |transport, cx| {
            transport.poll_write_out(cx).map_err(Error::Io)
        })
    }

    /// Sends a close frame and flushes it. The read half sees the peer's answer and then the end
    /// of the stream.
    ///
    /// # Errors
    /// An I/O error.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        lock(&self.shared)
            .transport
            .start_close(Some(CloseFrame::new(code, reason)));
        self.flush().await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WsReader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_half(&self.shared, Half::Reader, cx, |transport, cx| {
            transport.poll_next_message(cx)
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WsWriter<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_half(&self.shared, Half::Writer, cx, |transport, cx| {
            transport.poll_ready(cx)
        })
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        lock(&self.shared).transport.conn_mut().send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_write_out(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_half(&self.shared, Half::Writer, cx, |transport, cx| {
            if !transport.conn().close_sent() {
                transport.start_close(Some(CloseFrame::new(CloseCode::NORMAL, "")));
            }
            transport.poll_write_out(cx).map_err(Error::Io)
        })
    }
}
