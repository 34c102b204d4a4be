//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A text message may be split across frames and TCP reads at any byte, including inside a code
//! point. The validator keeps at most three bytes of an unfinished code point between pieces, and
//! reports an invalid sequence as soon as the bytes that prove it are fed: the connection can then
//! fail with 1007 before the rest of the frame arrives (what makes Autobahn 6.4.x "strict").
//!
//! The bulk of each piece is checked by `simdutf8` (runtime-selected SIMD, portable builds), whose
//! error reporting matches `std::str::from_utf8`: an error without an `error_len` is a truncated
//! but so far valid sequence at the end of the piece. Short pieces go to an ASCII test and `std`.

use crate::error::ProtocolError;

/// Pieces at least this long are checked with SIMD; shorter ones with an ASCII test first, then
/// `std` (benches/frame_codec.rs, group `utf8`: SIMD loses below a few hundred bytes).
const SIMD_FROM: usize = 256;

/// Whether every byte is below 0x80: ORs whole words together (no early exit, so the loop
/// vectorizes), which beats `<[u8]>::is_ascii` on short inputs.
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut seen = 0u64;
    for word in &mut words {
        if let Ok(word) = <[u8; 8]>::try_from(word) {
            seen |= u64::from_ne_bytes(word);
        }
    }
    for byte in words.remainder() {
        seen |= u64::from(*byte);
    }
    seen & 0x8080_8080_8080_8080 == 0
}

/// Validation state carried from one piece of a text message to the next.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece of the message.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidUtf8`] as soon as the bytes seen so far cannot be the prefix of
    /// valid UTF-8.
    #[inline]
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ProtocolError> {
        if self.partial_len > 0 {
            bytes = self.complete_partial(bytes)?;
            if self.partial_len > 0 {
                return Ok(());
            }
        }
        // Short pieces: SIMD set-up costs more than it saves, and most short text is ASCII.
        let checked = if bytes.len() < SIMD_FROM {
            if is_ascii(bytes) {
                return Ok(());
            }
            std::str::from_utf8(bytes)
                .map(drop)
                .map_err(|e| (e.valid_up_to(), e.error_len()))
        } else {
            simdutf8::compat::from_utf8(bytes)
                .map(drop)
                .map_err(|e| (e.valid_up_to(), e.error_len()))
        };
        match checked {
            Ok(()) => Ok(()),
            Err((valid_up_to, None)) => {
                let tail = bytes.get(valid_up_to..).unwrap_or_default();
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }

    /// Moves bytes from `bytes` into the unfinished code point until it is complete (or `bytes`
    /// runs out), and returns the rest of `bytes`.
    fn complete_partial<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a [u8], ProtocolError> {
        let have = usize::from(self.partial_len);
        let width = match self.partial[0] {
            0xF0..=0xF7 => 4,
            0xE0..=0xEF => 3,
            _ => 2,
        };
        let take = (width - have).min(bytes.len());
        self.partial[have..have + take].copy_from_slice(&bytes[..take]);
        let have = have + take;
        match simdutf8::compat::from_utf8(&self.partial[..have]) {
            Ok(_) => self.partial_len = 0,
            Err(e) if e.error_len().is_none() => self.partial_len = have as u8,
            Err(_) => return Err(ProtocolError::InvalidUtf8),
        }
        Ok(&bytes[take..])
    }

    /// Ends the message.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidUtf8`] when the message stops inside a code point.
    #[inline]
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        let complete = self.partial_len == 0;
        *self = Self::default();
        if complete {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<(), usize> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();
        let mut validator = Utf8Validator::new();
        for pair in cuts.windows(2) {
            if validator.feed(&bytes[pair[0]..pair[1]]).is_err() {
                return Err(pair[1]);
            }
        }
        validator.finish().map_err(|_| bytes.len())
    }

    #[test]
    fn code_point_split_at_every_byte_is_valid() {
        let text = "aé€𝄞z".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(validate_in_pieces(text, &[a, b]), Ok(()), "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn invalid_byte_fails_before_the_message_ends() {
        // Autobahn 6.4.1: the invalid sequence is proven by its fourth byte, mid-message.
        let mut validator = Utf8Validator::new();
        assert!(validator.feed("κόσμε".as_bytes()).is_ok());
        assert!(validator.feed(&[0xf4, 0x90]).is_err());
    }

    #[test]
    fn truncated_code_point_at_end_is_invalid() {
        let mut validator = Utf8Validator::new();
        assert!(validator.feed(&[0xe2, 0x82]).is_ok());
        assert!(validator.finish().is_err());
    }

    #[test]
    fn overlong_and_surrogate_prefixes_fail_immediately() {
        for bad in [
            &[0xe0, 0x80][..],
            &[0xed, 0xa0],
            &[0xc0],
            &[0xf5],
            &[0xf0, 0x8f],
        ] {
            let mut validator = Utf8Validator::new();
            let fed_one_by_one = bad.iter().try_for_each(|b| validator.feed(&[*b]));
            assert!(fed_one_by_one.is_err(), "{bad:x?}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_std_for_arbitrary_bytes_and_cuts(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), 0x80u8..0xc0, Just(b'a')], 0..200),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let ours = validate_in_pieces(&bytes, &cuts);
            prop_assert_eq!(ours.is_ok(), std::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn valid_strings_pass_for_every_chunking(text in "\\PC{0,64}", cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            prop_assert_eq!(validate_in_pieces(text.as_bytes(), &cuts), Ok(()));
        }

        #[test]
        fn failure_is_reported_no_later_than_the_proving_byte(
            bytes in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            // Feeding byte by byte, the first failure is exactly where std stops accepting the prefix.
            let mut validator = Utf8Validator::new();
            for (i, b) in bytes.iter().enumerate() {
                let fed = validator.feed(&[*b]);
                let prefix_ok = match std::str::from_utf8(&bytes[..=i]) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                };
                prop_assert_eq!(fed.is_ok(), prefix_ok, "byte {}", i);
                if fed.is_err() { break; }
            }
        }
    }
}
