//! The connection state machine driven in memory: a client and a server [`Connection`] pumped
//! against each other, and hand-encoded frames fed to one side. No sockets, no clocks.

mod close_handshake;
mod fragmentation;
mod keepalive;
mod limits;
mod output;
mod round_trip;

use std::time::Instant;

use bytes::BytesMut;

use super::{Config, Connection, Message};
use crate::error::{Error, ProtocolError};
use crate::frame::{apply_mask, CloseFrame, Frame, FrameDecoder, OpCode, Role};

/// First header byte of a final text frame.
const TEXT: u8 = 0x81;
/// First header byte of a final binary frame.
const BINARY: u8 = 0x82;
/// First header byte of a final close frame.
const CLOSE: u8 = 0x88;
/// First header byte of a ping.
const PING: u8 = 0x89;
/// First header byte of a pong.
const PONG: u8 = 0x8A;
/// First header byte of a non-final text frame.
const TEXT_START: u8 = 0x01;
/// First header byte of a non-final continuation frame.
const CONTINUATION: u8 = 0x00;
/// First header byte of a final continuation frame.
const CONTINUATION_FIN: u8 = 0x80;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn server(config: Config) -> Connection {
    Connection::new(Role::Server, config, Instant::now())
}

fn client(config: Config) -> Connection {
    Connection::new(Role::Client, config, Instant::now())
}

/// Encodes a frame by hand, so tests can send what our own encoder never would (reserved bits,
/// reserved opcodes, fragmented control frames): `first` is the whole first header byte.
fn raw_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
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
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A masked frame, as a client sends it.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(first, payload, Some(KEY))
}

/// An unmasked frame, as a server sends it.
fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(first, payload, None)
}

/// A close frame payload: the code in network byte order, then the reason.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// Everything `conn` has to write, concatenated.
fn transmit(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// Moves everything `from` has to write into `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    let bytes = transmit(from);
    to.receive(&bytes);
}

/// Every message `conn` can deliver from its buffered input; panics on a failure.
fn messages(conn: &mut Connection) -> Vec<Message> {
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        match conn.poll_message() {
            Ok(Some(message)) => out.push(message),
            Ok(None) => return out,
            Err(e) => panic!("unexpected failure {e:?} after {} messages", out.len()),
        }
    }
    panic!("poll_message never ran out of messages");
}

/// The error `conn` fails with on its buffered input, after any messages before it.
fn failure(conn: &mut Connection) -> Error {
    for _ in 0..1_000_000 {
        match conn.poll_message() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("connection did not fail"),
            Err(e) => return e,
        }
    }
    panic!("poll_message never ran out of messages");
}

/// The protocol violation `conn` fails with.
fn violation(conn: &mut Connection) -> ProtocolError {
    match failure(conn) {
        Error::Protocol(violation) => violation,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Decodes frames written by an endpoint of role `sender`.
fn decode_frames(bytes: &[u8], sender: Role) -> Vec<Frame> {
    let receiver = match sender {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut decoder = FrameDecoder::new(receiver, usize::MAX);
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut buf).expect("our own output decodes") {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "a partial frame was written");
    frames
}

/// The frames `conn` has queued for writing.
fn sent_frames(conn: &mut Connection) -> Vec<Frame> {
    let bytes = transmit(conn);
    decode_frames(&bytes, conn.role())
}

/// The close frame `conn` has queued, which must be the last frame it writes. `None` for a close
/// without a status code.
fn sent_close(conn: &mut Connection) -> Option<CloseFrame> {
    let frames = sent_frames(conn);
    let last = frames.last().expect("a close frame was queued");
    assert_eq!(last.header.opcode, OpCode::Close, "last frame is a close");
    CloseFrame::parse(&last.payload).expect("our close payload is valid")
}

/// The status code of the close `conn` has queued.
fn sent_close_code(conn: &mut Connection) -> u16 {
    sent_close(conn)
        .expect("the close carries a status code")
        .code
        .as_u16()
}
