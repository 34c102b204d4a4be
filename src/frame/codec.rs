//! Whole-frame encoding and decoding over a byte buffer.
//!
//! [`FrameDecoder`] turns a stream of bytes into complete, unmasked frames whose payloads are
//! slices of the input buffer (no copy). It is the codec the benches and fuzzers drive, and the
//! building block for anyone who wants frames rather than messages; the connection state machine
//! in [`crate::protocol`] uses the same header decoder but streams payloads, so it can validate
//! UTF-8 before a frame has fully arrived.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{apply_mask, FrameHeader, OpCode, Role};
use crate::error::ProtocolError;

/// A complete frame with its payload already unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The header as it was on the wire (including the masking key, if any).
    pub header: FrameHeader,
    /// The unmasked payload.
    pub payload: Bytes,
}

/// Incremental frame decoder for one direction of a connection.
#[derive(Debug)]
pub struct FrameDecoder {
    role: Role,
    max_payload: usize,
    pending: Option<(FrameHeader, usize)>,
}

impl FrameDecoder {
    /// A decoder for frames received by `role`, refusing payloads over `max_payload` bytes.
    #[must_use]
    pub fn new(role: Role, max_payload: usize) -> Self {
        Self {
            role,
            max_payload,
            pending: None,
        }
    }

    /// Takes the next complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed; the header is remembered so it is not
    /// decoded again. Never reserves memory: the caller grows `buf`, and a frame over the limit is
    /// refused from its header before its payload is buffered.
    ///
    /// # Errors
    /// Any [`ProtocolError`] that [`FrameHeader::decode`] reports. After an error the stream is
    /// unusable and the connection must be failed.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let (header, header_len) = match self.pending.take() {
            Some(pending) => pending,
            None => match FrameHeader::decode(buf, self.role, self.max_payload)? {
                Some(decoded) => decoded,
                None => return Ok(None),
            },
        };
        // The limit check above bounds payload_len by max_payload, a usize.
        let payload_len = header.payload_len as usize;
        if buf.len() - header_len < payload_len {
            self.pending = Some((header, header_len));
            return Ok(None);
        }
        buf.advance(header_len);
        let mut payload = buf.split_to(payload_len);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        Ok(Some(Frame {
            header,
            payload: payload.freeze(),
        }))
    }
}

/// Appends one frame to `out`: header with the minimal length encoding, then the payload, masked
/// with `mask` when given (the caller's copy of the payload is left untouched).
#[inline]
pub fn encode_frame(
    out: &mut BytesMut,
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    out.reserve(header.encoded_len() + payload.len());
    header.encode(out);
    let start = out.len();
    out.put_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opcode_strategy() -> impl Strategy<Value = OpCode> {
        prop_oneof![
            Just(OpCode::Continuation),
            Just(OpCode::Text),
            Just(OpCode::Binary),
            Just(OpCode::Close),
            Just(OpCode::Ping),
            Just(OpCode::Pong),
        ]
    }

    prop_compose! {
        fn frame_strategy()(opcode in opcode_strategy(), fin in any::<bool>(),
                            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
                            mask in any::<[u8; 4]>()) -> (OpCode, bool, Vec<u8>, [u8; 4]) {
            let (fin, payload) = if opcode.is_control() {
                (true, payload.into_iter().take(125).collect())
            } else {
                (fin, payload)
            };
            (opcode, fin, payload, mask)
        }
    }

    fn decode_in_chunks(stream: &[u8], cuts: &[usize], role: Role) -> Vec<Frame> {
        let mut decoder = FrameDecoder::new(role, usize::MAX);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        for pair in cuts.windows(2) {
            buf.extend_from_slice(&stream[pair[0]..pair[1]]);
            while let Some(frame) = decoder.decode(&mut buf).expect("valid stream") {
                frames.push(frame);
            }
        }
        assert!(buf.is_empty(), "bytes left over");
        frames
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn frames_round_trip_for_every_chunking(frames in proptest::collection::vec(frame_strategy(), 1..6),
                                                cuts in proptest::collection::vec(any::<usize>(), 0..12),
                                                masked in any::<bool>()) {
            let mut stream = BytesMut::new();
            for (opcode, fin, payload, mask) in &frames {
                encode_frame(&mut stream, *opcode, *fin, payload, masked.then_some(*mask));
            }
            let role = if masked { Role::Server } else { Role::Client };
            let decoded = decode_in_chunks(&stream, &cuts, role);
            prop_assert_eq!(decoded.len(), frames.len());
            for (frame, (opcode, fin, payload, mask)) in decoded.iter().zip(&frames) {
                prop_assert_eq!(frame.header.opcode, *opcode);
                prop_assert_eq!(frame.header.fin, *fin);
                prop_assert_eq!(frame.header.mask, masked.then_some(*mask));
                prop_assert_eq!(&frame.payload[..], &payload[..]);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                       limit in 0usize..300, server in any::<bool>()) {
            let role = if server { Role::Server } else { Role::Client };
            let mut decoder = FrameDecoder::new(role, limit);
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                prop_assert!(frame.payload.len() <= limit);
            }
        }
    }

    #[test]
    fn masked_frame_payload_is_unmasked() {
        let mut buf = BytesMut::new();
        encode_frame(
            &mut buf,
            OpCode::Text,
            true,
            b"Hello",
            Some([0x37, 0xfa, 0x21, 0x3d]),
        );
        assert_eq!(
            &buf[..],
            &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        let frame = FrameDecoder::new(Role::Server, 1024)
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(&frame.payload[..], b"Hello");
    }

    #[test]
    fn partial_payload_waits_without_consuming() {
        let mut buf = BytesMut::from(&[0x82, 0x05, 1, 2][..]);
        let mut decoder = FrameDecoder::new(Role::Client, 1024);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 4);
        buf.extend_from_slice(&[3, 4, 5]);
        let frame = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&frame.payload[..], &[1, 2, 3, 4, 5]);
    }
}
