//! The frame opcode (RFC 6455 section 5.2), as a closed set: reserved values never become an
//! `OpCode`, so every later match is exhaustive over what the protocol allows.

use crate::error::ProtocolError;

/// What a frame carries. Reserved opcodes (3-7, 0xB-0xF) are rejected at decode time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// A non-first fragment of a message.
    Continuation,
    /// The first (or only) frame of a UTF-8 text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// Starts or answers the closing handshake.
    Close,
    /// A keepalive probe the peer must answer with a pong.
    Ping,
    /// The answer to a ping, or an unsolicited heartbeat.
    Pong,
}

impl OpCode {
    /// Decodes the low four bits of the first header byte.
    ///
    /// # Errors
    /// [`ProtocolError::ReservedOpcode`] for 3-7 and 0xB-0xF.
    #[inline]
    pub fn from_bits(bits: u8) -> Result<Self, ProtocolError> {
        match bits {
            0x0 => Ok(Self::Continuation),
            0x1 => Ok(Self::Text),
            0x2 => Ok(Self::Binary),
            0x8 => Ok(Self::Close),
            0x9 => Ok(Self::Ping),
            0xA => Ok(Self::Pong),
            other => Err(ProtocolError::ReservedOpcode(other)),
        }
    }

    /// The four-bit wire value.
    #[inline]
    #[must_use]
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong) may interleave with fragments but are limited to 125
    /// bytes and may not be fragmented themselves.
    #[inline]
    #[must_use]
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_four_bit_value_is_either_an_opcode_or_reserved() {
        for bits in 0u8..16 {
            match OpCode::from_bits(bits) {
                Ok(op) => assert_eq!(op.bits(), bits),
                Err(e) => {
                    assert!(matches!(bits, 3..=7 | 0xB..=0xF), "{bits} rejected");
                    assert_eq!(e, ProtocolError::ReservedOpcode(bits));
                }
            }
        }
    }

    #[test]
    fn only_close_ping_pong_are_control() {
        assert!(
            OpCode::Close.is_control() && OpCode::Ping.is_control() && OpCode::Pong.is_control()
        );
        assert!(!OpCode::Text.is_control() && !OpCode::Binary.is_control());
        assert!(!OpCode::Continuation.is_control());
    }
}
