//! Moves bytes between a tokio stream and a [`Connection`]; no protocol rules live here.
//!
//! Writes are coalesced: messages queued while input is being processed leave in one write when
//! the reader next has to wait for the network (or when the application flushes), which is what
//! lets a pipelined echo loop answer a burst of frames with one system call.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use crate::error::Error;
use crate::protocol::{Connection, Message};

/// Most segments handed to one vectored write: a burst of large frames (header and payload
/// segments each) leaves in one system call instead of one per frame.
const MAX_GATHER: usize = 64;

#[derive(Debug)]
pub(crate) struct Transport<S> {
    stream: S,
    conn: Connection,
    /// Bytes taken from the connection and not yet fully written, in order. Its allocation is
    /// dropped with the connection's idle buffers, so an idle connection holds none.
    inflight: VecDeque<Bytes>,
    /// Keepalive timer; boxed, and only created when keepalive is configured, so connections
    /// without one stay small.
    keepalive_timer: Option<Pin<Box<Sleep>>>,
    /// Bounds the closing handshake; created when closing starts.
    close_timer: Option<Pin<Box<Sleep>>>,
    /// The end of the stream has been reported (or the transport closed); only `None` follows.
    finished: bool,
    /// Our FIN has been sent.
    write_shut: bool,
    /// Bytes written to the stream so far. The split halves compare it around each poll: the
    /// stream keeps one write waker, so when one half writes what the other was waiting on, only
    /// this tells the other half to wake.
    written: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport<S> {
    pub(crate) fn new(stream: S, conn: Connection) -> Self {
        Self {
            stream,
            conn,
            inflight: VecDeque::new(),
            keepalive_timer: None,
            close_timer: None,
            finished: false,
            write_shut: false,
            written: 0,
        }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn stream(&self) -> &S {
        &self.stream
    }

    /// Bytes written to the stream so far.
    pub(crate) fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Whether the end of the stream has been reported; nothing more will be read or written.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Writes everything the connection has queued, then flushes the stream.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            while self.inflight.len() < MAX_GATHER {
                match self.conn.poll_transmit() {
                    Some(bytes) => self.inflight.push_back(bytes),
                    None => break,
                }
            }
            let written = match self.inflight.len() {
                0 => {
                    ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
                    // Everything is out: give back what a burst grew. A writer whose peer never
                    // sends (a listening chat client) would otherwise keep it for good.
                    self.conn.release_idle_write_buffers();
                    if self.inflight.capacity() > MAX_GATHER {
                        self.inflight = VecDeque::new();
                    }
                    return Poll::Ready(Ok(()));
                }
                1 => ready!(Pin::new(&mut self.stream).poll_write(cx, &self.inflight[0]))?,
                n => {
                    let mut slices = [IoSlice::new(&[]); MAX_GATHER];
                    for (slice, bytes) in slices.iter_mut().zip(&self.inflight) {
                        *slice = IoSlice::new(bytes);
                    }
                    ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..n]))?
                }
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume_inflight(written);
        }
    }

    fn consume_inflight(&mut self, mut written: usize) {
        self.written += written as u64;
        while let Some(front) = self.inflight.front_mut() {
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.inflight.pop_front();
        }
    }

    /// Waits until the connection accepts another message without exceeding the write buffer
    /// limit (writing queued bytes meanwhile).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.close_sent() || self.finished {
            return Poll::Ready(Err(Error::Closed(None)));
        }
        while self.conn.queued_bytes() >= self.conn.config().write_buffer_limit {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// The next message or control frame from the peer; `None` once the connection has closed
    /// and the transport has been shut down in the RFC's order.
    pub(crate) fn poll_next_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            match self.conn.poll_message() {
                Ok(Some(message)) => {
                    // Answer pings and closes promptly; a blocked write is retried later. Data
                    // the application queued waits until input runs out, so that a burst of
                    // echoes leaves in one write.
                    let replied = matches!(message, Message::Ping(_) | Message::Close(_));
                    if replied && self.conn.wants_write() {
                        if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                            return self.finish_with(Error::Io(e));
                        }
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Err(error) => {
                    let _ = self.poll_write_out(cx);
                    return Poll::Ready(Some(Err(error)));
                }
                Ok(None) => {}
            }
            if self.conn.is_closed() {
                ready!(self.poll_close_transport(cx));
                return Poll::Ready(None);
            }
            if self.close_timer.is_some() && self.deadline_passed(cx) {
                // We started the closing handshake and the peer never answered: give up on it
                // (this also bounds a split read half whose write half sent the close).
                ready!(self.mark_finished(cx));
                return Poll::Ready(None);
            }
            if self.poll_timer(cx) {
                continue;
            }
            // Read before writing: while more input is waiting, queued replies wait too, so a
            // burst larger than one read is still answered with one write.
            let buffer = self.conn.read_buffer();
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, buffer) {
                Poll::Ready(Ok(0)) => {
                    let _ = self.poll_write_out(cx);
                    return self.finish_with(Error::AbnormalClosure);
                }
                Poll::Ready(Ok(_)) => {
                    if self.conn.wants_time() {
                        self.conn.mark_received(Instant::now().into_std());
                    }
                }
                Poll::Ready(Err(e)) => return self.finish_with(Error::Io(e)),
                Poll::Pending => {
                    if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                        return self.finish_with(Error::Io(e));
                    }
                    // Nothing to read: give back the read buffer (and the write buffers, if
                    // everything is out), whatever the write side is doing, so a connection
                    // that only receives keeps nothing of its handshake or of a burst.
                    self.conn.release_idle_buffers();
                    if self.inflight.is_empty() {
                        self.inflight = VecDeque::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn finish_with(&mut self, error: Error) -> Poll<Option<Result<Message, Error>>> {
        self.finished = true;
        Poll::Ready(Some(Err(error)))
    }

    /// Arms the timer for the connection's next deadline (keepalive, or the closing handshake
    /// deadline); returns true when it fired and was handled.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.conn.poll_timeout() else {
            return false;
        };
        let deadline = Instant::from_std(deadline);
        let timer = self
            .keepalive_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            self.conn.handle_timeout(Instant::now().into_std());
            return true;
        }
        false
    }

    /// After the closing handshake (or a failure): write what is queued, then close TCP in the
    /// RFC's order. The endpoint that closes first (the server, or whoever failed the
    /// connection) sends its FIN right away; both then drain what the peer still sends until its
    /// FIN arrives, so unread input never turns the close into a reset that could destroy the
    /// close frame in flight. Bounded by the close timeout.
    fn poll_close_transport(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline_passed = self.deadline_passed(cx);
        if !deadline_passed {
            if ready!(self.poll_write_out(cx)).is_err() {
                return self.mark_finished(cx);
            }
            if self.conn.closes_transport_first() && !self.write_shut {
                if ready!(Pin::new(&mut self.stream).poll_shutdown(cx)).is_err() {
                    return self.mark_finished(cx);
                }
                self.write_shut = true;
            }
            loop {
                let buffer = self.conn.read_buffer();
                buffer.clear();
                match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, buffer) {
                    Poll::Ready(Ok(0) | Err(_)) => break,
                    Poll::Ready(Ok(_)) => {}
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
        self.mark_finished(cx)
    }

    fn mark_finished(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.write_shut {
            let _ = Pin::new(&mut self.stream).poll_shutdown(cx);
            self.write_shut = true;
        }
        self.conn.release_idle_buffers();
        self.finished = true;
        Poll::Ready(())
    }

    /// A bounded wait for the closing handshake: true once `close_timeout` has passed since the
    /// first call.
    fn deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        let timeout = self.conn.config().close_timeout;
        let timer = self
            .close_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        timer.as_mut().poll(cx).is_ready()
    }

    /// Starts our closing handshake; the close frame follows data already queued.
    pub(crate) fn start_close(&mut self, frame: Option<crate::frame::CloseFrame>) {
        self.conn.close(frame);
        // From now on the timer bounds the closing handshake.
        let deadline = Instant::now() + self.conn.config().close_timeout;
        self.close_timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
    }

    /// After [`Transport::start_close`]: writes the close, then reads (discarding messages) until
    /// the peer's close arrives and the transport is shut down, or the close timeout passes.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.finished {
                return Poll::Ready(Ok(()));
            }
            if !self.conn.is_closed() && self.deadline_passed(cx) {
                let _ = self.mark_finished(cx);
                return Poll::Ready(Ok(()));
            }
            match ready!(self.poll_next_message(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(Error::AbnormalClosure)) => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(_)) => {}
            }
        }
    }
}
