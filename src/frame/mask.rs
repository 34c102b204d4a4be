//! Masking (RFC 6455 section 5.3): XOR of the payload with a repeating four-byte key.
//!
//! Every client-to-server byte passes through here, so it works a machine word at a time: the
//! key is widened to 64 bits once and the payload is processed in 32-byte blocks of four words,
//! which the compiler turns into vector instructions on any target without `unsafe` or
//! `target-cpu=native`. Unaligned loads are done through `from_ne_bytes`, so any alignment of the
//! buffer is correct, and any starting `offset` into the key is handled by rotating the key.

/// XORs `buf` in place with `key`, where the first byte of `buf` sits at position `offset` of the
/// masked payload (so a payload can be unmasked in several pieces as it arrives).
///
/// Applying the same call twice restores the input.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    if buf.len() < 8 {
        apply_mask_bytewise(buf, key);
        return;
    }
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for chunk in block.chunks_exact_mut(8) {
            xor_word(chunk, word);
        }
    }
    let rest = blocks.into_remainder();
    let mut words = rest.chunks_exact_mut(8);
    for chunk in &mut words {
        xor_word(chunk, word);
    }
    // Whole words keep the key phase, so the tail starts at key position 0 again.
    apply_mask_bytewise(words.into_remainder(), key);
}

#[inline(always)]
fn xor_word(chunk: &mut [u8], word: u64) {
    if let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) {
        *bytes = (u64::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
    }
}

#[inline]
fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// The key as seen from position `offset` of the payload.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut rotated = key;
    rotated.rotate_left(offset & 3);
    rotated
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_example_hello_masked() {
        // RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn matches_bytewise_reference_for_every_alignment_and_offset() {
        let key = [0x11, 0x22, 0x44, 0x88];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for start in 0..16 {
            for len in [0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 200] {
                for offset in 0..8 {
                    let mut ours = data[start..start + len].to_vec();
                    let mut reference = ours.clone();
                    apply_mask(&mut ours, key, offset);
                    reference_mask(&mut reference, key, offset);
                    assert_eq!(ours, reference, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn masking_twice_is_identity(data in proptest::collection::vec(any::<u8>(), 0..2048),
                                     key in any::<[u8; 4]>(), offset in 0usize..64, start in 0usize..8) {
            let start = start.min(data.len());
            let mut buf = data.clone();
            apply_mask(&mut buf[start..], key, offset);
            apply_mask(&mut buf[start..], key, offset);
            prop_assert_eq!(buf, data);
        }

        #[test]
        fn masking_in_pieces_equals_masking_whole(data in proptest::collection::vec(any::<u8>(), 0..1024),
                                                  key in any::<[u8; 4]>(), cuts in proptest::collection::vec(0usize..1024, 0..6)) {
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut pieces = data.clone();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            for pair in cuts.windows(2) {
                apply_mask(&mut pieces[pair[0]..pair[1]], key, pair[0]);
            }
            prop_assert_eq!(pieces, whole);
        }
    }
}
