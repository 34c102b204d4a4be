//! The Autobahn TestSuite's case categories for our client: a scripted raw-socket server in the
//! test accepts the connection, answers the handshake by hand, sends unmasked hand-encoded frames
//! and asserts on the masked frames our client sends back. The client runs an echo loop (like
//! `examples/echo-client.rs`): it echoes every text and binary message until the connection ends.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wschat::handshake::ClientRequest;
use wschat::{Config, Message};

/// What the client's echo loop saw.
#[derive(Debug, Default)]
struct Outcome {
    /// Control messages (pings, pongs, close) in order.
    control: Vec<Message>,
    /// Errors reported by `recv`.
    errors: Vec<wschat::Error>,
}

impl Outcome {
    fn violation_code(&self) -> Option<u16> {
        self.errors.iter().find_map(|e| match e {
            wschat::Error::Protocol(violation) => Some(violation.close_code().as_u16()),
            _ => None,
        })
    }
}

async fn echo_client(url: String, config: Config) -> Outcome {
    let request = ClientRequest::from_url(&url).unwrap();
    let (mut ws, _) = wschat::ws::connect_with(request, config)
        .await
        .expect("handshake");
    let mut outcome = Outcome::default();
    // Keep receiving after an error: `recv` then completes the close and returns `None`.
    while let Some(message) = ws.recv().await {
        match message {
            Ok(message) if message.is_data() => {
                if let Err(e) = ws.feed(message).await {
                    outcome.errors.push(e);
                }
            }
            Ok(control) => outcome.control.push(control),
            Err(e) => outcome.errors.push(e),
        }
    }
    outcome
}

/// Starts our echo client against a scripted server; returns the server's end and the client.
async fn start_with(config: Config) -> (RawPeer, JoinHandle<Outcome>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/client", listener.local_addr().unwrap());
    let client = tokio::spawn(echo_client(url, config));
    let (server, _) = RawPeer::accept(&listener, None).await;
    (server, client)
}

async fn start() -> (RawPeer, JoinHandle<Outcome>) {
    start_with(echo_config()).await
}

/// The client's outcome once its task ends.
async fn outcome(client: JoinHandle<Outcome>) -> Outcome {
    within(client).await.expect("client task")
}

/// Reads a frame from the client, checks it is masked, and checks kind and payload.
async fn expect_masked(server: &mut RawPeer, opcode: u8, payload: &[u8]) {
    let frame = server.read_frame().await;
    assert!(frame.mask.is_some(), "client frame not masked");
    assert_eq!((frame.opcode, frame.fin, frame.rsv), (opcode, true, 0));
    assert!(
        frame.payload == payload,
        "payload differs ({} bytes, expected {})",
        frame.payload.len(),
        payload.len()
    );
}

/// The server closes with 1000; the client must echo it, wait for the server to close TCP, and
/// end cleanly.
async fn server_closes(mut server: RawPeer, client: JoinHandle<Outcome>) -> Outcome {
    server.send(CLOSE, &close_payload(1000, b"")).await;
    assert_eq!(server.expect_close().await, Some(1000));
    server.stream.shutdown().await.unwrap();
    server.expect_eof().await;
    let outcome = outcome(client).await;
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome
}

/// Sends `bytes` and expects the client to fail the connection with `code`.
async fn expect_client_failure(bytes: &[u8], code: u16) {
    let (mut server, client) = start().await;
    server.send_raw(bytes).await;
    server.expect_failure(code).await;
    assert_eq!(outcome(client).await.violation_code(), Some(code));
}

// ----- 1 framing --------------------------------------------------------------------------------

#[tokio::test]
async fn case_1_text_and_binary_of_boundary_lengths_are_echoed_masked() {
    let (mut server, client) = start().await;
    for len in [0usize, 125, 126, 127, 128, 65535, 65536] {
        server.send(TEXT, &ascii(len)).await;
        expect_masked(&mut server, 1, &ascii(len)).await;
        server.send(BINARY, &pattern(len)).await;
        expect_masked(&mut server, 2, &pattern(len)).await;
    }
    server_closes(server, client).await;
}

#[tokio::test]
async fn case_1_frames_in_one_byte_tcp_chunks_are_echoed() {
    let (mut server, client) = start().await;
    let frame = server.frame(TEXT, &ascii(300));
    server.send_chunked(&frame, 1).await;
    expect_masked(&mut server, 1, &ascii(300)).await;
    server_closes(server, client).await;
}

// ----- 2 ping/pong ------------------------------------------------------------------------------

#[tokio::test]
async fn case_2_ping_is_answered_with_a_masked_pong_of_the_same_payload() {
    let (mut server, client) = start().await;
    server.send(PING, b"").await;
    expect_masked(&mut server, 0xA, b"").await;
    server.send(PING, &[0xfe; 125]).await;
    expect_masked(&mut server, 0xA, &[0xfe; 125]).await;
    let outcome = server_closes(server, client).await;
    assert_eq!(outcome.control.len(), 3, "two pings and the close");
}

#[tokio::test]
async fn case_2_5_ping_with_126_byte_payload_fails_with_1002() {
    expect_client_failure(&encode(PING, &[0; 126], None), 1002).await;
}

#[tokio::test]
async fn case_2_9_unsolicited_pong_is_ignored_and_ping_answered() {
    let (mut server, client) = start().await;
    server.send(PONG, b"unsolicited").await;
    server.send(PING, b"ping payload").await;
    expect_masked(&mut server, 0xA, b"ping payload").await;
    server_closes(server, client).await;
}

#[tokio::test]
async fn case_2_10_ten_pings_get_ten_pongs() {
    let (mut server, client) = start().await;
    let mut bytes = Vec::new();
    for i in 0..10 {
        bytes.extend(encode(PING, format!("payload-{i}").as_bytes(), None));
    }
    server.send_chunked(&bytes, 1).await;
    for i in 0..10 {
        expect_masked(&mut server, 0xA, format!("payload-{i}").as_bytes()).await;
    }
    server_closes(server, client).await;
}

// ----- 3 reserved bits, 4 opcodes ---------------------------------------------------------------

#[tokio::test]
async fn case_3_reserved_bits_fail_with_1002_after_the_valid_text_is_echoed() {
    for rsv in 1..8u8 {
        let (mut server, client) = start().await;
        let mut bytes = encode(TEXT, b"Hello, world!", None);
        bytes.extend(encode(TEXT | rsv << 4, b"Hello, world!", None));
        server.send_raw(&bytes).await;
        expect_masked(&mut server, 1, b"Hello, world!").await;
        server.expect_failure(1002).await;
        assert_eq!(outcome(client).await.violation_code(), Some(1002));
    }
}

#[tokio::test]
async fn case_4_reserved_opcodes_fail_with_1002() {
    for opcode in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        expect_client_failure(&encode(0x80 | opcode, b"payload", None), 1002).await;
    }
}

// ----- 5 fragmentation --------------------------------------------------------------------------

#[tokio::test]
async fn case_5_fragmented_messages_are_reassembled_with_pings_between() {
    let (mut server, client) = start().await;
    let mut bytes = encode(0x01, b"fragment1", None);
    bytes.extend(encode(PING, b"between", None));
    bytes.extend(encode(0x00, b"fragment2", None));
    bytes.extend(encode(0x80, b"fragment3", None));
    bytes.extend(encode(0x02, &[1, 2], None));
    bytes.extend(encode(0x80, &[3], None));
    server.send_chunked(&bytes, 1).await;
    expect_masked(&mut server, 0xA, b"between").await;
    expect_masked(&mut server, 1, b"fragment1fragment2fragment3").await;
    expect_masked(&mut server, 2, &[1, 2, 3]).await;
    server_closes(server, client).await;
}

#[tokio::test]
async fn case_5_1_fragmented_ping_fails_with_1002() {
    let mut bytes = encode(0x09, b"fragment1", None);
    bytes.extend(encode(0x80, b"fragment2", None));
    expect_client_failure(&bytes, 1002).await;
}

#[tokio::test]
async fn case_5_9_continuation_without_start_fails_with_1002() {
    expect_client_failure(&encode(0x80, b"orphan", None), 1002).await;
}

#[tokio::test]
async fn case_5_18_start_inside_a_fragmented_message_fails_with_1002() {
    let mut bytes = encode(0x01, b"fragment1", None);
    bytes.extend(encode(TEXT, b"fragment2", None));
    expect_client_failure(&bytes, 1002).await;
}

// ----- 6 UTF-8 ----------------------------------------------------------------------------------

#[tokio::test]
async fn case_6_valid_utf8_split_across_fragments_is_echoed() {
    let (mut server, client) = start().await;
    let text = "κόσμε-𝄞-€".as_bytes();
    for cut in 0..=text.len() {
        let mut bytes = encode(0x01, &text[..cut], None);
        bytes.extend(encode(0x80, &text[cut..], None));
        server.send_raw(&bytes).await;
        expect_masked(&mut server, 1, text).await;
    }
    server_closes(server, client).await;
}

#[tokio::test]
async fn case_6_3_invalid_utf8_fails_with_1007() {
    expect_client_failure(
        &encode(TEXT, b"\xce\xba\xe1\xbd\xb9\xed\xa0\x80edited", None),
        1007,
    )
    .await;
}

#[tokio::test]
async fn case_6_4_3_invalid_utf8_fails_fast_mid_frame() {
    let (mut server, client) = start().await;
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(b"\xf4\x90\x80\x80edited");
    let frame = encode(TEXT, &payload, None);
    // Header, the valid part and the two bytes that prove the text invalid; never the rest.
    server.send_raw(&frame[..2 + "κόσμε".len() + 2]).await;
    server.expect_failure(1007).await;
    assert_eq!(outcome(client).await.violation_code(), Some(1007));
}

// ----- 7 close handling -------------------------------------------------------------------------

#[tokio::test]
async fn case_7_client_echoes_the_close_code_and_waits_for_the_server_to_close_tcp() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let (mut server, client) = start().await;
        server.send(CLOSE, &close_payload(code, b"bye")).await;
        assert_eq!(server.expect_close().await, Some(code));
        // The client must leave the TCP close to the server (RFC 6455 section 7.1.1).
        let early = tokio::time::timeout(Duration::from_millis(100), server.read()).await;
        assert!(early.is_err(), "client closed TCP first: {early:?}");
        server.stream.shutdown().await.unwrap();
        server.expect_eof().await;
        let outcome = outcome(client).await;
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert!(
            matches!(&outcome.control[..], [Message::Close(Some(frame))]
                if frame.code.as_u16() == code && frame.reason == "bye"),
            "{:?}",
            outcome.control
        );
    }
}

#[tokio::test]
async fn case_7_3_1_empty_close_is_answered_with_empty_close() {
    let (mut server, client) = start().await;
    server.send(CLOSE, b"").await;
    assert_eq!(server.expect_close().await, None);
    server.stream.shutdown().await.unwrap();
    server.expect_eof().await;
    assert!(outcome(client).await.errors.is_empty());
}

#[tokio::test]
async fn case_7_invalid_close_payloads_fail_the_client() {
    expect_client_failure(&encode(CLOSE, b"\x03", None), 1002).await;
    for code in [
        0u16, 999, 1004, 1005, 1006, 1012, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        expect_client_failure(&encode(CLOSE, &close_payload(code, b""), None), 1002).await;
    }
    expect_client_failure(
        &encode(CLOSE, &close_payload(1000, b"\xed\xa0\x80"), None),
        1007,
    )
    .await;
}

#[tokio::test]
async fn case_7_data_after_the_close_is_not_echoed() {
    let (mut server, client) = start().await;
    let mut bytes = encode(CLOSE, &close_payload(1000, b""), None);
    bytes.extend(encode(TEXT, b"after", None));
    bytes.extend(encode(PING, b"after", None));
    server.send_raw(&bytes).await;
    assert_eq!(server.expect_close().await, Some(1000));
    server.stream.shutdown().await.unwrap();
    server.expect_eof().await;
    assert_eq!(outcome(client).await.control.len(), 1);
}

#[tokio::test]
async fn case_7_client_initiated_close_completes_when_the_server_closes_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let client = tokio::spawn(async move {
        let mut ws = wschat::connect(&url).await.unwrap();
        ws.send(Message::text("last")).await.unwrap();
        ws.close(wschat::CloseCode::new(4321).unwrap(), "done")
            .await
            .unwrap();
        ws.recv().await.is_none()
    });
    let (mut server, _) = RawPeer::accept(&listener, None).await;
    expect_masked(&mut server, 1, b"last").await;
    let close = server.read_frame().await;
    assert!(close.mask.is_some());
    assert_eq!(close.close_code(), Some(4321));
    assert_eq!(&close.payload[2..], b"done");
    server.send(CLOSE, &close_payload(4321, b"")).await;
    server.stream.shutdown().await.unwrap();
    server.expect_eof().await;
    assert!(
        within(client).await.unwrap(),
        "recv returns None after close"
    );
}

// ----- 9 limits ---------------------------------------------------------------------------------

#[tokio::test]
async fn case_9_message_of_16_mib_is_echoed() {
    let (mut server, client) = start().await;
    let payload = pattern(16 << 20);
    server.send(BINARY, &payload).await;
    let (opcode, echo, _) = server.read_message().await;
    assert_eq!(opcode, 2);
    assert!(echo == payload);
    server_closes(server, client).await;
}

#[tokio::test]
async fn case_9_fragmented_message_of_4_mib_is_echoed() {
    let (mut server, client) = start().await;
    let payload = ascii(4 << 20);
    let mut bytes = Vec::new();
    let chunks: Vec<&[u8]> = payload.chunks(64 << 10).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 { 1 } else { 0 };
        let fin = if i + 1 == chunks.len() { 0x80 } else { 0 };
        bytes.extend(encode(fin | opcode, chunk, None));
    }
    server.send_raw(&bytes).await;
    let (opcode, echo, _) = server.read_message().await;
    assert_eq!(opcode, 1);
    assert!(echo == payload);
    server_closes(server, client).await;
}

#[tokio::test]
async fn case_9_message_over_the_limit_fails_with_1009() {
    let config = Config::default()
        .with_max_message_size(1 << 16)
        .with_max_frame_size(1 << 16);
    let (mut server, client) = start_with(config).await;
    let frame = encode(BINARY, &pattern((1 << 16) + 1), None);
    server.send_raw(&frame[..10]).await;
    server.expect_failure(1009).await;
    assert_eq!(outcome(client).await.violation_code(), Some(1009));
}

// ----- 10 auto-fragmentation and masking ---------------------------------------------------------

#[tokio::test]
async fn case_10_client_with_fragment_size_sends_masked_fragments() {
    let (mut server, client) = start_with(echo_config().with_fragment_size(Some(1300))).await;
    let payload = ascii(65536);
    server.send(TEXT, &payload).await;
    let mut frames = Vec::new();
    loop {
        let frame = server.read_frame().await;
        let fin = frame.fin;
        frames.push(frame);
        if fin {
            break;
        }
    }
    assert_eq!(frames.len(), 65536usize.div_ceil(1300));
    assert_eq!(frames[0].opcode, 1);
    assert!(frames[1..].iter().all(|f| f.opcode == 0));
    assert!(frames.iter().all(|f| f.payload.len() <= 1300));
    let echo: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
    assert!(echo == payload);
    let keys: HashSet<_> = frames
        .iter()
        .map(|f| f.mask.expect("masked fragment"))
        .collect();
    assert_eq!(keys.len(), frames.len(), "a fresh masking key per frame");
    server_closes(server, client).await;
}

#[tokio::test]
async fn client_masks_every_frame_with_a_distinct_key() {
    let (mut server, client) = start().await;
    let mut keys = HashSet::new();
    for i in 0..50u8 {
        server.send(BINARY, &[i; 10]).await;
        let frame = server.read_frame().await;
        assert_eq!(frame.payload, [i; 10]);
        keys.insert(frame.mask.expect("masked"));
    }
    assert_eq!(keys.len(), 50);
    server_closes(server, client).await;
}

#[tokio::test]
async fn client_fails_with_1002_on_a_masked_server_frame() {
    expect_client_failure(&encode(TEXT, b"masked", Some([1, 2, 3, 4])), 1002).await;
}
