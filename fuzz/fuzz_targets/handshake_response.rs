//! Client-side reading and validation of the server's opening handshake response, on arbitrary
//! bytes fed in arbitrary pieces; optionally also the `ws://` URL the request is built from.
//!
//! Input: `[flags] [chunking (see wschat_fuzz::Chunked)] [stream]`. Flags: bit 0 offers the
//! subprotocols `chat, superchat`; bit 1 picks small head limits (128 bytes, 3 fields); bit 2
//! takes the URL from the stream, up to its first `\n`. Every `{A}` in the response is replaced by
//! the accept value matching the request's random key, so the fuzzer can reach the checks after
//! the accept key.
//!
//! Asserts: any URL that `ClientRequest::from_url` accepts yields a request our own server side
//! reads and validates, with the URL's resource name; the same response or error whatever the
//! split; a failed reader keeps failing; an accepted response is a head within the limit that
//! ends with the empty line, answers with our accept key, selects only an offered subprotocol,
//! and leaves the bytes after it for `take_remaining`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wschat::handshake::{
    accept_key, ClientRequest, HandshakeError, HeadLimits, RequestReader, ResponseReader,
    UpgradeResponse,
};
use wschat_fuzz::Chunked;

#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted(UpgradeResponse, Vec<u8>),
    Failed(HandshakeError),
    Incomplete,
}

fn read(limits: HeadLimits, request: &ClientRequest, pieces: &[&[u8]]) -> Outcome {
    let mut reader = ResponseReader::new(limits);
    for (i, piece) in pieces.iter().enumerate() {
        match reader.feed(piece, request) {
            Ok(None) => {}
            Ok(Some(response)) => {
                let mut remaining = reader.take_remaining().to_vec();
                for later in &pieces[i + 1..] {
                    remaining.extend_from_slice(later);
                }
                assert_eq!(reader.poll_response(request), Ok(None));
                return Outcome::Accepted(response, remaining);
            }
            Err(error) => {
                assert_eq!(reader.poll_response(request), Err(error.clone()));
                assert_eq!(reader.feed(b"more", request), Err(error.clone()));
                let _ = error.to_string();
                return Outcome::Failed(error);
            }
        }
    }
    Outcome::Incomplete
}

/// A request built by our client must be one our server accepts.
fn check_request_round_trip(request: &ClientRequest) {
    let bytes = request.to_bytes();
    let limits = HeadLimits::default().with_max_head_bytes(bytes.len());
    let parsed = RequestReader::new(limits)
        .feed(&bytes)
        .expect("our server reads our client's request")
        .expect("the request is one complete head");
    assert_eq!(parsed.target(), request.resource_name());
    let upgrade = parsed
        .validate_upgrade()
        .expect("our server accepts our client's upgrade");
    assert_eq!(upgrade.key(), request.key());
    let host = parsed.header_str("host").expect("Host is sent");
    assert!(host.contains(request.host().trim_start_matches('[').trim_end_matches(']')));
}

fn replace_placeholder(stream: &[u8], accept: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(stream.len() + 32);
    let mut rest = stream;
    while let Some(at) = rest.windows(3).position(|w| w == b"{A}") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(accept.as_bytes());
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (url, rest) = if flags & 4 != 0 {
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &[][..]),
        }
    } else {
        (&b"ws://example.com:9001/chat?room=1"[..], rest)
    };
    let Ok(url) = std::str::from_utf8(url) else {
        return;
    };
    let Ok(mut request) = ClientRequest::from_url(url) else {
        return;
    };
    if flags & 1 != 0 {
        request = request.with_protocols(&["chat", "superchat"]);
    }
    check_request_round_trip(&request);

    let limits = if flags & 2 != 0 {
        HeadLimits::default()
            .with_max_head_bytes(128)
            .with_max_headers(3)
    } else {
        HeadLimits::default()
    };
    let accept = accept_key(request.key().as_bytes());
    // The chunking header is read from the input as is; the placeholder is replaced in the
    // stream after it.
    let chunked = Chunked::parse(rest);
    let sizes_len = rest.len() - chunked.stream.len();
    let mut substituted = rest[..sizes_len].to_vec();
    substituted.extend_from_slice(&replace_placeholder(chunked.stream, &accept));
    let input = Chunked::parse(&substituted);
    let stream = input.stream;

    let whole = read(limits, &request, &[stream]);
    let pieces = read(limits, &request, &input.pieces());
    assert_eq!(whole, pieces, "result depends on how the stream was split");
    match whole {
        Outcome::Accepted(response, remaining) => {
            let head_len = stream.len() - remaining.len();
            assert!(head_len <= limits.max_head_bytes);
            let head = &stream[..head_len];
            assert!(head.ends_with(b"\r\n\r\n"));
            assert_eq!(&stream[head_len..], &remaining[..]);
            let sent_accept = response.header_str("sec-websocket-accept").map(str::trim);
            assert_eq!(sent_accept, Some(accept.as_str()));
            if let Some(protocol) = response.protocol() {
                assert!(request.protocols().any(|offered| offered == protocol));
            }
            assert!(response.headers().count() <= limits.max_headers);
        }
        Outcome::Failed(_) => {}
        Outcome::Incomplete => {
            assert!(stream.len() <= limits.max_head_bytes);
            assert!(!stream.windows(4).any(|w| w == b"\r\n\r\n"));
        }
    }
});
