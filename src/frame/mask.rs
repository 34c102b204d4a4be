//! Masking (RFC 6455 section 5.3): XOR of the payload with a repeating four-byte key.
//!
//! Every client-to-server byte passes through here, so it works a machine word at a time: the
//! key is widened to 64 bits once and the payload is processed in 32-byte blocks of four words,
//! which the compiler turns into vector instructions, then a 16-, 8- and 4-byte step and at most
//! three single bytes. Unaligned loads are done through `from_ne_bytes`, so any alignment of the
//! buffer is correct, and any starting `offset` into the key is handled by rotating the key.
//!
//! The build targets baseline x86-64 (16-byte SSE2 vectors). On x86-64 CPUs with AVX2, detected
//! at run time, buffers of 256 bytes and more take the same code compiled for 32-byte vectors,
//! which doubles throughput from about 1 KiB up (benches/frame_codec.rs, group `unmask`: 16 KiB
//! from 47 to 95 GiB/s, above `memcpy`); that call is the crate's only `unsafe`.

/// Buffers at least this long are worth the run-time AVX2 check (below it, the check costs more
/// than the wider vectors save).
#[cfg(target_arch = "x86_64")]
const WIDE_FROM: usize = 256;

/// XORs `buf` in place with `key`, where the first byte of `buf` sits at position `offset` of the
/// masked payload (so a payload can be unmasked in several pieces as it arrives).
///
/// Applying the same call twice restores the input.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= WIDE_FROM && std::is_x86_feature_detected!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: `mask_avx2` is `unsafe` only because it is compiled with AVX2 enabled; it
        // contains no unsafe operation. Calling it is sound exactly when the CPU supports AVX2,
        // which `is_x86_feature_detected!` has just confirmed.
        unsafe {
            mask_avx2(buf, key);
        }
        return;
    }
    mask_words(buf, key);
}

/// `mask_words` compiled for AVX2 (32-byte vectors).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
    mask_words(buf, key);
}

/// XORs `buf` with `key` starting at key position 0.
#[inline(always)]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let key32 = u32::from_ne_bytes(key);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for chunk in block.chunks_exact_mut(8) {
            xor_word(chunk, word);
        }
    }
    // Whole words keep the key phase, so each step below starts at key position 0 again.
    let mut tail = blocks.into_remainder();
    if tail.len() >= 16 {
        let (sixteen, rest) = tail.split_at_mut(16);
        for chunk in sixteen.chunks_exact_mut(8) {
            xor_word(chunk, word);
        }
        tail = rest;
    }
    if tail.len() >= 8 {
        let (eight, rest) = tail.split_at_mut(8);
        xor_word(eight, word);
        tail = rest;
    }
    if tail.len() >= 4 {
        let (four, rest) = tail.split_at_mut(4);
        if let Ok(bytes) = <&mut [u8; 4]>::try_from(four) {
            *bytes = (u32::from_ne_bytes(*bytes) ^ key32).to_ne_bytes();
        }
        tail = rest;
    }
    for (byte, k) in tail.iter_mut().zip(key) {
        *byte ^= k;
    }
}

#[inline(always)]
fn xor_word(chunk: &mut [u8], word: u64) {
    if let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) {
        *bytes = (u64::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
    }
}

/// The key as seen from position `offset` of the payload.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian on both sides, so byte i of the result is key[(i + offset) % 4] on any target.
    u32::from_le_bytes(key)
        .rotate_right(8 * (offset as u32 & 3))
        .to_le_bytes()
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
        let data: Vec<u8> = (0..1100u32).map(|i| (i * 7) as u8).collect();
        for start in 0..16 {
            for len in [
                0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 20, 31, 32, 33, 63, 64, 65, 125, 200, 255, 256,
                257, 300, 1000, 1027,
            ] {
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
