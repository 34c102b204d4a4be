//! Caps on the size of an HTTP head, so that a peer cannot make us buffer or parse without bound.

/// Byte and header-field caps on an HTTP head (request or response).
///
/// The head is everything up to and including the empty line that ends it. A head larger than
/// [`max_head_bytes`](Self::max_head_bytes), or one with more than
/// [`max_headers`](Self::max_headers) header fields, is refused with
/// `431 Request Header Fields Too Large` on the server side and
/// [`HandshakeError::HeadTooLarge`](super::HandshakeError::HeadTooLarge) on the client side.
///
/// Default: 8192 bytes, 64 header fields — what browsers send in practice with room to spare.
/// `#[non_exhaustive]`: build it from [`HeadLimits::default`] and the `with_*` setters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadLimits {
    /// Largest head accepted, in bytes, counting the terminating empty line.
    pub max_head_bytes: usize,
    /// Largest number of header fields accepted.
    pub max_headers: usize,
}

impl HeadLimits {
    /// Default cap on the head size in bytes.
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 8192;
    /// Default cap on the number of header fields.
    pub const DEFAULT_MAX_HEADERS: usize = 64;

    /// Sets the largest head accepted, in bytes, counting the terminating empty line.
    #[must_use]
    pub fn with_max_head_bytes(mut self, max_head_bytes: usize) -> Self {
        self.max_head_bytes = max_head_bytes;
        self
    }

    /// Sets the largest number of header fields accepted.
    #[must_use]
    pub fn with_max_headers(mut self, max_headers: usize) -> Self {
        self.max_headers = max_headers;
        self
    }
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_are_8192_bytes_and_64_headers() {
        let limits = HeadLimits::default();
        assert_eq!(limits.max_head_bytes, 8192);
        assert_eq!(limits.max_headers, 64);
    }

    #[test]
    fn setters_change_only_their_field() {
        let limits = HeadLimits::default().with_max_head_bytes(100);
        assert_eq!((limits.max_head_bytes, limits.max_headers), (100, 64));
        let limits = HeadLimits::default().with_max_headers(3);
        assert_eq!((limits.max_head_bytes, limits.max_headers), (8192, 3));
    }
}
