//! Server-side reading and validation of the opening handshake request, on arbitrary bytes fed
//! in arbitrary pieces.
//!
//! Input: `[flags] [chunking (see wschat_fuzz::Chunked)] [stream]`; flags bits 0-1 pick the
//! head limits (default, 64 bytes, 2 header fields, both).
//!
//! Asserts: the same request or refusal whatever the split; a refused reader keeps refusing; an
//! accepted head is at most `max_head_bytes`, ends with the empty line, and the bytes after it
//! come back untouched from `take_remaining`; every refusal and every 101 we would send is a
//! well-formed HTTP response (httparse reads it back whole, with the right status, accept key
//! and body length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wschat::handshake::{accept_key, HeadLimits, Rejection, Request, RequestReader};
use wschat_fuzz::Chunked;

/// The response parsed back by httparse: status and header fields, body length.
fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, Vec<u8>)>, usize) {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        other => panic!("we would send a malformed response ({other:?}): {bytes:?}"),
    };
    let status = response.code.expect("complete response has a status");
    let fields = response
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    (status, fields, bytes.len() - head_len)
}

fn field<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

fn check_rejection(rejection: &Rejection) {
    let bytes = rejection.to_bytes();
    let (status, fields, body_len) = parse_response(&bytes);
    assert_eq!(status, rejection.status());
    assert!((400..600).contains(&status));
    let length = field(&fields, "content-length").expect("content-length");
    assert_eq!(length, body_len.to_string().as_bytes());
    assert_eq!(body_len, rejection.reason().len());
}

fn exercise_request(request: &Request) {
    let _ = (
        request.method(),
        request.target(),
        request.path(),
        request.query(),
    );
    let _ = (
        request.version(),
        request.origin(),
        request.is_websocket_upgrade(),
    );
    for (name, value) in request.headers() {
        assert!(request.header(name).is_some());
        let _ = value;
    }
    let _ = request.offered_protocols().count();
    match request.validate_upgrade() {
        Ok(upgrade) => {
            assert!(request.is_websocket_upgrade());
            let protocol = upgrade.select_protocol(&["chat", "superchat"]);
            if let Some(protocol) = protocol {
                assert!(request.offered_protocols().any(|p| p == protocol));
            }
            let bytes = upgrade.accept_response(protocol);
            let (status, fields, body_len) = parse_response(&bytes);
            assert_eq!((status, body_len), (101, 0));
            let expected = accept_key(upgrade.key().as_bytes());
            assert_eq!(
                field(&fields, "sec-websocket-accept"),
                Some(expected.as_bytes())
            );
            assert_eq!(
                field(&fields, "sec-websocket-protocol"),
                protocol.map(str::as_bytes)
            );
        }
        Err(rejection) => check_rejection(&rejection),
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Request(Request, Vec<u8>),
    Refused(Rejection),
    Incomplete,
}

fn read(limits: HeadLimits, pieces: &[&[u8]]) -> Outcome {
    let mut reader = RequestReader::new(limits);
    for (i, piece) in pieces.iter().enumerate() {
        match reader.feed(piece) {
            Ok(None) => {}
            Ok(Some(request)) => {
                // The rest of the stream belongs to the WebSocket connection.
                let mut remaining = reader.take_remaining().to_vec();
                for later in &pieces[i + 1..] {
                    remaining.extend_from_slice(later);
                }
                assert_eq!(reader.poll_head(), Ok(None), "a reader reads one head");
                return Outcome::Request(request, remaining);
            }
            Err(rejection) => {
                assert_eq!(reader.poll_head(), Err(rejection.clone()));
                assert_eq!(reader.feed(b"more"), Err(rejection.clone()));
                return Outcome::Refused(rejection);
            }
        }
    }
    Outcome::Incomplete
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut limits = HeadLimits::default();
    if flags & 1 != 0 {
        limits = limits.with_max_head_bytes(64);
    }
    if flags & 2 != 0 {
        limits = limits.with_max_headers(2);
    }
    let input = Chunked::parse(rest);
    let stream = input.stream;

    let whole = read(limits, &[stream]);
    let pieces = read(limits, &input.pieces());
    assert_eq!(whole, pieces, "result depends on how the stream was split");
    match whole {
        Outcome::Request(request, remaining) => {
            let head_len = stream.len() - remaining.len();
            assert!(head_len <= limits.max_head_bytes);
            assert!(stream[..head_len].ends_with(b"\r\n\r\n"));
            assert_eq!(&stream[head_len..], &remaining[..]);
            exercise_request(&request);
        }
        Outcome::Refused(rejection) => check_rejection(&rejection),
        Outcome::Incomplete => {
            assert!(stream.len() <= limits.max_head_bytes);
            assert!(!stream.windows(4).any(|w| w == b"\r\n\r\n"));
        }
    }
});
