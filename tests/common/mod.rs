//! Shared helpers for the over-TCP test suites: an in-process echo server shaped like
//! `examples/echo-server.rs`, and a raw peer that speaks WebSocket by hand (its own handshake, its
//! own frame encoding and decoding, its own masking), so the suites check our implementation
//! against the RFC rather than against itself.
//!
//! Every network await goes through [`within`], which fails the test after [`LIMIT`].
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wschat::{Config, Message};

/// The longest any single network operation in a test may take.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The echo server's message limit: the 16 MiB Autobahn cases plus headroom.
pub const ECHO_MAX_MESSAGE: usize = 17 << 20;

/// First header bytes (FIN set) of the frame kinds.
pub const TEXT: u8 = 0x81;
pub const BINARY: u8 = 0x82;
pub const CLOSE: u8 = 0x88;
pub const PING: u8 = 0x89;
pub const PONG: u8 = 0x8A;

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("network operation timed out")
}

/// Binds an ephemeral loopback port and echoes every text and binary message on every
/// connection, exactly like `examples/echo-server.rs`.
pub async fn spawn_echo_server(config: Config) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                let _ = echo(stream, config).await;
            });
        }
    });
    addr
}

/// The default echo server configuration: 17 MiB messages and frames.
pub fn echo_config() -> Config {
    Config::default()
        .with_max_message_size(ECHO_MAX_MESSAGE)
        .with_max_frame_size(ECHO_MAX_MESSAGE)
}

async fn echo(stream: TcpStream, config: Config) -> Result<(), wschat::Error> {
    stream.set_nodelay(true)?;
    let mut ws = wschat::accept(stream, config).await?;
    let mut result = Ok(());
    // Keep receiving after an error: `recv` then completes the close and returns `None`.
    while let Some(message) = ws.recv().await {
        match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if let Err(e) = ws.feed(message).await {
                    result = Err(e);
                }
            }
            Ok(_) => {}
            Err(e) => result = Err(e),
        }
    }
    result
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 section 4.2.2), computed independently of the
/// crate.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    STANDARD.encode(sha.finalize())
}

/// XOR with a four-byte key, byte by byte (deliberately not the crate's word-at-a-time code).
pub fn mask(payload: &mut [u8], key: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// Encodes one frame by hand. `first` is the whole first header byte (FIN, RSV, opcode), so any
/// frame can be built, valid or not; the payload is masked when `key` is given.
pub fn encode(first: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(first);
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if let Some(key) = key {
        out.extend_from_slice(&key);
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        mask(&mut out[start..], key);
    }
    out
}

/// A close payload: the code in network byte order, then the reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// A frame as it was read off the wire, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The status code of a close frame; `None` for an empty close.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, 0x8, "not a close frame: {self:?}");
        match self.payload.len() {
            0 => None,
            1 => panic!("one-byte close payload"),
            _ => Some(u16::from_be_bytes([self.payload[0], self.payload[1]])),
        }
    }
}

/// What a raw peer read: a frame, or the end of the TCP stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Frame(RawFrame),
    Eof,
}

/// One end of a WebSocket connection driven by hand over TCP.
pub struct RawPeer {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Whether this peer masks what it sends (it plays the client).
    masks: bool,
    /// How long one read may wait; [`LIMIT`] unless a test on tokio's paused clock raises it.
    pub read_limit: Duration,
}

impl RawPeer {
    /// Wraps a connected stream on which no handshake has been done yet; `masks` when playing
    /// the client.
    pub fn from_stream(stream: TcpStream, masks: bool) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            masks,
            read_limit: LIMIT,
        }
    }

    /// Connects to `addr` and performs the client handshake by hand.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = within(TcpStream::connect(addr)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let key = STANDARD.encode(rand::random::<[u8; 16]>());
        let request = format!(
            "GET /conformance HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut peer = Self {
            stream,
            buf: Vec::new(),
            masks: true,
            read_limit: LIMIT,
        };
        peer.send_raw(request.as_bytes()).await;
        let head = peer.read_head().await;
        assert!(
            head.starts_with("HTTP/1.1 101 "),
            "handshake refused: {head}"
        );
        let expected = format!("sec-websocket-accept: {}", accept_key(&key)).to_lowercase();
        assert!(
            head.to_lowercase().contains(&expected),
            "wrong accept key in {head}"
        );
        peer
    }

    /// Accepts one connection on `listener` and answers the client's handshake by hand with
    /// `protocol` selected; returns the peer and the request head.
    pub async fn accept(listener: &TcpListener, protocol: Option<&str>) -> (Self, String) {
        let (stream, _) = within(listener.accept()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut peer = Self {
            stream,
            buf: Vec::new(),
            masks: false,
            read_limit: LIMIT,
        };
        let head = peer.read_head().await;
        let key = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("the request carries a key");
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n",
            accept_key(&key)
        );
        if let Some(protocol) = protocol {
            response.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
        }
        response.push_str("\r\n");
        peer.send_raw(response.as_bytes()).await;
        (peer, head)
    }

    /// Reads an HTTP head up to and including the empty line; bytes after it stay buffered.
    pub async fn read_head(&mut self) -> String {
        for _ in 0..100_000 {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8(head).expect("head is UTF-8");
            }
            assert!(self.fill().await > 0, "EOF inside the HTTP head");
        }
        panic!("HTTP head never ended");
    }

    /// Reads whatever is left until EOF (an HTTP body after a refusal).
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        for _ in 0..100_000 {
            if self.fill().await == 0 {
                return std::mem::take(&mut self.buf);
            }
        }
        panic!("stream never ended");
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = vec![0; 64 << 10];
        let n = tokio::time::timeout(self.read_limit, self.stream.read(&mut chunk))
            .await
            .expect("read timed out")
            .expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Writes bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        within(self.stream.write_all(bytes)).await.expect("write");
    }

    /// Writes bytes in writes of at most `chunk` bytes each (with `TCP_NODELAY`, so the server
    /// sees many small reads).
    pub async fn send_chunked(&mut self, bytes: &[u8], chunk: usize) {
        for piece in bytes.chunks(chunk) {
            self.send_raw(piece).await;
        }
    }

    /// Encodes one frame (masked with a fresh random key when playing the client).
    pub fn frame(&self, first: u8, payload: &[u8]) -> Vec<u8> {
        encode(first, payload, self.masks.then(rand::random::<[u8; 4]>))
    }

    /// Sends one frame.
    pub async fn send(&mut self, first: u8, payload: &[u8]) {
        let frame = self.frame(first, payload);
        self.send_raw(&frame).await;
    }

    /// Reads the next frame or EOF.
    pub async fn read(&mut self) -> Read {
        for _ in 0..1_000_000 {
            if let Some(frame) = self.parse_frame() {
                return Read::Frame(frame);
            }
            if self.fill().await == 0 {
                assert!(self.buf.is_empty(), "EOF inside a frame: {:?}", self.buf);
                return Read::Eof;
            }
        }
        panic!("no frame after a million reads");
    }

    /// Reads the next frame; EOF fails the test.
    pub async fn read_frame(&mut self) -> RawFrame {
        match self.read().await {
            Read::Frame(frame) => frame,
            Read::Eof => panic!("EOF where a frame was expected"),
        }
    }

    /// Reads a data or control frame and checks its kind and payload.
    pub async fn expect_frame(&mut self, opcode: u8, payload: &[u8]) {
        let frame = self.read_frame().await;
        assert_eq!(
            (frame.opcode, frame.fin, frame.rsv),
            (opcode, true, 0),
            "unexpected frame {:?}",
            frame.opcode
        );
        assert!(
            frame.payload == payload,
            "payload differs: got {} bytes, expected {}",
            frame.payload.len(),
            payload.len()
        );
    }

    /// Reads one whole message, reassembling fragments; returns (opcode, payload, frame count).
    /// Control frames in between fail the test.
    pub async fn read_message(&mut self) -> (u8, Vec<u8>, usize) {
        let first = self.read_frame().await;
        assert!(
            first.opcode == 1 || first.opcode == 2,
            "expected a data frame, got {first:?}"
        );
        let (opcode, mut payload, mut frames, mut fin) =
            (first.opcode, first.payload, 1, first.fin);
        while !fin {
            let next = self.read_frame().await;
            assert_eq!(next.opcode, 0, "expected a continuation");
            payload.extend_from_slice(&next.payload);
            frames += 1;
            fin = next.fin;
        }
        (opcode, payload, frames)
    }

    /// Reads frames until a close arrives (any data or pong before it fails the test) and
    /// returns its code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        let frame = self.read_frame().await;
        assert_eq!(frame.opcode, 0x8, "expected a close, got {frame:?}");
        frame.close_code()
    }

    /// Expects a close with `code` (the peer failed the connection), answers it, closes our side
    /// of TCP and expects the peer to close its side with nothing more sent.
    pub async fn expect_failure(&mut self, code: u16) {
        assert_eq!(self.expect_close().await, Some(code));
        let reply = close_payload(code, b"");
        self.send(CLOSE, &reply).await;
        within(self.stream.shutdown()).await.expect("shutdown");
        self.expect_eof().await;
    }

    /// Expects the peer to close TCP with nothing more sent.
    pub async fn expect_eof(&mut self) {
        match self.read().await {
            Read::Eof => {}
            Read::Frame(frame) => panic!("expected EOF, got {frame:?}"),
        }
    }

    /// Sends a close with `code`, expects it echoed and the TCP connection closed by the server.
    pub async fn close_cleanly(&mut self, code: u16) {
        self.send(CLOSE, &close_payload(code, b"")).await;
        assert_eq!(self.expect_close().await, Some(code));
        self.expect_eof().await;
    }

    fn parse_frame(&mut self) -> Option<RawFrame> {
        let buf = &self.buf;
        if buf.len() < 2 {
            return None;
        }
        let (fin, rsv, opcode) = (buf[0] & 0x80 != 0, (buf[0] >> 4) & 7, buf[0] & 0x0f);
        let masked = buf[1] & 0x80 != 0;
        let (len, mut pos) = match buf[1] & 0x7f {
            126 => (
                u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
                4,
            ),
            127 => (
                u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
                10,
            ),
            len => (len as usize, 2),
        };
        let masking_key = if masked {
            let key: [u8; 4] = buf.get(pos..pos + 4)?.try_into().ok()?;
            pos += 4;
            Some(key)
        } else {
            None
        };
        if buf.len() < pos + len {
            return None;
        }
        let mut payload: Vec<u8> = self.buf.drain(..pos + len).skip(pos).collect();
        if let Some(key) = masking_key {
            mask(&mut payload, key);
        }
        Some(RawFrame {
            fin,
            rsv,
            opcode,
            mask: masking_key,
            payload,
        })
    }
}

/// Deterministic filler of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Deterministic ASCII text of `len` bytes.
pub fn ascii(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}
