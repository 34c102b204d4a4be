//! The connection state machine (RFC 6455 sections 5-7), sans-IO, one type for both roles.
//!
//! Bytes go in ([`Connection::receive`], or [`Connection::read_buffer`] for zero-copy reads),
//! messages come out ([`Connection::poll_message`]), bytes to write come out
//! ([`Connection::poll_transmit`]), and time is an input ([`Connection::handle_timeout`] with
//! [`Connection::poll_timeout`] saying when to call it). Nothing here blocks, sleeps or reads a
//! clock, so tests pump two connections against each other in memory and drive keepalive timers
//! deterministically.
//!
//! What it guarantees: messages are reassembled from fragments with control frames allowed in
//! between; text is validated incrementally and fails with 1007 as soon as invalid bytes arrive;
//! every limit is checked before the data is buffered; pings are answered automatically and
//! pongs jump ahead of queued data; the closing handshake follows section 7, a close (ours, our
//! answer to the peer's, or the one that fails the connection) leaving after the data queued
//! before it and nothing after it; after a failure or a close no further message is delivered.

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::keepalive::KeepaliveTimer;
use super::outgoing::Outgoing;
use super::{Config, Message, Text, Utf8Validator};
use crate::error::{Error, ProtocolError};
use crate::frame::{
    apply_mask, CloseCode, CloseFrame, FrameHeader, OpCode, Role, MAX_CONTROL_PAYLOAD,
};

/// Smallest read the buffer is prepared for; also what an idle connection grows back from.
const MIN_READ: usize = 4 << 10;

/// Largest room prepared for one read on the strength of earlier reads (see
/// `Connection::read_size`).
const MAX_READ: usize = 64 << 10;

/// Above this capacity an emptied read buffer is released instead of kept for reuse.
const KEEP_READ_CAPACITY: usize = 64 << 10;

/// A frame whose header has been decoded and whose payload is (partly) in the read buffer,
/// starting at offset 0.
#[derive(Debug)]
struct IncomingFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: usize,
    /// Payload bytes already unmasked (and, for text, validated).
    processed: usize,
    /// Whether the payload belongs to a text message (a text frame or a continuation of one).
    text: bool,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Assembly {
    text: bool,
    data: BytesMut,
    fragments: usize,
}

/// One WebSocket connection's protocol state.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    read_buf: BytesMut,
    /// Room the next read is given: doubles (up to `MAX_READ`) after a read that filled its
    /// room, so a pipelined burst takes a few large reads instead of many small ones, and halves
    /// (down to `MIN_READ`) after one that used less than a quarter of it. It grows only on
    /// bytes that actually arrived, and survives the buffer's release while idle.
    read_size: usize,
    /// Buffer length and spare room when the IO layer last took the read buffer, and whether
    /// that room was sized for the rest of a frame already arriving.
    last_read: Option<(usize, usize, bool)>,
    frame: Option<IncomingFrame>,
    assembly: Option<Assembly>,
    utf8: Utf8Validator,
    outgoing: Outgoing,
    close_sent: bool,
    close_received: bool,
    /// A failure not yet reported to the application.
    failure: Option<Error>,
    failed: bool,
    keepalive: Option<KeepaliveTimer>,
}

impl Connection {
    /// A connection in the open state, after a successful opening handshake. `now` starts the
    /// keepalive clock, if configured.
    #[must_use]
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        let keepalive = config.keepalive.map(|k| KeepaliveTimer::new(k, now));
        Self {
            role,
            outgoing: Outgoing::new(role),
            config,
            read_buf: BytesMut::new(),
            read_size: MIN_READ,
            last_read: None,
            frame: None,
            assembly: None,
            utf8: Utf8Validator::new(),
            close_sent: false,
            close_received: false,
            failure: None,
            failed: false,
            keepalive,
        }
    }

    /// Our role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- input -------------------------------------------------------------------------

    /// Copies received bytes in. Equivalent to appending to [`Connection::read_buffer`].
    pub fn receive(&mut self, data: &[u8]) {
        self.read_buf.extend_from_slice(data);
    }

    /// The buffer an IO layer reads into directly (append only), with room reserved for the next
    /// read: at least a few KiB, more while a large frame is arriving, never more than the data
    /// actually received would justify (an advertised length alone does not allocate).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.settle_read();
        let wanted = match &self.frame {
            // Grow in proportion to the bytes held, not to the capacity: sizing by capacity
            // doubled it on every read, so a trickle of bytes after a large announced length
            // reserved the whole frame size.
            Some(frame) => (frame.len.saturating_sub(self.read_buf.len()))
                .clamp(self.read_size, self.read_buf.len().max(self.read_size)),
            None => self.read_size,
        };
        self.read_buf.reserve(wanted);
        let len = self.read_buf.len();
        let for_frame = self.frame.is_some();
        self.last_read = Some((len, self.read_buf.capacity() - len, for_frame));
        &mut self.read_buf
    }

    /// Adjusts `read_size` to what the last read into `read_buffer` delivered.
    fn settle_read(&mut self) {
        let Some((before, room, for_frame)) = self.last_read.take() else {
            return;
        };
        let got = self.read_buf.len().saturating_sub(before);
        if got >= room && room > 0 {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if got > 0 && got < room / 4 && !for_frame {
            // Only a read that started a frame says the traffic got smaller. The read that
            // fetched the tail of a frame is small because the tail is: shrinking on it made
            // 16 KiB messages oscillate between a 16 KiB room and 32 KiB, two reads each.
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
        // Nothing read: the read would have blocked, which says nothing about its size.
    }

    /// Tells the keepalive clock that bytes arrived at `now`. Only needed when keepalive is
    /// configured ([`Connection::wants_time`]).
    pub fn mark_received(&mut self, now: Instant) {
        if let Some(keepalive) = &mut self.keepalive {
            keepalive.heard_from_peer(now);
        }
    }

    /// Whether the IO layer needs to pass time in (keepalive is configured).
    #[must_use]
    pub fn wants_time(&self) -> bool {
        self.keepalive.is_some()
    }

    /// Releases buffer capacity while nothing is pending, so an idle connection holds (almost)
    /// no memory. Call when the transport has nothing to read or write.
    pub fn release_idle_buffers(&mut self) {
        if self.read_buf.is_empty() && self.frame.is_none() {
            self.read_buf = BytesMut::new();
            self.last_read = None;
        }
        self.release_idle_write_buffers();
    }

    /// Releases write-buffer capacity once everything queued has been taken: a connection that
    /// only sends (a chat client that listens) gives back what a burst grew, even though it
    /// never waits for input. Call when the transport has written everything.
    pub fn release_idle_write_buffers(&mut self) {
        if self.outgoing.is_empty() {
            self.outgoing.release_capacity();
        }
    }

    /// Buffer capacity this connection holds, in bytes: the read buffer, a message being
    /// reassembled and the write buffers. A few KiB while active, more while a large message
    /// passes, none once [`Connection::release_idle_buffers`] has run on an idle connection.
    #[must_use]
    pub fn buffer_capacity(&self) -> usize {
        self.read_buf.capacity()
            + self.assembly.as_ref().map_or(0, |a| a.data.capacity())
            + self.outgoing.capacity()
    }

    // ----- events ------------------------------------------------------------------------

    /// Processes buffered input until one message (or control frame) is complete.
    ///
    /// `Ok(None)` means more input is needed, or that nothing more will ever come (see
    /// [`Connection::is_closed`]).
    ///
    /// # Errors
    /// Once, the reason the connection failed: a [`ProtocolError`] (the matching close frame is
    /// already queued) or [`Error::KeepaliveTimeout`]. After that, `Ok(None)` forever.
    pub fn poll_message(&mut self) -> Result<Option<Message>, Error> {
        self.settle_read();
        if let Some(error) = self.failure.take() {
            return Err(error);
        }
        if self.failed || self.close_received {
            self.read_buf.clear();
            return Ok(None);
        }
        match self.process_input() {
            Ok(message) => Ok(message),
            Err(violation) => {
                self.fail(violation.close_code(), violation.close_reason());
                Err(Error::Protocol(violation))
            }
        }
    }

    fn process_input(&mut self) -> Result<Option<Message>, ProtocolError> {
        loop {
            if self.frame.is_none() && !self.start_frame()? {
                return Ok(None);
            }
            let Some(frame) = self.frame.as_mut() else {
                return Ok(None);
            };
            let available = self.read_buf.len().min(frame.len);
            if available > frame.processed {
                let fresh = &mut self.read_buf[frame.processed..available];
                if let Some(key) = frame.mask {
                    apply_mask(fresh, key, frame.processed);
                }
                if frame.text {
                    self.utf8.feed(fresh)?;
                }
                frame.processed = available;
            }
            if available < frame.len {
                self.shrink_read_buffer_if_empty();
                return Ok(None);
            }
            let Some(frame) = self.frame.take() else {
                return Ok(None);
            };
            let payload = self.read_buf.split_to(frame.len);
            if let Some(message) = self.finish_frame(&frame, payload)? {
                self.shrink_read_buffer_if_empty();
                return Ok(Some(message));
            }
        }
    }

    /// Decodes the next header and checks it against the message state and limits. Returns false
    /// when the header is not complete yet.
    fn start_frame(&mut self) -> Result<bool, ProtocolError> {
        let Some((header, header_len)) =
            FrameHeader::decode(&self.read_buf, self.role, self.config.max_frame_size)?
        else {
            return Ok(false);
        };
        // Bounded by max_frame_size, a usize, in FrameHeader::decode.
        let len = header.payload_len as usize;
        let text = match header.opcode {
            OpCode::Continuation => {
                let Some(assembly) = &self.assembly else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                if assembly.fragments >= self.config.max_fragments {
                    return Err(ProtocolError::TooManyFragments {
                        max: self.config.max_fragments,
                    });
                }
                self.check_message_size(assembly.data.len() as u64 + header.payload_len)?;
                assembly.text
            }
            OpCode::Text | OpCode::Binary => {
                if self.assembly.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                self.check_message_size(header.payload_len)?;
                if !header.fin {
                    self.assembly = Some(Assembly {
                        text: header.opcode == OpCode::Text,
                        data: BytesMut::new(),
                        fragments: 0,
                    });
                }
                header.opcode == OpCode::Text
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => false,
        };
        self.read_buf.advance(header_len);
        self.frame = Some(IncomingFrame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            processed: 0,
            text,
        });
        Ok(true)
    }

    fn check_message_size(&self, len: u64) -> Result<(), ProtocolError> {
        if len > self.config.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                len,
                max: self.config.max_message_size,
            });
        }
        Ok(())
    }

    /// Acts on a complete frame; returns a message when one is ready for the application.
    fn finish_frame(
        &mut self,
        frame: &IncomingFrame,
        payload: BytesMut,
    ) -> Result<Option<Message>, ProtocolError> {
        match frame.opcode {
            OpCode::Text | OpCode::Binary if frame.fin => {
                if frame.text {
                    self.utf8.finish()?;
                    return Ok(Some(Message::Text(Text::from_validated(payload.freeze()))));
                }
                Ok(Some(Message::Binary(payload.freeze())))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let Some(assembly) = &mut self.assembly else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                if assembly.data.is_empty() {
                    assembly.data = payload;
                } else {
                    assembly.data.extend_from_slice(&payload);
                }
                assembly.fragments += 1;
                if !frame.fin {
                    return Ok(None);
                }
                let Some(assembly) = self.assembly.take() else {
                    return Ok(None);
                };
                let data = assembly.data.freeze();
                if assembly.text {
                    self.utf8.finish()?;
                    return Ok(Some(Message::Text(Text::from_validated(data))));
                }
                Ok(Some(Message::Binary(data)))
            }
            OpCode::Ping => {
                if !self.close_sent {
                    self.outgoing.push_control(OpCode::Pong, &payload);
                }
                Ok(Some(Message::Ping(payload.freeze())))
            }
            OpCode::Pong => Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => {
                let close = CloseFrame::parse(&payload)?;
                self.close_received = true;
                self.read_buf.clear();
                if !self.close_sent {
                    // Echo the status back; an empty close is answered with an empty close.
                    // The reply follows data the application queued before the peer's close
                    // arrived (an echo of the message that preceded it, Autobahn 7.1.1): that
                    // data was sent before our close, so it is not dropped.
                    let mut reply = Vec::new();
                    if let Some(close) = &close {
                        reply.extend_from_slice(&close.code.as_u16().to_be_bytes());
                    }
                    self.outgoing
                        .push_frame(OpCode::Close, true, &Bytes::from(reply));
                    self.close_sent = true;
                }
                Ok(Some(Message::Close(close)))
            }
        }
    }

    fn shrink_read_buffer_if_empty(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > KEEP_READ_CAPACITY {
            self.read_buf = BytesMut::new();
        }
    }

    /// Fails the connection (RFC 6455 section 7.1.7): queue a close with `code` and stop
    /// processing input. Data the application queued before the violation arrived still leaves
    /// ahead of the close (Autobahn 3.2: the echo of a valid message that preceded a bad frame is
    /// delivered before the connection is failed); nothing can be queued after it.
    fn fail(&mut self, code: CloseCode, reason: &str) {
        self.failed = true;
        self.frame = None;
        self.assembly = None;
        self.read_buf.clear();
        if !self.close_sent {
            let mut payload = Vec::with_capacity(2 + reason.len());
            CloseFrame::new(code, reason).write_payload(&mut payload);
            self.outgoing
                .push_frame(OpCode::Close, true, &Bytes::from(payload));
            self.close_sent = true;
        }
    }

    // ----- output ------------------------------------------------------------------------

    /// Queues a message. Text and binary messages are split into frames of at most
    /// [`Config::fragment_size`] when set. `Message::Close` starts the closing handshake like
    /// [`Connection::close`].
    ///
    /// # Errors
    /// [`Error::Closed`] once a close frame has been sent (no data may follow it);
    /// [`ProtocolError::ControlFrameTooLong`] for a ping or pong over 125 bytes.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Closed(None));
        }
        match message {
            Message::Text(text) => self.send_data(OpCode::Text, &text.into_bytes()),
            Message::Binary(data) => self.send_data(OpCode::Binary, &data),
            Message::Ping(data) => self.send_control(OpCode::Ping, &data)?,
            Message::Pong(data) => self.send_control(OpCode::Pong, &data)?,
            Message::Close(frame) => self.close(frame),
        }
        Ok(())
    }

    fn send_data(&mut self, opcode: OpCode, payload: &Bytes) {
        match self.config.fragment_size {
            Some(size) if payload.len() > size => {
                let mut offset = 0;
                let mut opcode = opcode;
                while offset < payload.len() {
                    let end = (offset + size).min(payload.len());
                    self.outgoing.push_frame(
                        opcode,
                        end == payload.len(),
                        &payload.slice(offset..end),
                    );
                    opcode = OpCode::Continuation;
                    offset = end;
                }
            }
            _ => self.outgoing.push_frame(opcode, true, payload),
        }
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlFrameTooLong(payload.len() as u64).into());
        }
        self.outgoing.push_control(opcode, payload);
        Ok(())
    }

    /// Queues bytes that already form one or more complete, unmasked frames (see
    /// [`super::EncodedFrame`]), so one encoding can be sent to many connections.
    ///
    /// # Errors
    /// [`Error::Closed`] once a close frame has been sent; [`std::io::ErrorKind::InvalidInput`]
    /// on a client connection, whose frames must each carry a fresh mask.
    pub fn send_encoded(&mut self, frame: &super::EncodedFrame) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Closed(None));
        }
        if self.role == Role::Client {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "pre-encoded frames are unmasked and can only be sent by a server",
            )));
        }
        self.outgoing.push_encoded(frame.as_bytes());
        Ok(())
    }

    /// Starts the closing handshake: queues a close frame after the data already queued. `None`
    /// sends a close without a status code. Does nothing if a close was already sent.
    pub fn close(&mut self, frame: Option<CloseFrame>) {
        if self.close_sent {
            return;
        }
        let mut payload = Vec::new();
        if let Some(frame) = &frame {
            frame.write_payload(&mut payload);
        }
        self.outgoing
            .push_frame(OpCode::Close, true, &Bytes::from(payload));
        self.close_sent = true;
    }

    /// The next bytes to write to the transport, whole and in order; `None` when nothing is
    /// pending. Control replies come first whenever no data frame is half handed out.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outgoing.poll_transmit()
    }

    /// Data bytes queued but not yet handed to [`Connection::poll_transmit`]; the IO layer
    /// holds back new sends while this exceeds [`Config::write_buffer_limit`].
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.outgoing.queued_data()
    }

    /// Whether anything is waiting to be written.
    #[must_use]
    pub fn wants_write(&self) -> bool {
        !self.outgoing.is_empty()
    }

    // ----- timers ------------------------------------------------------------------------

    /// When [`Connection::handle_timeout`] must next be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed || self.close_received {
            return None;
        }
        self.keepalive.as_ref().map(KeepaliveTimer::next_deadline)
    }

    /// Advances the keepalive clock to `now`: sends a ping when one is due, and fails the
    /// connection when the peer has been silent past the timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.failed || self.close_received {
            return;
        }
        let Some(keepalive) = &mut self.keepalive else {
            return;
        };
        match keepalive.on_timeout(now) {
            super::keepalive::Action::None => {}
            super::keepalive::Action::SendPing => {
                if !self.close_sent {
                    self.outgoing.push_control(OpCode::Ping, b"");
                }
            }
            super::keepalive::Action::PeerGone => {
                self.fail(CloseCode::GOING_AWAY, "keepalive timeout");
                self.failure = Some(Error::KeepaliveTimeout);
            }
        }
    }

    // ----- state -------------------------------------------------------------------------

    /// True once our close frame is queued (by us, in reply, or on failure).
    #[must_use]
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// True once the peer's close frame has arrived.
    #[must_use]
    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// True when no further message will be delivered and, once the queued bytes are written,
    /// the transport should be closed: the closing handshake is complete or the connection failed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.failed || (self.close_sent && self.close_received)
    }

    /// Whether this endpoint closes the TCP connection first once [`Connection::is_closed`]
    /// (RFC 6455 section 7.1.1: the server does; a client waits for the server, then closes).
    #[must_use]
    pub fn closes_transport_first(&self) -> bool {
        self.role == Role::Server || self.failed
    }
}
