//! The frame header (RFC 6455 section 5.2): FIN, RSV1-3, opcode, MASK, payload length and masking
//! key, in 2 to 14 bytes.
//!
//! Decoding validates everything that can be judged from the header alone (reserved bits and
//! opcodes, control frame rules, the 64-bit length's top bit, masking by role, the frame size
//! limit), so that no payload byte is buffered for a frame that is already known to be invalid.

use bytes::BufMut;

use super::{OpCode, Role};
use crate::error::ProtocolError;

/// The longest possible header: 2 bytes, an 8-byte extended length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The longest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of a message.
    pub fin: bool,
    /// RSV1-3 in the low three bits; always 0 unless an extension is negotiated (none are).
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present exactly on client-to-server frames.
    pub mask: Option<[u8; 4]>,
    /// Length of the payload that follows the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `buf` as received by `role`, enforcing `max_payload`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header, or
    /// `Ok(Some((header, header_len)))`.
    ///
    /// # Errors
    /// Any [`ProtocolError`] the header alone proves: reserved bits or opcode, a fragmented or
    /// too long control frame, a 64-bit length with the top bit set, wrong masking for the role,
    /// or a payload longer than `max_payload` ([`ProtocolError::FrameTooLarge`]).
    #[inline]
    pub fn decode(
        buf: &[u8],
        role: Role,
        max_payload: usize,
    ) -> Result<Option<(Self, usize)>, ProtocolError> {
        let (first, second) = match buf {
            [first, second, ..] => (*first, *second),
            _ => return Ok(None),
        };
        let fin = first & 0x80 != 0;
        let rsv = (first >> 4) & 0x07;
        if rsv != 0 {
            return Err(ProtocolError::ReservedBitsSet);
        }
        let opcode = OpCode::from_bits(first & 0x0F)?;
        let masked = second & 0x80 != 0;
        match (role, masked) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrameFromClient),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrameFromServer),
            _ => {}
        }
        let short_len = second & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if short_len > 125 {
                // 126 and 127 announce an extended length; report it once we can read it.
                return Self::control_too_long(buf, short_len);
            }
        }
        let (payload_len, mut pos) = match short_len {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                Some(bytes) => {
                    let len = u64::from_be_bytes(bytes);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::PayloadLengthTopBitSet);
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            len => (u64::from(len), 2),
        };
        if payload_len > max_payload as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: payload_len,
                max: max_payload,
            });
        }
        let mask = if masked {
            match buf
                .get(pos..pos + 4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
            {
                Some(key) => {
                    pos += 4;
                    Some(key)
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some((
            Self {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            pos,
        )))
    }

    #[cold]
    fn control_too_long(buf: &[u8], short_len: u8) -> Result<Option<(Self, usize)>, ProtocolError> {
        let len = match short_len {
            126 => buf
                .get(2..4)
                .map(|s| s.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b))),
            _ => buf
                .get(2..10)
                .map(|s| s.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b))),
        };
        match len {
            Some(len) => Err(ProtocolError::ControlFrameTooLong(len)),
            None => Ok(None),
        }
    }

    /// The number of bytes [`FrameHeader::encode`] writes: minimal length encoding plus the key.
    #[inline]
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header, always with the minimal length encoding.
    #[inline]
    pub fn encode(&self, out: &mut impl BufMut) {
        let first = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        out.put_u8(first);
        match self.payload_len {
            len @ 0..=125 => out.put_u8(mask_bit | len as u8),
            len @ 126..=0xFFFF => {
                out.put_u8(mask_bit | 126);
                out.put_u16(len as u16);
            }
            len => {
                out.put_u8(mask_bit | 127);
                out.put_u64(len);
            }
        }
        if let Some(key) = self.mask {
            out.put_slice(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMIT: usize = usize::MAX;

    fn header(opcode: OpCode, fin: bool, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: len,
        }
    }

    fn encoded(h: &FrameHeader) -> Vec<u8> {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), h.encoded_len());
        out
    }

    #[test]
    fn length_encoding_is_minimal_at_every_boundary() {
        for (len, expected) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (1 << 40, 10),
        ] {
            assert_eq!(
                encoded(&header(OpCode::Binary, true, len, None)).len(),
                expected,
                "len {len}"
            );
        }
    }

    #[test]
    fn header_round_trips_for_both_roles() {
        for len in [0u64, 1, 125, 126, 65535, 65536, (1 << 63) - 1] {
            let client_frame = header(OpCode::Binary, false, len, Some([1, 2, 3, 4]));
            let bytes = encoded(&client_frame);
            assert_eq!(
                FrameHeader::decode(&bytes, Role::Server, NO_LIMIT),
                Ok(Some((client_frame, bytes.len())))
            );
            let server_frame = header(OpCode::Text, true, len, None);
            let bytes = encoded(&server_frame);
            assert_eq!(
                FrameHeader::decode(&bytes, Role::Client, NO_LIMIT),
                Ok(Some((server_frame, bytes.len())))
            );
        }
    }

    #[test]
    fn every_prefix_of_a_header_needs_more_bytes() {
        let bytes = encoded(&header(OpCode::Binary, true, 70000, Some([9, 9, 9, 9])));
        for end in 0..bytes.len() {
            assert_eq!(
                FrameHeader::decode(&bytes[..end], Role::Server, NO_LIMIT),
                Ok(None),
                "prefix {end}"
            );
        }
    }

    #[test]
    fn length_with_top_bit_set_is_rejected() {
        let mut bytes = vec![0x82, 127];
        bytes.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(
            FrameHeader::decode(&bytes, Role::Client, NO_LIMIT),
            Err(ProtocolError::PayloadLengthTopBitSet)
        );
    }

    #[test]
    fn reserved_bits_and_opcodes_are_rejected() {
        for rsv in 1..8u8 {
            assert_eq!(
                FrameHeader::decode(&[0x81 | rsv << 4, 0], Role::Client, NO_LIMIT),
                Err(ProtocolError::ReservedBitsSet)
            );
        }
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0], Role::Client, NO_LIMIT),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn control_frames_must_be_final_and_short() {
        assert_eq!(
            FrameHeader::decode(&[0x09, 0], Role::Client, NO_LIMIT),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 126, 0, 126], Role::Client, NO_LIMIT),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 126], Role::Client, NO_LIMIT),
            Ok(None)
        );
        assert!(FrameHeader::decode(&[0x89, 125], Role::Client, NO_LIMIT)
            .unwrap()
            .is_some());
    }

    #[test]
    fn masking_must_match_the_role() {
        assert_eq!(
            FrameHeader::decode(&[0x81, 0], Role::Server, NO_LIMIT),
            Err(ProtocolError::UnmaskedFrameFromClient)
        );
        assert_eq!(
            FrameHeader::decode(&[0x81, 0x80, 1, 2, 3, 4], Role::Client, NO_LIMIT),
            Err(ProtocolError::MaskedFrameFromServer)
        );
    }

    #[test]
    fn oversized_frame_is_rejected_from_the_header_alone() {
        // 2^62 bytes announced: rejected without waiting for (or allocating) any payload.
        let mut bytes = vec![0x82, 127];
        bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert_eq!(
            FrameHeader::decode(&bytes, Role::Client, 1 << 20),
            Err(ProtocolError::FrameTooLarge {
                len: 1 << 62,
                max: 1 << 20
            })
        );
    }
}
