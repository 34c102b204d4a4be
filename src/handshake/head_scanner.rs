//! Incremental detection of the end of an HTTP head (the empty line, `\r\n\r\n`).
//!
//! httparse re-parses from byte 0 on every call, so feeding it a head that arrives one byte at a
//! time costs O(n²). The scanner instead remembers how far it has looked and examines each byte a
//! bounded number of times (a terminator split across reads is found by resuming 3 bytes back), so
//! the whole head costs O(n); the head is handed to httparse once, when it is complete.

/// The empty line that ends an HTTP head.
const TERMINATOR: &[u8; 4] = b"\r\n\r\n";

/// What the scanner knows about the head at the start of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadStatus {
    /// No terminator yet, and the buffer is still within the byte limit: read more.
    Incomplete,
    /// The head would be longer than the byte limit.
    TooLarge,
    /// The head is complete; it is this many bytes long, terminator included.
    Complete(usize),
}

/// Remembers how much of the buffer has been searched for the terminator.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadScanner {
    /// Bytes at the start of the buffer already searched (terminator not among them).
    scanned: usize,
    /// Total bytes examined over the scanner's life, to pin the O(n) guarantee in tests.
    #[cfg(test)]
    examined: usize,
}

impl HeadScanner {
    /// Searches the bytes of `buffer` not searched before for the end of the head.
    ///
    /// Only the first `max_head_bytes` bytes can hold a head; the rest of the buffer is never
    /// examined, so one large read costs no more than the limit. The buffer must only have grown
    /// (bytes appended) since the previous call.
    pub(crate) fn poll(&mut self, buffer: &[u8], max_head_bytes: usize) -> HeadStatus {
        let window_end = buffer.len().min(max_head_bytes);
        let start = self
            .scanned
            .saturating_sub(TERMINATOR.len() - 1)
            .min(window_end);
        let window = buffer.get(start..window_end).unwrap_or_default();
        #[cfg(test)]
        {
            self.examined += window.len();
        }
        if let Some(at) = window
            .windows(TERMINATOR.len())
            .position(|w| w == TERMINATOR)
        {
            return HeadStatus::Complete(start + at + TERMINATOR.len());
        }
        self.scanned = window_end;
        if buffer.len() > max_head_bytes {
            HeadStatus::TooLarge
        } else {
            HeadStatus::Incomplete
        }
    }

    /// Total bytes examined so far.
    #[cfg(test)]
    pub(crate) fn examined(&self) -> usize {
        self.examined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_terminator_in_one_buffer() {
        let mut scanner = HeadScanner::default();
        assert_eq!(
            scanner.poll(b"GET / HTTP/1.1\r\n\r\nrest", 100),
            HeadStatus::Complete(18)
        );
    }

    #[test]
    fn finds_terminator_split_at_every_point() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for split in 0..head.len() {
            let mut scanner = HeadScanner::default();
            let first = scanner.poll(&head[..split], 100);
            if first == HeadStatus::Incomplete {
                assert_eq!(scanner.poll(head, 100), HeadStatus::Complete(head.len()));
            } else {
                assert_eq!(first, HeadStatus::Complete(head.len()));
            }
        }
    }

    #[test]
    fn byte_at_a_time_examines_each_byte_a_bounded_number_of_times() {
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.resize(8000, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        let mut scanner = HeadScanner::default();
        for end in 1..=head.len() {
            let status = scanner.poll(&head[..end], 9000);
            assert_eq!(
                status == HeadStatus::Complete(head.len()),
                end == head.len()
            );
        }
        assert!(
            scanner.examined() <= 4 * head.len(),
            "{}",
            scanner.examined()
        );
    }

    #[test]
    fn too_large_once_buffer_exceeds_limit_without_terminator() {
        let mut scanner = HeadScanner::default();
        assert_eq!(scanner.poll(&[b'a'; 10], 10), HeadStatus::Incomplete);
        assert_eq!(scanner.poll(&[b'a'; 11], 10), HeadStatus::TooLarge);
    }

    #[test]
    fn terminator_ending_past_the_limit_is_too_large() {
        let mut scanner = HeadScanner::default();
        assert_eq!(scanner.poll(b"abcdef\r\n\r\n", 9), HeadStatus::TooLarge);
        let mut scanner = HeadScanner::default();
        assert_eq!(
            scanner.poll(b"abcdef\r\n\r\n", 10),
            HeadStatus::Complete(10)
        );
    }

    #[test]
    fn bare_lf_lines_are_not_a_terminator() {
        let mut scanner = HeadScanner::default();
        assert_eq!(
            scanner.poll(b"GET / HTTP/1.1\n\n", 100),
            HeadStatus::Incomplete
        );
    }
}
