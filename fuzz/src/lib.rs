//! Shared input layout for the fuzz targets.
//!
//! Every target feeds its parser the same stream twice, whole and in pieces, and asserts that
//! both give the same result; the first bytes of a fuzz input choose the pieces, so libFuzzer
//! explores splits (a header cut in two, a code point cut in two) as freely as it explores the
//! bytes themselves.

/// A fuzz input split into a stream and the sizes of the pieces it is fed in.
///
/// Layout: `[n] [size_1 .. size_n] [stream ..]` where `n` is the first byte's low four bits.
/// The stream is fed in pieces of `size_1, size_2, .., size_n, size_1, ..` bytes (cyclically);
/// a size of 0 feeds an empty piece. With `n = 0`, or when every size is 0, the stream is one
/// piece.
#[derive(Clone, Copy, Debug)]
pub struct Chunked<'a> {
    /// The bytes the parser sees.
    pub stream: &'a [u8],
    sizes: &'a [u8],
}

impl<'a> Chunked<'a> {
    /// Splits `data` into piece sizes and stream (see the type's documentation).
    #[must_use]
    pub fn parse(data: &'a [u8]) -> Self {
        let Some((&first, rest)) = data.split_first() else {
            return Self {
                stream: &[],
                sizes: &[],
            };
        };
        let n = usize::from(first & 0x0F).min(rest.len());
        let (sizes, stream) = rest.split_at(n);
        let sizes = if sizes.iter().all(|&s| s == 0) {
            &[][..]
        } else {
            sizes
        };
        Self { stream, sizes }
    }

    /// The pieces, in order; their concatenation is [`Chunked::stream`]. Never empty.
    #[must_use]
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        if self.sizes.is_empty() {
            return vec![self.stream];
        }
        let mut pieces = Vec::new();
        let mut rest = self.stream;
        for &size in self.sizes.iter().cycle() {
            let (piece, tail) = rest.split_at(usize::from(size).min(rest.len()));
            pieces.push(piece);
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::Chunked;

    #[test]
    fn pieces_concatenate_to_the_stream() {
        let data = [3u8, 1, 0, 2, b'a', b'b', b'c', b'd', b'e', b'f'];
        let chunked = Chunked::parse(&data);
        assert_eq!(chunked.stream, b"abcdef");
        let pieces = chunked.pieces();
        assert_eq!(pieces, vec![&b"a"[..], b"", b"bc", b"d", b"", b"ef"]);
    }

    #[test]
    fn no_sizes_means_one_piece() {
        let chunked = Chunked::parse(&[0x20, b'x', b'y']);
        assert_eq!(chunked.pieces(), vec![&b"xy"[..]]);
        assert_eq!(Chunked::parse(&[]).pieces(), vec![&b""[..]]);
    }
}
