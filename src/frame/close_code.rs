//! Close codes (RFC 6455 section 7.4) and the close frame payload.
//!
//! A [`CloseCode`] can only hold a code that may appear on the wire: 1000-1003, 1007-1011 and the
//! registered/private ranges 3000-4999. The codes that describe a closure but are never sent
//! (1005 "no status received", 1006 "abnormal closure", 1015 "TLS failure") are represented by the
//! absence of a close frame or by an error, never by a `CloseCode`.

use std::fmt;

use crate::error::ProtocolError;

/// A close status code that is valid to send and to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer violated the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint cannot accept this kind of data (e.g. binary where only text is used).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1007: a text message or close reason was not valid UTF-8.
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a frame or message exceeded the endpoint's limits.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client needed an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);

    /// Accepts exactly the codes that are valid on the wire.
    #[must_use]
    pub const fn new(code: u16) -> Option<Self> {
        match code {
            1000..=1003 | 1007..=1011 | 3000..=4999 => Some(Self(code)),
            _ => None,
        }
    }

    /// The numeric code.
    #[must_use]
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for CloseCode {
    type Error = ProtocolError;

    fn try_from(code: u16) -> Result<Self, ProtocolError> {
        Self::new(code).ok_or(ProtocolError::InvalidCloseCode(code))
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The body of a close frame that carried a status code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why the endpoint closed.
    pub code: CloseCode,
    /// A short UTF-8 explanation for humans; at most 123 bytes on the wire.
    pub reason: String,
}

/// The longest reason that fits a control frame: 125 bytes minus the two-byte code.
pub const MAX_CLOSE_REASON: usize = 123;

impl CloseFrame {
    /// A close frame with `reason` cut to at most [`MAX_CLOSE_REASON`] bytes on a character
    /// boundary, so that a long reason can never make the frame itself invalid.
    #[must_use]
    pub fn new(code: CloseCode, reason: &str) -> Self {
        let mut end = reason.len().min(MAX_CLOSE_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            code,
            reason: reason[..end].to_owned(),
        }
    }

    /// Parses a received close payload. An empty payload means "no status" (`None`).
    ///
    /// # Errors
    /// A one-byte payload ([`ProtocolError::InvalidClosePayload`]), a code that is not valid on the
    /// wire ([`ProtocolError::InvalidCloseCode`]), or a reason that is not UTF-8
    /// ([`ProtocolError::InvalidUtf8`]).
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, ProtocolError> {
        match payload {
            [] => Ok(None),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [high, low, reason @ ..] => {
                let code = CloseCode::try_from(u16::from_be_bytes([*high, *low]))?;
                let reason = simdutf8::basic::from_utf8(reason)
                    .map_err(|_| ProtocolError::InvalidUtf8)?
                    .to_owned();
                Ok(Some(Self { code, reason }))
            }
        }
    }

    /// Appends the wire payload: the code in network byte order, then the reason.
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code.0.to_be_bytes());
        out.extend_from_slice(self.reason.as_bytes());
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.code, self.reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_valid_codes_are_exactly_the_rfc_ranges() {
        for code in 0u16..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            assert_eq!(CloseCode::new(code).is_some(), expected, "code {code}");
        }
    }

    #[test]
    fn never_sent_codes_are_rejected() {
        for code in [
            1004u16, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2999, 5000, 0, 999,
        ] {
            assert_eq!(
                CloseFrame::parse(&code.to_be_bytes()),
                Err(ProtocolError::InvalidCloseCode(code))
            );
        }
    }

    #[test]
    fn one_byte_close_payload_is_a_protocol_error() {
        assert_eq!(
            CloseFrame::parse(&[3]),
            Err(ProtocolError::InvalidClosePayload)
        );
    }

    #[test]
    fn empty_close_payload_means_no_status() {
        assert_eq!(CloseFrame::parse(&[]), Ok(None));
    }

    #[test]
    fn close_reason_must_be_utf8() {
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn close_payload_round_trips() {
        let frame = CloseFrame::new(CloseCode::new(4321).unwrap(), "bye ✓");
        let mut wire = Vec::new();
        frame.write_payload(&mut wire);
        assert_eq!(CloseFrame::parse(&wire), Ok(Some(frame)));
    }

    #[test]
    fn long_reason_is_cut_on_a_char_boundary() {
        let reason = "é".repeat(100);
        let frame = CloseFrame::new(CloseCode::NORMAL, &reason);
        assert!(frame.reason.len() <= MAX_CLOSE_REASON);
        assert_eq!(frame.reason.len() % 2, 0);
    }
}
