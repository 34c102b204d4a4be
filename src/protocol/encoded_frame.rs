//! Frames encoded once and sent to many connections.

use bytes::{Bytes, BytesMut};

use super::Message;
use crate::frame::{encode_frame, OpCode};

/// A complete, unmasked server frame. Server frames carry no mask, so the same bytes are valid on
/// every connection: a broadcast encodes the message once and queues the same `Bytes` (a
/// reference count, not a copy) to each recipient with `send_encoded`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame(Bytes);

impl EncodedFrame {
    /// Encodes a text or binary message as one final frame. Returns `None` for control messages,
    /// which are per-connection by nature.
    #[must_use]
    pub fn from_message(message: &Message) -> Option<Self> {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
            _ => return None,
        };
        let mut out = BytesMut::new();
        encode_frame(&mut out, opcode, true, payload, None);
        Some(Self(out.freeze()))
    }

    /// A text frame.
    #[must_use]
    pub fn text(text: &str) -> Self {
        let mut out = BytesMut::new();
        encode_frame(&mut out, OpCode::Text, true, text.as_bytes(), None);
        Self(out.freeze())
    }

    /// The encoded bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length on the wire.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a frame has at least a two-byte header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
