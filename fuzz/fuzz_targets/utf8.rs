//! `Utf8Validator` against `std::str::from_utf8`, differential, for every split of the input.
//!
//! Input: `[chunking (see wschat_fuzz::Chunked)] [bytes]`.
//!
//! Asserts: after each piece, the validator accepts exactly when the bytes so far are valid
//! UTF-8 or a valid prefix of it (std reports no `error_len`), so an invalid sequence is
//! reported by the piece holding the byte that proves it, never earlier and never later;
//! `finish` accepts exactly what std accepts; a finished validator starts afresh; `Text` agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wschat::protocol::{Text, Utf8Validator};
use wschat_fuzz::Chunked;

fn prefix_can_be_valid(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Chunked::parse(data);
    let stream = input.stream;
    let valid = std::str::from_utf8(stream).is_ok();

    let mut validator = Utf8Validator::new();
    let mut seen = 0;
    let mut failed = false;
    for piece in input.pieces() {
        seen += piece.len();
        let accepted = validator.feed(piece).is_ok();
        assert_eq!(
            accepted,
            prefix_can_be_valid(&stream[..seen]),
            "after {seen} of {} bytes",
            stream.len()
        );
        if !accepted {
            failed = true;
            break;
        }
    }
    if !failed {
        assert_eq!(validator.finish().is_ok(), valid);
        // A finished validator (even one that failed to finish) starts afresh.
        assert!(validator.feed(b"fresh \xE2\x82\xAC").is_ok());
        assert!(validator.finish().is_ok());
    }

    let mut whole = Utf8Validator::new();
    let whole_ok = whole.feed(stream).is_ok() && whole.finish().is_ok();
    assert_eq!(whole_ok, valid);
    assert_eq!(
        Text::from_utf8(bytes::Bytes::copy_from_slice(stream)).is_some(),
        valid
    );
});
