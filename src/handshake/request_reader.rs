//! Incremental reading of an HTTP request head on the server side, sans-IO.

use bytes::{Buf as _, BytesMut};

use super::head_scanner::{HeadScanner, HeadStatus};
use super::{HeadLimits, Rejection, Request};

/// Reads one HTTP request head from bytes as they arrive.
///
/// The IO layer appends what it reads to [`RequestReader::buffer_mut`] and calls
/// [`RequestReader::poll_head`] until it yields the [`Request`] or a [`Rejection`] to write back.
/// Each byte is scanned a bounded number of times and the head is parsed once, when complete, so
/// a head trickling in one byte at a time costs O(n). The buffer never needs to hold more than
/// `max_head_bytes` plus one read: past that without an end of head, the request is refused.
///
/// A reader reads one head. Bytes after it (a pipelined first WebSocket frame) stay in the
/// buffer for [`RequestReader::take_remaining`]; once the head has been returned, `poll_head`
/// only answers `Ok(None)`.
#[derive(Debug)]
pub struct RequestReader {
    limits: HeadLimits,
    buffer: BytesMut,
    scanner: HeadScanner,
    state: State,
}

/// Where the reader is in its single head.
#[derive(Debug)]
enum State {
    Reading,
    Done,
    Refused(Rejection),
}

impl RequestReader {
    /// A reader enforcing `limits`.
    #[must_use]
    pub fn new(limits: HeadLimits) -> Self {
        Self {
            limits,
            buffer: BytesMut::new(),
            scanner: HeadScanner::default(),
            state: State::Reading,
        }
    }

    /// The buffer the IO layer reads into directly. Only append to it (then call
    /// [`RequestReader::poll_head`]); bytes already there must not be changed or removed.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Looks for a complete head in the buffer.
    ///
    /// Returns `Ok(None)` when more bytes are needed (and after the head has been returned), and
    /// the parsed [`Request`] once the empty line ending the head has arrived. It accepts HTTP/1.0
    /// as well as HTTP/1.1 and does not check WebSocket rules: that is
    /// [`Request::validate_upgrade`]'s job.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] to send before closing: 431 as soon as the buffer holds more than
    /// `max_head_bytes` without an end of head or the head has more than `max_headers` fields;
    /// 400 for a head that is not HTTP. Once refused, the reader repeats the same refusal.
    pub fn poll_head(&mut self) -> Result<Option<Request>, Rejection> {
        match &self.state {
            State::Reading => {}
            State::Done => return Ok(None),
            State::Refused(rejection) => return Err(rejection.clone()),
        }
        let result = match self.scanner.poll(&self.buffer, self.limits.max_head_bytes) {
            HeadStatus::Incomplete => return Ok(None),
            HeadStatus::TooLarge => Err(Rejection::new(
                431,
                format!(
                    "the request head is larger than {} bytes",
                    self.limits.max_head_bytes
                ),
            )),
            HeadStatus::Complete(len) => {
                let head = self.buffer.get(..len).unwrap_or_default();
                Request::parse(head, self.limits.max_headers).map(|request| (request, len))
            }
        };
        match result {
            Ok((request, len)) => {
                self.buffer.advance(len);
                self.state = State::Done;
                Ok(Some(request))
            }
            Err(rejection) => {
                self.state = State::Refused(rejection.clone());
                Err(rejection)
            }
        }
    }

    /// Appends `data` to the buffer, then [`polls`](RequestReader::poll_head). For tests,
    /// fuzzers and callers that do not read into the buffer directly.
    ///
    /// # Errors
    ///
    /// As [`RequestReader::poll_head`]. A refused reader does not buffer `data`.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Request>, Rejection> {
        if let State::Refused(rejection) = &self.state {
            return Err(rejection.clone());
        }
        self.buffer.extend_from_slice(data);
        self.poll_head()
    }

    /// Takes the bytes buffered after the head: the start of the WebSocket stream, which the
    /// client may send before it sees the 101. Before the head is complete this is the partial
    /// head, so call it only once [`RequestReader::poll_head`] has returned the request.
    pub fn take_remaining(&mut self) -> BytesMut {
        std::mem::take(&mut self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &[u8] =
        b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn read_whole(bytes: &[u8]) -> Result<Option<Request>, Rejection> {
        RequestReader::new(HeadLimits::default()).feed(bytes)
    }

    #[test]
    fn valid_request_fed_whole_is_parsed() {
        let request = read_whole(VALID).unwrap().unwrap();
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.header_str("host"), Some("example.com"));
    }

    #[test]
    fn valid_request_fed_byte_by_byte_is_parsed_once_complete() {
        let mut reader = RequestReader::new(HeadLimits::default());
        let (last, rest) = VALID.split_last().unwrap();
        for byte in rest {
            assert_eq!(reader.feed(&[*byte]), Ok(None));
        }
        let request = reader.feed(&[*last]).unwrap().unwrap();
        assert_eq!(Some(request), read_whole(VALID).unwrap());
    }

    #[test]
    fn valid_request_split_at_every_point_is_parsed() {
        let whole = read_whole(VALID).unwrap();
        for split in 0..=VALID.len() {
            let mut reader = RequestReader::new(HeadLimits::default());
            let first = reader.feed(&VALID[..split]).unwrap();
            let request = match first {
                Some(request) => request,
                None => reader.feed(&VALID[split..]).unwrap().unwrap(),
            };
            assert_eq!(Some(request), whole, "split at {split}");
        }
    }

    #[test]
    fn pipelined_bytes_after_the_head_are_returned_by_take_remaining() {
        let mut bytes = VALID.to_vec();
        bytes.extend_from_slice(b"\x81\x85frame\r\n\r\n");
        let mut reader = RequestReader::new(HeadLimits::default());
        assert!(reader.feed(&bytes).unwrap().is_some());
        assert_eq!(reader.feed(b"more"), Ok(None));
        assert_eq!(&reader.take_remaining()[..], b"\x81\x85frame\r\n\r\nmore");
    }

    #[test]
    fn head_larger_than_limit_is_431() {
        let mut head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        head.resize(9000, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(read_whole(&head).unwrap_err().status(), 431);
    }

    #[test]
    fn unterminated_head_is_431_as_soon_as_it_passes_the_limit() {
        let limits = HeadLimits::default().with_max_head_bytes(100);
        let mut reader = RequestReader::new(limits);
        assert_eq!(reader.feed(&[b'a'; 100]), Ok(None));
        assert_eq!(reader.feed(b"a").unwrap_err().status(), 431);
        assert_eq!(reader.feed(b"a").unwrap_err().status(), 431);
        assert_eq!(reader.buffer_mut().len(), 101);
    }

    #[test]
    fn sixty_five_header_fields_is_431() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..65 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert_eq!(read_whole(&head).unwrap_err().status(), 431);
        let sixty_four = head.len() - b"X-64: v\r\n".len() - 2;
        let mut head = head[..sixty_four].to_vec();
        head.extend_from_slice(b"\r\n");
        assert!(read_whole(&head).unwrap().is_some());
    }

    #[test]
    fn garbage_is_400() {
        let rejection = read_whole(b"\x00\x01\x02\x03\xff\r\n\r\n").unwrap_err();
        assert_eq!(rejection.status(), 400);
    }

    #[test]
    fn header_names_in_any_case_are_found() {
        let request = read_whole(
            b"GET / HTTP/1.1\r\nhOST: a\r\nSEC-WEBSOCKET-KEY: k\r\nsec-websocket-version: 13\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(request.header("Host"), Some(&b"a"[..]));
        assert_eq!(request.header_str("Sec-WebSocket-Key"), Some("k"));
        assert_eq!(request.header_str("SEC-WEBSOCKET-VERSION"), Some("13"));
    }

    #[test]
    fn http_1_0_is_parsed_for_validation_to_refuse() {
        let request = read_whole(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!(request.version(), 0);
    }

    #[test]
    fn eight_thousand_byte_head_fed_byte_by_byte_is_scanned_once() {
        let mut head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        head.resize(8000, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        let mut reader = RequestReader::new(HeadLimits::default());
        let started = std::time::Instant::now();
        let (last, rest) = head.split_last().unwrap();
        for byte in rest {
            assert_eq!(reader.feed(&[*byte]), Ok(None));
        }
        assert!(reader.feed(&[*last]).unwrap().is_some());
        assert!(reader.scanner.examined() <= 4 * head.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    /// Header fields that do not interfere with the fixed ones.
    fn extra_header() -> impl Strategy<Value = (String, String)> {
        ("X-[A-Za-z0-9-]{1,12}", "[!-~]([ -~]{0,30}[!-~])?")
    }

    /// A valid upgrade request head with random path, key and extra header fields.
    fn valid_request() -> impl Strategy<Value = Vec<u8>> {
        (
            "/[A-Za-z0-9._~%/-]{0,40}(\\?[A-Za-z0-9=&]{0,20})?",
            prop::array::uniform16(any::<u8>()),
            prop::collection::vec(extra_header(), 0..10),
        )
            .prop_map(|(path, key, extra)| {
                use base64::Engine as _;
                let key = base64::engine::general_purpose::STANDARD.encode(key);
                let mut head = format!(
                    "GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
                     Sec-WebSocket-Version: 13\r\n"
                );
                for (name, value) in extra {
                    head.push_str(&[name.as_str(), ": ", value.as_str(), "\r\n"].concat());
                }
                head.push_str("\r\n");
                head.into_bytes()
            })
    }

    /// Splits `bytes` at the sorted, deduplicated `cuts` (taken modulo the length).
    fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2)
            .map(|w| bytes[w[0]..w[1]].to_vec())
            .collect()
    }

    /// Starts for the arbitrary-bytes property, so that it reaches every outcome: no head,
    /// partial heads, and complete heads that validation refuses (400, 405, 426).
    const PREFIXES: &[&[u8]] = &[
        b"",
        b"GET / HTTP/1.1\r\n",
        b"POST /x HTTP/1.0\r\nHost: a\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"PUT / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
    ];

    proptest! {
        #[test]
        fn chunked_valid_request_parses_like_whole_and_keeps_trailing_bytes(
            head in valid_request(),
            trailing in prop::collection::vec(any::<u8>(), 0..64),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let whole = read_whole(&head).unwrap().unwrap();
            whole.validate_upgrade().unwrap();
            let mut stream = head.clone();
            stream.extend_from_slice(&trailing);
            let mut reader = RequestReader::new(HeadLimits::default());
            let mut parsed = None;
            for chunk in chunks(&stream, &cuts) {
                if let Some(request) = reader.feed(&chunk).unwrap() {
                    prop_assert!(parsed.is_none());
                    parsed = Some(request);
                }
            }
            prop_assert_eq!(parsed, Some(whole));
            prop_assert_eq!(&reader.take_remaining()[..], &trailing[..]);
        }

        #[test]
        fn arbitrary_chunked_bytes_never_panic_and_stay_bounded(
            bytes in prop::collection::vec(any::<u8>(), 0..2048),
            cuts in prop::collection::vec(any::<usize>(), 0..16),
            prefix in prop::sample::select(PREFIXES),
        ) {
            let limits = HeadLimits::default().with_max_head_bytes(512).with_max_headers(8);
            let mut stream = prefix.to_vec();
            stream.extend_from_slice(&bytes);
            let mut reader = RequestReader::new(limits);
            for chunk in chunks(&stream, &cuts) {
                match reader.feed(&chunk) {
                    Ok(None) => prop_assert!(reader.buffer_mut().len() <= 512 + chunk.len()),
                    Ok(Some(request)) => {
                        if let Err(rejection) = request.validate_upgrade() {
                            prop_assert!([400, 405, 426].contains(&rejection.status()));
                        }
                        break;
                    }
                    Err(rejection) => {
                        prop_assert!([400, 431].contains(&rejection.status()));
                        prop_assert!(reader.buffer_mut().len() <= 512 + chunk.len());
                        break;
                    }
                }
            }
        }
    }
}
