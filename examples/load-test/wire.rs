//! The generator's side of the protocol, by hand: an upgrade request, masked client frames and a
//! minimal reader for the server's unmasked frames. No WebSocket library is involved, so the
//! generator costs the same whichever server it drives.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The masking key of every generated frame (RFC 6455 section 5.7's example key).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Appends one final, masked client frame.
pub fn push_masked_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i & 3]));
}

/// Length on the wire of an unmasked server frame carrying `payload_len` bytes.
pub fn server_frame_len(payload_len: usize) -> usize {
    let header = match payload_len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    header + payload_len
}

/// Connects, performs the opening handshake for `path`, and returns the stream with any bytes
/// the server sent after its 101 (frames it pushed right away).
pub async fn connect(addr: SocketAddr, path: &str) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if !buf.starts_with(b"HTTP/1.1 101") {
                return Err(io::Error::other(format!(
                    "upgrade refused: {}",
                    String::from_utf8_lossy(&buf[..end])
                )));
            }
            return Ok((stream, buf.split_off(end + 4)));
        }
        if buf.len() > 16 << 10 {
            return Err(io::Error::other("handshake response too long"));
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Opcode, payload length and header length of the frame at the start of `buf`, once the header
/// is complete.
pub fn frame_header(buf: &[u8]) -> Option<(u8, usize, usize)> {
    let (&first, rest) = buf.split_first()?;
    let &second = rest.first()?;
    let opcode = first & 0x0F;
    match second & 0x7F {
        126 => {
            let len = u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?);
            Some((opcode, usize::from(len), 4))
        }
        127 => {
            let len = u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?);
            Some((opcode, usize::try_from(len).ok()?, 10))
        }
        n => Some((opcode, usize::from(n), 2)),
    }
}

/// [`connect`] with a bound on the whole connect and handshake.
pub async fn connect_within(
    addr: SocketAddr,
    path: &str,
    limit: std::time::Duration,
) -> io::Result<(TcpStream, Vec<u8>)> {
    tokio::time::timeout(limit, connect(addr, path))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect and handshake timed out"))?
}

/// "1008 too slow: ..." for a close frame's payload.
pub fn describe_close(payload: &[u8]) -> String {
    match payload {
        [high, low, reason @ ..] => format!(
            "{} {}",
            u16::from_be_bytes([*high, *low]),
            String::from_utf8_lossy(reason)
        ),
        _ => "no status".to_owned(),
    }
}
