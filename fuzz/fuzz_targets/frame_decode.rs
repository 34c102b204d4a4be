//! `FrameDecoder` on arbitrary bytes, for both roles and small payload limits.
//!
//! Input: `[flags] [chunking (see wschat_fuzz::Chunked)] [stream]`; flags bit 0 picks the role
//! (0 = server receiving masked frames, 1 = client), bits 1-3 the payload limit.
//!
//! Asserts: the same frames and the same end (error or leftover bytes) whether the stream is
//! fed whole or in pieces; every frame and every error agrees with an independent, byte-by-byte
//! reading of RFC 6455 section 5.2 (including the unmasked payload, which checks `apply_mask`
//! at every length and alignment); every frame re-encodes to bytes that decode to it again, and
//! to the original bytes when the original used the minimal length encoding.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wschat::frame::{encode_frame, Frame, FrameDecoder, Role};
use wschat::ProtocolError;
use wschat_fuzz::Chunked;

const LIMITS: [usize; 8] = [0, 1, 125, 126, 1000, 65535, 65536, usize::MAX];

/// Frames decoded, then either the error that stopped decoding or the bytes left over.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    end: Result<usize, ProtocolError>,
}

fn decode_pieces(role: Role, limit: usize, pieces: &[&[u8]]) -> Outcome {
    let mut decoder = FrameDecoder::new(role, limit);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        frames,
                        end: Err(e),
                    }
                }
            }
        }
    }
    Outcome {
        frames,
        end: Ok(buf.len()),
    }
}

/// What RFC 6455 section 5.2 says about the frame header at the start of `buf`, written
/// independently of `FrameHeader::decode`.
#[derive(Debug)]
enum Reference {
    /// More bytes are needed before anything can be said.
    Incomplete,
    /// The header breaks these rules (any one of them may be reported).
    Invalid(Vec<ProtocolError>),
    /// A valid header.
    Valid {
        fin: bool,
        opcode: u8,
        mask: Option<[u8; 4]>,
        len: u64,
        header_len: usize,
        minimal: bool,
    },
}

fn reference_header(buf: &[u8], role: Role, limit: usize) -> Reference {
    if buf.len() < 2 {
        return Reference::Incomplete;
    }
    let (b0, b1) = (buf[0], buf[1]);
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    let masked = b1 & 0x80 != 0;
    let short = b1 & 0x7F;
    let mut violations = Vec::new();
    if b0 & 0x70 != 0 {
        violations.push(ProtocolError::ReservedBitsSet);
    }
    let known = matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10);
    if !known {
        violations.push(ProtocolError::ReservedOpcode(opcode));
    }
    if role == Role::Server && !masked {
        violations.push(ProtocolError::UnmaskedFrameFromClient);
    }
    if role == Role::Client && masked {
        violations.push(ProtocolError::MaskedFrameFromServer);
    }
    let control = known && opcode >= 8;
    if control && !fin {
        violations.push(ProtocolError::FragmentedControlFrame);
    }
    let ext = match short {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    if buf.len() < 2 + ext {
        return if violations.is_empty() {
            Reference::Incomplete
        } else {
            Reference::Invalid(violations)
        };
    }
    let len = match short {
        126 | 127 => buf[2..2 + ext]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        n => u64::from(n),
    };
    let minimal = match short {
        126 => len >= 126,
        127 => len > 0xFFFF,
        _ => true,
    };
    if control && short > 125 {
        violations.push(ProtocolError::ControlFrameTooLong(len));
    }
    if len >= 1 << 63 {
        violations.push(ProtocolError::PayloadLengthTopBitSet);
    }
    if len > limit as u64 {
        violations.push(ProtocolError::FrameTooLarge { len, max: limit });
    }
    if !violations.is_empty() {
        return Reference::Invalid(violations);
    }
    let mut header_len = 2 + ext;
    let mask = if masked {
        if buf.len() < header_len + 4 {
            return Reference::Incomplete;
        }
        let key = [
            buf[header_len],
            buf[header_len + 1],
            buf[header_len + 2],
            buf[header_len + 3],
        ];
        header_len += 4;
        Some(key)
    } else {
        None
    };
    Reference::Valid {
        fin,
        opcode,
        mask,
        len,
        header_len,
        minimal,
    }
}

fn check_against_reference(stream: &[u8], role: Role, limit: usize, outcome: &Outcome) {
    let mut pos = 0;
    for frame in &outcome.frames {
        let rest = &stream[pos..];
        let Reference::Valid {
            fin,
            opcode,
            mask,
            len,
            header_len,
            minimal,
        } = reference_header(rest, role, limit)
        else {
            panic!("decoded a frame the reference rejects at offset {pos}: {frame:?}");
        };
        assert_eq!(frame.header.fin, fin);
        assert_eq!(frame.header.opcode.bits(), opcode);
        assert_eq!(frame.header.rsv, 0);
        assert_eq!(frame.header.mask, mask);
        assert_eq!(frame.header.payload_len, len);
        let len = usize::try_from(len).expect("bounded by the limit");
        assert!(len <= limit);
        let wire = &rest[header_len..header_len + len];
        let unmasked: Vec<u8> = match mask {
            Some(key) => wire
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect(),
            None => wire.to_vec(),
        };
        assert_eq!(&frame.payload[..], &unmasked[..]);

        let mut reencoded = BytesMut::new();
        encode_frame(
            &mut reencoded,
            frame.header.opcode,
            fin,
            &frame.payload,
            mask,
        );
        if minimal {
            assert_eq!(&reencoded[..], &rest[..header_len + len]);
        }
        let again = FrameDecoder::new(role, limit)
            .decode(&mut reencoded)
            .expect("a re-encoded frame is valid")
            .expect("a re-encoded frame is complete");
        assert_eq!(&again, frame);
        assert!(reencoded.is_empty());
        pos += header_len + len;
    }
    let rest = &stream[pos..];
    match (&outcome.end, reference_header(rest, role, limit)) {
        (Err(e), Reference::Invalid(violations)) => {
            assert!(violations.contains(e), "{e:?} not in {violations:?}");
        }
        (Ok(left), Reference::Incomplete) => assert_eq!(*left, rest.len()),
        (
            Ok(left),
            Reference::Valid {
                header_len, len, ..
            },
        ) => {
            assert_eq!(*left, rest.len());
            assert!(
                (rest.len() as u64) < header_len as u64 + len,
                "complete frame left undecoded"
            );
        }
        (end, reference) => panic!("decoder ended with {end:?}, reference says {reference:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let limit = LIMITS[usize::from(flags >> 1) & 7];
    let input = Chunked::parse(rest);

    let whole = decode_pieces(role, limit, &[input.stream]);
    let pieces = decode_pieces(role, limit, &input.pieces());
    assert_eq!(whole, pieces, "result depends on how the stream was split");
    check_against_reference(input.stream, role, limit, &whole);
});
