//! The whole sans-IO `Connection`: arbitrary bytes in, in arbitrary pieces, interleaved with
//! sends, closes, timer ticks and transmits, for both roles and several configurations.
//!
//! Input: `[flags] [op ..]`. Flags: bit 0 picks the role (0 = server), bits 1-2 the
//! configuration (see `config`), bit 3 receives through `read_buffer` instead of `receive`.
//! Ops: a byte `n < 0x80` receives the next `n + 1` bytes; a byte `>= 0x80` is an action picked
//! by its low four bits (see `act`), some of which read an argument byte.
//!
//! Asserts, after every op (the connection is drained as the IO layer drains it):
//! - at most one error, and no message at all after an error or after the peer's close;
//! - text messages are valid UTF-8, data messages within `max_message_size`, control payloads
//!   within 125 bytes;
//! - never more buffered than the frame limit allows, and read buffer capacity in proportion to
//!   bytes actually received (an announced length alone must not allocate);
//! - everything transmitted decodes, for the peer, as valid frames (masked exactly when we are
//!   the client, control frames short and final, close payloads valid) and nothing follows our
//!   close frame;
//! - when no timer tick intervened, the messages and the error are the same as for a twin
//!   connection that received the same bytes in one piece.
#![no_main]

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use wschat::frame::{CloseFrame, FrameDecoder, OpCode, Role, MAX_HEADER_LEN};
use wschat::protocol::{Connection, EncodedFrame};
use wschat::{CloseCode, Config, Error, Message};

fn config(selector: u8) -> Config {
    match selector & 3 {
        0 => Config::default(),
        1 => Config::default()
            .with_max_frame_size(200)
            .with_max_message_size(300)
            .with_max_fragments(4),
        2 => Config::default()
            .with_max_frame_size(16)
            .with_max_message_size(1000)
            .with_max_fragments(64)
            .with_fragment_size(Some(7)),
        _ => Config::default()
            .with_max_frame_size(1024)
            .with_max_message_size(4096)
            .with_max_fragments(8)
            .with_keepalive(Duration::from_secs(1), Duration::from_secs(3)),
    }
}

/// What the application saw: messages, then possibly one error (as its debug text).
#[derive(Debug, Default, PartialEq)]
struct Events {
    messages: Vec<Message>,
    error: Option<String>,
}

/// Everything the connection handed out, checked as the peer would read it.
struct Wire {
    decoder: FrameDecoder,
    buf: BytesMut,
    close_seen: bool,
    masked: bool,
}

impl Wire {
    fn new(our_role: Role) -> Self {
        let peer = match our_role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        Self {
            decoder: FrameDecoder::new(peer, usize::MAX),
            buf: BytesMut::new(),
            close_seen: false,
            masked: our_role == Role::Client,
        }
    }

    fn transmit(&mut self, conn: &mut Connection, all: bool) {
        while let Some(bytes) = conn.poll_transmit() {
            assert!(!bytes.is_empty(), "poll_transmit handed out nothing");
            assert!(!self.close_seen, "bytes transmitted after our close frame");
            self.buf.extend_from_slice(&bytes);
            loop {
                let frame = match self.decoder.decode(&mut self.buf) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => panic!("we transmitted an invalid frame: {e:?}"),
                };
                assert!(!self.close_seen, "frame transmitted after our close frame");
                assert_eq!(frame.header.mask.is_some(), self.masked);
                if frame.header.opcode == OpCode::Close {
                    CloseFrame::parse(&frame.payload).expect("our close payload is valid");
                    self.close_seen = true;
                }
            }
            if !all {
                break;
            }
        }
    }
}

struct Harness {
    conn: Connection,
    config: Config,
    via_read_buffer: bool,
    now: Instant,
    events: Events,
    ended: bool,
    ticked: bool,
    received: Vec<u8>,
    wire: Wire,
}

impl Harness {
    fn receive(&mut self, bytes: &[u8]) {
        self.received.extend_from_slice(bytes);
        if self.via_read_buffer {
            self.conn.read_buffer().put_slice(bytes);
        } else {
            self.conn.receive(bytes);
        }
    }

    fn drain(&mut self) {
        loop {
            match self.conn.poll_message() {
                Ok(Some(message)) => {
                    assert!(!self.ended, "message after an error or the peer's close");
                    check_message(&message, &self.config);
                    if matches!(message, Message::Close(_)) {
                        self.ended = true;
                        assert!(self.conn.close_received());
                    }
                    self.events.messages.push(message);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(self.events.error.is_none(), "a second error: {e:?}");
                    assert!(self.conn.is_closed());
                    self.ended = true;
                    self.events.error = Some(format!("{e:?}"));
                }
            }
        }
        if self.ended {
            assert!(matches!(self.conn.poll_message(), Ok(None)));
        }
        let max_frame = self.config.max_frame_size;
        let buffer = self.conn.read_buffer();
        assert!(
            buffer.len() <= max_frame.max(MAX_HEADER_LEN - 1),
            "{} bytes buffered with a frame limit of {max_frame}",
            buffer.len()
        );
        let justified = 4 * self.received.len() + (16 << 10);
        assert!(
            buffer.capacity() <= justified,
            "read buffer capacity {} after receiving {} bytes",
            buffer.capacity(),
            self.received.len()
        );
    }

    /// Runs the action picked by `op`'s low four bits; returns how many argument bytes it used.
    fn act(&mut self, op: u8, arg: u8) -> usize {
        match op & 0x0F {
            0 => {
                let text: String = "aé€𝄞".chars().cycle().take(usize::from(arg)).collect();
                self.send(Message::text(text));
                1
            }
            1 => {
                self.send(Message::binary(vec![arg; usize::from(arg) * 3]));
                1
            }
            2 => {
                self.send(Message::Ping(vec![b'p'; usize::from(arg)].into()));
                1
            }
            3 => {
                self.send(Message::Pong(vec![b'q'; usize::from(arg)].into()));
                1
            }
            4 => {
                let frame = CloseCode::new(1000 + u16::from(arg) % 16)
                    .map(|code| CloseFrame::new(code, &"bye ".repeat(usize::from(arg % 40))));
                let was_sent = self.conn.close_sent();
                self.conn.close(frame);
                assert!(self.conn.close_sent());
                let _ = was_sent;
                1
            }
            5 => {
                self.wire.transmit(&mut self.conn, true);
                0
            }
            6 => {
                self.now += Duration::from_millis(u64::from(arg) * 50);
                self.ticked = true;
                if let Some(deadline) = self.conn.poll_timeout() {
                    assert!(self.conn.wants_time());
                    let _ = deadline;
                }
                self.conn.handle_timeout(self.now);
                1
            }
            7 => {
                self.conn.release_idle_buffers();
                0
            }
            8 => {
                let frame = EncodedFrame::text(&"x".repeat(usize::from(arg)));
                let sent = self.conn.send_encoded(&frame);
                if self.conn.role() == Role::Client {
                    assert!(sent.is_err(), "a client must not send unmasked frames");
                }
                1
            }
            9 => {
                self.wire.transmit(&mut self.conn, false);
                0
            }
            10 => {
                self.conn.mark_received(self.now);
                0
            }
            _ => {
                self.wire.transmit(&mut self.conn, true);
                0
            }
        }
    }

    fn send(&mut self, message: Message) {
        let close_sent = self.conn.close_sent();
        let control_too_long =
            matches!(&message, Message::Ping(p) | Message::Pong(p) if p.len() > 125);
        match self.conn.send(message) {
            Ok(()) => assert!(!close_sent && !control_too_long),
            Err(Error::Closed(_)) => assert!(close_sent),
            Err(Error::Protocol(_)) => assert!(control_too_long),
            Err(e) => panic!("unexpected send error {e:?}"),
        }
    }
}

fn check_message(message: &Message, config: &Config) {
    match message {
        Message::Text(text) => {
            assert!(std::str::from_utf8(text.as_bytes()).is_ok());
            assert!(text.len() <= config.max_message_size);
        }
        Message::Binary(data) => assert!(data.len() <= config.max_message_size),
        Message::Ping(data) | Message::Pong(data) => assert!(data.len() <= 125),
        Message::Close(frame) => {
            if let Some(frame) = frame {
                assert!(frame.reason.len() <= 123);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut ops)) = data.split_first() else {
        return;
    };
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = config(flags >> 1);
    let start = Instant::now();
    let mut harness = Harness {
        conn: Connection::new(role, config.clone(), start),
        config: config.clone(),
        via_read_buffer: flags & 8 != 0,
        now: start,
        events: Events::default(),
        ended: false,
        ticked: false,
        received: Vec::new(),
        wire: Wire::new(role),
    };
    while let Some((&op, rest)) = ops.split_first() {
        if op < 0x80 {
            let n = (usize::from(op) + 1).min(rest.len());
            harness.receive(&rest[..n]);
            ops = &rest[n..];
        } else {
            let arg = rest.first().copied().unwrap_or(0);
            let used = harness.act(op, arg);
            ops = &rest[used.min(rest.len())..];
        }
        harness.drain();
    }
    harness.wire.transmit(&mut harness.conn, true);

    if !harness.ticked {
        let mut twin = Connection::new(role, config, start);
        twin.receive(&harness.received);
        let mut events = Events::default();
        loop {
            match twin.poll_message() {
                Ok(Some(message)) => events.messages.push(message),
                Ok(None) => break,
                Err(e) => events.error = Some(format!("{e:?}")),
            }
        }
        assert_eq!(
            harness.events, events,
            "events depend on how the input was split"
        );
    }
});
