//! The one public error type, and the protocol violations inside it.
//!
//! Every violation maps to its close code in [`ProtocolError::close_code`], the single place where
//! that mapping lives, so the state machine, the tests and users agree on it.

use std::fmt;
use std::io;

use crate::frame::CloseCode;
use crate::frame::CloseFrame;
use crate::handshake::{HandshakeError, Rejection};

/// A way the peer broke RFC 6455, or exceeded our configured limits. Receiving one fails the
/// connection: a close frame with [`ProtocolError::close_code`] is sent and the transport closed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Opcode 3-7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// RSV1-3 set although no extension was negotiated.
    ReservedBitsSet,
    /// A close, ping or pong frame longer than 125 bytes.
    ControlFrameTooLong(u64),
    /// A close, ping or pong frame with FIN clear.
    FragmentedControlFrame,
    /// A 64-bit payload length with its most significant bit set.
    PayloadLengthTopBitSet,
    /// A server received an unmasked frame.
    UnmaskedFrameFromClient,
    /// A client received a masked frame.
    MaskedFrameFromServer,
    /// A continuation frame arrived while no fragmented message was in progress.
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was in progress.
    ExpectedContinuation,
    /// A text message or close reason is not valid UTF-8.
    InvalidUtf8,
    /// A close frame carried a code that is not valid on the wire.
    InvalidCloseCode(u16),
    /// A close frame with a one-byte payload.
    InvalidClosePayload,
    /// A frame's payload exceeds the configured maximum frame size.
    FrameTooLarge {
        /// The length the frame header announced.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// A message exceeds the configured maximum message size.
    MessageTooLarge {
        /// The size the message would reach.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// A fragmented message exceeds the configured maximum number of fragments.
    TooManyFragments {
        /// The configured maximum.
        max: usize,
    },
}

impl ProtocolError {
    /// The close code this violation is answered with (RFC 6455 section 7.4.1, as the Autobahn
    /// TestSuite checks it).
    #[must_use]
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge { .. }
            | Self::MessageTooLarge { .. }
            | Self::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason for the close frame; fits the 123-byte limit.
    #[must_use]
    pub fn close_reason(&self) -> &'static str {
        match self {
            Self::ReservedOpcode(_) => "reserved opcode",
            Self::ReservedBitsSet => "reserved bits set",
            Self::ControlFrameTooLong(_) => "control frame too long",
            Self::FragmentedControlFrame => "fragmented control frame",
            Self::PayloadLengthTopBitSet => "invalid payload length",
            Self::UnmaskedFrameFromClient => "client frame not masked",
            Self::MaskedFrameFromServer => "server frame masked",
            Self::UnexpectedContinuation => "continuation without a message",
            Self::ExpectedContinuation => "new message inside a fragmented message",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::InvalidClosePayload => "invalid close payload",
            Self::FrameTooLarge { .. } => "frame too large",
            Self::MessageTooLarge { .. } => "message too large",
            Self::TooManyFragments { .. } => "too many fragments",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::ControlFrameTooLong(len) => write!(f, "control frame of {len} bytes (max 125)"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            Self::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            Self::MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")
            }
            Self::TooManyFragments { max } => write!(f, "message has more than {max} fragments"),
            other => f.write_str(other.close_reason()),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Everything that can go wrong with a WebSocket connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The client-side opening handshake failed (the server refused, or answered wrongly).
    Handshake(HandshakeError),
    /// The server-side opening handshake was refused with this HTTP status (already answered).
    Rejected(Box<Rejection>),
    /// The peer violated the protocol or our limits; the connection was failed with the
    /// violation's close code.
    Protocol(ProtocolError),
    /// The peer stopped answering: nothing arrived within the keepalive timeout.
    KeepaliveTimeout,
    /// The transport ended without a closing handshake (close code 1006 in the RFC's terms).
    AbnormalClosure,
    /// The connection is closed (or closing); nothing more can be sent.
    Closed(Option<CloseFrame>),
    /// The TLS handshake or a TLS record failed: for a client, most often a certificate it does
    /// not trust (unknown issuer, expired, another name); boxed to keep `Error` small.
    #[cfg(feature = "tls")]
    Tls(Box<rustls::Error>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::Rejected(r) => write!(
                f,
                "handshake rejected with HTTP {}: {}",
                r.status(),
                r.reason()
            ),
            Self::Protocol(e) => write!(f, "protocol error (close code {}): {e}", e.close_code()),
            Self::KeepaliveTimeout => f.write_str("keepalive timeout: the peer stopped answering"),
            Self::AbnormalClosure => f.write_str("connection closed without a closing handshake"),
            Self::Closed(Some(frame)) => write!(f, "connection closed: {frame}"),
            Self::Closed(None) => f.write_str("connection closed"),
            #[cfg(feature = "tls")]
            Self::Tls(e) => write!(f, "TLS error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Protocol(e) => Some(e),
            #[cfg(feature = "tls")]
            Self::Tls(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl Error {
    /// An I/O error from a TLS stream: [`Error::Tls`] when rustls caused it, else [`Error::Io`].
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn from_tls_io(error: io::Error) -> Self {
        match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => Self::Tls(Box::new(tls.clone())),
            None => Self::Io(error),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 40,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn limits_map_to_1009_utf8_to_1007_rest_to_1002() {
        assert_eq!(
            ProtocolError::FrameTooLarge { len: 1, max: 0 }
                .close_code()
                .as_u16(),
            1009
        );
        assert_eq!(
            ProtocolError::MessageTooLarge { len: 1, max: 0 }
                .close_code()
                .as_u16(),
            1009
        );
        assert_eq!(
            ProtocolError::TooManyFragments { max: 0 }
                .close_code()
                .as_u16(),
            1009
        );
        assert_eq!(ProtocolError::InvalidUtf8.close_code().as_u16(), 1007);
        assert_eq!(ProtocolError::ReservedBitsSet.close_code().as_u16(), 1002);
        assert_eq!(
            ProtocolError::InvalidCloseCode(1005).close_code().as_u16(),
            1002
        );
    }

    #[test]
    fn every_close_reason_fits_a_close_frame() {
        let all = [
            ProtocolError::ReservedOpcode(3),
            ProtocolError::ExpectedContinuation,
            ProtocolError::UnexpectedContinuation,
        ];
        for e in all {
            assert!(e.close_reason().len() <= crate::frame::MAX_CLOSE_REASON);
        }
    }
}
