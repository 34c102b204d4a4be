//! The Autobahn TestSuite's case categories for our server, over real loopback TCP: a raw client
//! that encodes and masks frames by hand talks to an in-process echo server shaped like
//! `examples/echo-server.rs`. Test names carry the Autobahn case numbers they follow.
//!
//! A failed connection must answer with a close frame carrying the expected code and then close
//! TCP; a clean close must echo the code and close TCP. Cases the TestSuite marks as "fail fast"
//! assert that the close arrives before the rest of the offending frame is sent.

mod common;

use common::*;

/// A raw client connected to a fresh echo server with the default echo configuration.
async fn client() -> RawPeer {
    RawPeer::connect(spawn_echo_server(echo_config()).await).await
}

/// All frames of `payload` split into fragments of `size` bytes (at least one frame), the first
/// with `opcode` and FIN on the last, masked.
fn fragmented(peer: &RawPeer, opcode: u8, payload: &[u8], size: usize) -> Vec<u8> {
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[]]
    } else {
        payload.chunks(size).collect()
    };
    let mut out = Vec::with_capacity(payload.len() + chunks.len() * 14);
    for (i, chunk) in chunks.iter().enumerate() {
        let op = if i == 0 { opcode } else { 0 };
        let fin = if i + 1 == chunks.len() { 0x80 } else { 0 };
        out.extend(peer.frame(fin | op, chunk));
    }
    out
}

/// Sends `payload` as one frame and expects it echoed, then closes cleanly.
async fn echo_one_frame(first: u8, payload: &[u8]) {
    let mut peer = client().await;
    peer.send(first, payload).await;
    peer.expect_frame(first & 0x0f, payload).await;
    peer.close_cleanly(1000).await;
}

/// Sends `bytes` (one or more frames) and expects the server to fail the connection with `code`.
async fn expect_failure_on(bytes: &[u8], code: u16) {
    let mut peer = client().await;
    peer.send_raw(bytes).await;
    peer.expect_failure(code).await;
}

macro_rules! echo_cases {
    ($($name:ident: $first:expr, $payload:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            echo_one_frame($first, &$payload).await;
        }
    )*};
}

// ----- 1 framing --------------------------------------------------------------------------------

echo_cases! {
    case_1_1_1_text_of_length_0_is_echoed: TEXT, ascii(0);
    case_1_1_2_text_of_length_125_is_echoed: TEXT, ascii(125);
    case_1_1_3_text_of_length_126_is_echoed: TEXT, ascii(126);
    case_1_1_4_text_of_length_127_is_echoed: TEXT, ascii(127);
    case_1_1_5_text_of_length_128_is_echoed: TEXT, ascii(128);
    case_1_1_6_text_of_length_65535_is_echoed: TEXT, ascii(65535);
    case_1_1_7_text_of_length_65536_is_echoed: TEXT, ascii(65536);
    case_1_2_1_binary_of_length_0_is_echoed: BINARY, pattern(0);
    case_1_2_2_binary_of_length_125_is_echoed: BINARY, pattern(125);
    case_1_2_3_binary_of_length_126_is_echoed: BINARY, pattern(126);
    case_1_2_4_binary_of_length_127_is_echoed: BINARY, pattern(127);
    case_1_2_5_binary_of_length_128_is_echoed: BINARY, pattern(128);
    case_1_2_6_binary_of_length_65535_is_echoed: BINARY, pattern(65535);
    case_1_2_7_binary_of_length_65536_is_echoed: BINARY, pattern(65536);
}

#[tokio::test]
async fn case_1_1_8_text_of_length_65536_in_997_byte_chunks_is_echoed() {
    let mut peer = client().await;
    let payload = ascii(65536);
    let frame = peer.frame(TEXT, &payload);
    peer.send_chunked(&frame, 997).await;
    peer.expect_frame(1, &payload).await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_1_2_8_binary_of_length_65536_in_997_byte_chunks_is_echoed() {
    let mut peer = client().await;
    let payload = pattern(65536);
    let frame = peer.frame(BINARY, &payload);
    peer.send_chunked(&frame, 997).await;
    peer.expect_frame(2, &payload).await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_1_frames_in_one_byte_tcp_chunks_are_echoed() {
    let mut peer = client().await;
    for (first, payload) in [(TEXT, ascii(300)), (BINARY, pattern(130)), (TEXT, ascii(0))] {
        let frame = peer.frame(first, &payload);
        peer.send_chunked(&frame, 1).await;
        peer.expect_frame(first & 0x0f, &payload).await;
    }
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_1_text_of_16_mib_is_echoed() {
    echo_one_frame(TEXT, &ascii(16 << 20)).await;
}

// ----- 2 ping/pong ------------------------------------------------------------------------------

#[tokio::test]
async fn case_2_1_ping_without_payload_is_answered() {
    let mut peer = client().await;
    peer.send(PING, b"").await;
    peer.expect_frame(0xA, b"").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_2_ping_with_text_payload_is_answered_with_it() {
    let mut peer = client().await;
    peer.send(PING, b"Hello, world!").await;
    peer.expect_frame(0xA, b"Hello, world!").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_3_ping_with_binary_payload_is_answered_with_it() {
    let mut peer = client().await;
    peer.send(PING, &[0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])
        .await;
    peer.expect_frame(0xA, &[0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])
        .await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_4_ping_with_125_byte_payload_is_answered() {
    let mut peer = client().await;
    peer.send(PING, &[0xfe; 125]).await;
    peer.expect_frame(0xA, &[0xfe; 125]).await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_5_ping_with_126_byte_payload_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(PING, &[0xfe; 126]), 1002).await;
}

#[tokio::test]
async fn case_2_6_ping_with_125_byte_payload_in_one_byte_chunks_is_answered() {
    let mut peer = client().await;
    let frame = peer.frame(PING, &[0xfe; 125]);
    peer.send_chunked(&frame, 1).await;
    peer.expect_frame(0xA, &[0xfe; 125]).await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_7_unsolicited_pong_without_payload_is_ignored() {
    let mut peer = client().await;
    peer.send(PONG, b"").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_8_unsolicited_pong_with_payload_is_ignored() {
    let mut peer = client().await;
    peer.send(PONG, b"unsolicited pong payload").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_9_unsolicited_pong_then_ping_gets_one_pong() {
    let mut peer = client().await;
    peer.send(PONG, b"unsolicited pong payload").await;
    peer.send(PING, b"ping payload").await;
    peer.expect_frame(0xA, b"ping payload").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_10_ten_pings_get_ten_pongs() {
    let mut peer = client().await;
    for i in 0..10 {
        peer.send(PING, format!("payload-{i}").as_bytes()).await;
    }
    for i in 0..10 {
        peer.expect_frame(0xA, format!("payload-{i}").as_bytes())
            .await;
    }
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_2_11_ten_pings_in_one_byte_chunks_get_ten_pongs() {
    let mut peer = client().await;
    let mut bytes = Vec::new();
    for i in 0..10 {
        bytes.extend(peer.frame(PING, format!("payload-{i}").as_bytes()));
    }
    peer.send_chunked(&bytes, 1).await;
    for i in 0..10 {
        peer.expect_frame(0xA, format!("payload-{i}").as_bytes())
            .await;
    }
    peer.close_cleanly(1000).await;
}

// ----- 3 reserved bits --------------------------------------------------------------------------

#[tokio::test]
async fn case_3_1_text_with_rsv_1_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(TEXT | 0x10, b"Hello, world!"), 1002).await;
}

/// A valid text (echoed), then `bad`, then a ping that must not be answered.
async fn valid_text_then_bad_frame(bad: u8, payload: &[u8], chunk: usize) {
    let mut peer = client().await;
    let mut bytes = peer.frame(TEXT, b"Hello, world!");
    bytes.extend(peer.frame(bad, payload));
    bytes.extend(peer.frame(PING, b""));
    peer.send_chunked(&bytes, chunk).await;
    peer.expect_frame(1, b"Hello, world!").await;
    peer.expect_failure(1002).await;
}

#[tokio::test]
async fn case_3_2_valid_text_is_echoed_before_text_with_rsv_2_fails() {
    valid_text_then_bad_frame(TEXT | 0x20, b"Hello, world!", usize::MAX).await;
}

#[tokio::test]
async fn case_3_3_frame_by_frame_text_with_rsv_3_fails_after_the_echo() {
    let mut peer = client().await;
    peer.send(TEXT, b"Hello, world!").await;
    peer.expect_frame(1, b"Hello, world!").await;
    peer.send(TEXT | 0x30, b"Hello, world!").await;
    peer.send(PING, b"").await;
    peer.expect_failure(1002).await;
}

#[tokio::test]
async fn case_3_4_text_with_rsv_4_in_one_byte_chunks_fails_after_the_echo() {
    valid_text_then_bad_frame(TEXT | 0x40, b"Hello, world!", 1).await;
}

#[tokio::test]
async fn case_3_5_binary_with_rsv_5_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(BINARY | 0x50, &[0, 0xff, 0xfe]), 1002).await;
}

#[tokio::test]
async fn case_3_6_ping_with_rsv_6_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(PING | 0x60, b"Hello, world!"), 1002).await;
}

#[tokio::test]
async fn case_3_7_close_with_rsv_7_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(CLOSE | 0x70, &close_payload(1000, b"")), 1002).await;
}

// ----- 4 opcodes --------------------------------------------------------------------------------

macro_rules! reserved_opcode_cases {
    ($($name:ident: $opcode:expr, $payload:expr, $after_valid:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            if $after_valid {
                valid_text_then_bad_frame(0x80 | $opcode, $payload, usize::MAX).await;
            } else {
                let peer = client().await;
                expect_failure_on(&peer.frame(0x80 | $opcode, $payload), 1002).await;
            }
        }
    )*};
}

reserved_opcode_cases! {
    case_4_1_1_reserved_opcode_3_fails_with_1002: 3, b"", false;
    case_4_1_2_reserved_opcode_4_with_payload_fails_with_1002: 4, b"reserved opcode payload", false;
    case_4_1_3_reserved_opcode_5_after_valid_text_fails_with_1002: 5, b"", true;
    case_4_1_4_reserved_opcode_6_with_payload_after_valid_text_fails_with_1002: 6, b"payload", true;
    case_4_1_5_reserved_opcode_7_with_payload_after_valid_text_fails_with_1002: 7, b"payload", true;
    case_4_2_1_reserved_opcode_b_fails_with_1002: 0xB, b"", false;
    case_4_2_2_reserved_opcode_c_with_payload_fails_with_1002: 0xC, b"reserved opcode payload", false;
    case_4_2_3_reserved_opcode_d_after_valid_text_fails_with_1002: 0xD, b"", true;
    case_4_2_4_reserved_opcode_e_with_payload_after_valid_text_fails_with_1002: 0xE, b"payload", true;
    case_4_2_5_reserved_opcode_f_with_payload_after_valid_text_fails_with_1002: 0xF, b"payload", true;
}

// ----- 5 fragmentation --------------------------------------------------------------------------

#[tokio::test]
async fn case_5_1_fragmented_ping_fails_with_1002() {
    let peer = client().await;
    let mut bytes = peer.frame(0x09, b"fragment1");
    bytes.extend(peer.frame(0x80, b"fragment2"));
    expect_failure_on(&bytes, 1002).await;
}

#[tokio::test]
async fn case_5_2_fragmented_pong_fails_with_1002() {
    let peer = client().await;
    let mut bytes = peer.frame(0x0A, b"fragment1");
    bytes.extend(peer.frame(0x80, b"fragment2"));
    expect_failure_on(&bytes, 1002).await;
}

/// Two text fragments, optionally with a ping between them, sent in `chunk`-byte writes.
async fn two_fragments(ping_between: bool, chunk: usize) {
    let mut peer = client().await;
    let mut bytes = peer.frame(0x01, b"fragment1");
    if ping_between {
        bytes.extend(peer.frame(PING, b"ping payload"));
    }
    bytes.extend(peer.frame(0x80, b"fragment2"));
    peer.send_chunked(&bytes, chunk).await;
    if ping_between {
        peer.expect_frame(0xA, b"ping payload").await;
    }
    peer.expect_frame(1, b"fragment1fragment2").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_5_3_text_in_two_fragments_is_echoed_whole() {
    two_fragments(false, usize::MAX).await;
}

#[tokio::test]
async fn case_5_4_text_in_two_fragments_in_one_byte_chunks_is_echoed_whole() {
    two_fragments(false, 1).await;
}

#[tokio::test]
async fn case_5_6_ping_between_text_fragments_is_answered_and_text_echoed() {
    two_fragments(true, usize::MAX).await;
}

#[tokio::test]
async fn case_5_7_ping_between_fragments_in_one_byte_chunks() {
    two_fragments(true, 1).await;
}

#[tokio::test]
async fn case_5_8_ping_between_fragments_frame_by_frame() {
    let mut peer = client().await;
    peer.send(0x01, b"fragment1").await;
    peer.send(PING, b"ping payload").await;
    peer.expect_frame(0xA, b"ping payload").await;
    peer.send(0x80, b"fragment2").await;
    peer.expect_frame(1, b"fragment1fragment2").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_5_binary_in_many_fragments_is_echoed_whole() {
    let mut peer = client().await;
    let payload = pattern(10_000);
    let bytes = fragmented(&peer, 2, &payload, 777);
    peer.send_raw(&bytes).await;
    peer.expect_frame(2, &payload).await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_5_9_continuation_without_start_fails_with_1002() {
    let peer = client().await;
    let mut bytes = peer.frame(0x80, b"non-continuation payload");
    bytes.extend(peer.frame(TEXT, b"Hello, world!"));
    expect_failure_on(&bytes, 1002).await;
}

#[tokio::test]
async fn case_5_10_continuation_without_start_in_one_byte_chunks_fails_with_1002() {
    let mut peer = client().await;
    let mut bytes = peer.frame(0x80, b"non-continuation payload");
    bytes.extend(peer.frame(TEXT, b"Hello, world!"));
    peer.send_chunked(&bytes, 1).await;
    peer.expect_failure(1002).await;
}

#[tokio::test]
async fn case_5_12_non_final_continuation_without_start_fails_with_1002() {
    let peer = client().await;
    let mut bytes = peer.frame(0x00, b"non-continuation payload");
    bytes.extend(peer.frame(TEXT, b"Hello, world!"));
    expect_failure_on(&bytes, 1002).await;
}

#[tokio::test]
async fn case_5_15_continuation_after_a_finished_message_fails_with_1002() {
    let mut peer = client().await;
    let mut bytes = peer.frame(0x01, b"fragment1");
    bytes.extend(peer.frame(0x80, b"fragment2"));
    bytes.extend(peer.frame(0x00, b"fragment3"));
    bytes.extend(peer.frame(0x80, b"fragment4"));
    peer.send_raw(&bytes).await;
    peer.expect_frame(1, b"fragment1fragment2").await;
    peer.expect_failure(1002).await;
}

#[tokio::test]
async fn case_5_18_text_start_inside_a_fragmented_message_fails_with_1002() {
    let peer = client().await;
    let mut bytes = peer.frame(0x01, b"fragment1");
    bytes.extend(peer.frame(TEXT, b"fragment2"));
    expect_failure_on(&bytes, 1002).await;
}

#[tokio::test]
async fn case_5_19_pings_between_five_fragments_frame_by_frame() {
    let mut peer = client().await;
    for i in 1..=5 {
        let first = match i {
            1 => 0x01,
            5 => 0x80,
            _ => 0x00,
        };
        peer.send(first, format!("fragment{i}").as_bytes()).await;
        if i == 2 || i == 4 {
            peer.send(PING, format!("pongme {i}!").as_bytes()).await;
            peer.expect_frame(0xA, format!("pongme {i}!").as_bytes())
                .await;
        }
    }
    peer.expect_frame(1, b"fragment1fragment2fragment3fragment4fragment5")
        .await;
    peer.close_cleanly(1000).await;
}

// ----- 6 UTF-8 handling -------------------------------------------------------------------------

#[tokio::test]
async fn case_6_1_empty_text_and_empty_fragments_are_echoed() {
    let mut peer = client().await;
    peer.send(TEXT, b"").await;
    peer.expect_frame(1, b"").await;
    peer.send(0x01, b"").await;
    peer.send(0x00, b"").await;
    peer.send(0x80, b"").await;
    peer.expect_frame(1, b"").await;
    peer.send(0x01, b"").await;
    peer.send(0x00, b"middle").await;
    peer.send(0x80, b"").await;
    peer.expect_frame(1, b"middle").await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_6_2_valid_utf8_split_at_every_fragment_boundary_is_echoed() {
    let text = "Hello-µ@ßöäüàá-UTF-8!!".as_bytes();
    let mut peer = client().await;
    for cut in 0..=text.len() {
        let mut bytes = peer.frame(0x01, &text[..cut]);
        bytes.extend(peer.frame(0x80, &text[cut..]));
        peer.send_raw(&bytes).await;
        peer.expect_frame(1, text).await;
    }
    // 6.2.4: one byte per fragment.
    let bytes = fragmented(&peer, 1, text, 1);
    peer.send_raw(&bytes).await;
    peer.expect_frame(1, text).await;
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_6_3_1_invalid_utf8_text_fails_with_1007() {
    let peer = client().await;
    let payload =
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
    expect_failure_on(&peer.frame(TEXT, payload), 1007).await;
}

#[tokio::test]
async fn case_6_3_2_invalid_utf8_in_one_byte_fragments_fails_with_1007() {
    let peer = client().await;
    let payload =
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
    expect_failure_on(&fragmented(&peer, 1, payload, 1), 1007).await;
}

#[tokio::test]
async fn case_6_4_1_invalid_utf8_fails_fast_on_the_fragment_that_proves_it() {
    let mut peer = client().await;
    peer.send(0x01, "κόσμε".as_bytes()).await;
    peer.send(0x00, b"\xf4\x90\x80\x80").await;
    // The last fragment is never sent: the close must come without it.
    peer.expect_failure(1007).await;
}

#[tokio::test]
async fn case_6_4_2_invalid_utf8_split_across_fragments_fails_fast() {
    let mut peer = client().await;
    let mut first = "κόσμε".as_bytes().to_vec();
    first.push(0xf4);
    peer.send(0x01, &first).await;
    peer.send(0x00, b"\x90").await;
    // The rest ("\x80\x80edited") is never sent.
    peer.expect_failure(1007).await;
}

#[tokio::test]
async fn case_6_4_3_invalid_utf8_fails_fast_mid_frame() {
    // One frame sent in parts; the invalid sequence is in the second part.
    let mut peer = client().await;
    let mut payload = "κόσμε".as_bytes().to_vec();
    let good_len = payload.len();
    payload.extend_from_slice(b"\xf4\x90\x80\x80");
    payload.extend_from_slice(b"edited");
    let frame = peer.frame(TEXT, &payload);
    let header_len = frame.len() - payload.len();
    peer.send_raw(&frame[..header_len + good_len]).await;
    peer.send_raw(&frame[header_len + good_len..header_len + good_len + 4])
        .await;
    // The rest of the frame ("edited") is not sent until the close has arrived.
    peer.expect_failure(1007).await;
}

#[tokio::test]
async fn case_6_4_4_invalid_utf8_fails_fast_mid_frame_on_the_byte_that_proves_it() {
    let mut peer = client().await;
    let mut payload = "κόσμε".as_bytes().to_vec();
    let good_len = payload.len();
    payload.extend_from_slice(b"\xf4\x90\x80\x80");
    payload.extend_from_slice(b"edited");
    let frame = peer.frame(TEXT, &payload);
    let header_len = frame.len() - payload.len();
    // Up to and including 0xf4 is still a valid prefix; 0x90 proves it invalid.
    peer.send_raw(&frame[..header_len + good_len + 1]).await;
    peer.send_raw(&frame[header_len + good_len + 1..header_len + good_len + 2])
        .await;
    peer.expect_failure(1007).await;
}

/// Valid UTF-8 from the TestSuite's 6.5-6.7 and 6.11 (boundaries, noncharacters, max code point).
const VALID_UTF8: &[&[u8]] = &[
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
    b"\x00",
    b"\xc2\x80",
    b"\xe0\xa0\x80",
    b"\xf0\x90\x80\x80",
    b"\x7f",
    b"\xdf\xbf",
    b"\xef\xbf\xbf",
    b"\xf4\x8f\xbf\xbf",
    b"\xed\x9f\xbf",
    b"\xee\x80\x80",
    b"\xef\xbf\xbd",
    b"\xef\xbf\xbe",
    b"\xf0\x9f\xbf\xbf",
];

/// Invalid UTF-8 from the TestSuite's 6.3, 6.6, 6.8-6.10, 6.12-6.21: bad continuations,
/// truncations, impossible bytes, overlong forms, surrogates, code points past U+10FFFF.
const INVALID_UTF8: &[&[u8]] = &[
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    b"\xce",
    b"\xce\xba\xe1",
    b"\xce\xba\xe1\xbd",
    b"\xf8\x88\x80\x80\x80",
    b"\xfc\x84\x80\x80\x80\x80",
    b"\xf7\xbf\xbf\xbf",
    b"\x80",
    b"\xbf",
    b"\x80\xbf\x80",
    b"\xc0\x20",
    b"\xe0\x80\x20",
    b"\xdf",
    b"\xef\xbf",
    b"\xfe",
    b"\xff",
    b"\xfe\xfe\xff\xff",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xf0\x80\x80\xaf",
    b"\xc1\xbf",
    b"\xe0\x9f\xbf",
    b"\xf0\x8f\xbf\xbf",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xed\xad\xbf",
    b"\xed\xbf\xbf",
    b"\xed\xa0\x80\xed\xb0\x80",
    b"\xf4\x90\x80\x80",
];

#[tokio::test]
async fn case_6_5_to_6_11_valid_utf8_sequences_are_echoed() {
    let mut peer = client().await;
    for text in VALID_UTF8 {
        peer.send(TEXT, text).await;
        peer.expect_frame(1, text).await;
        // The same text one byte per fragment.
        let bytes = fragmented(&peer, 1, text, 1);
        peer.send_raw(&bytes).await;
        peer.expect_frame(1, text).await;
    }
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_6_6_to_6_21_invalid_utf8_sequences_fail_with_1007() {
    for text in INVALID_UTF8 {
        let peer = client().await;
        expect_failure_on(&peer.frame(TEXT, text), 1007).await;
        let peer = client().await;
        expect_failure_on(&fragmented(&peer, 1, text, 1), 1007).await;
    }
}

// ----- 7 close handling -------------------------------------------------------------------------

#[tokio::test]
async fn case_7_1_1_message_then_close_echoes_the_message_then_closes() {
    let mut peer = client().await;
    let mut bytes = peer.frame(TEXT, b"Hello World!");
    bytes.extend(peer.frame(CLOSE, &close_payload(1000, b"")));
    peer.send_raw(&bytes).await;
    peer.expect_frame(1, b"Hello World!").await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_1_2_second_close_is_ignored() {
    let mut peer = client().await;
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_1_3_ping_after_close_is_not_answered() {
    let mut peer = client().await;
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    peer.send(PING, b"Hello World!").await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_1_4_text_after_close_is_not_echoed() {
    let mut peer = client().await;
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    peer.send(TEXT, b"Hello World!").await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_1_5_fragment_then_close_then_continuation_closes_without_a_message() {
    let mut peer = client().await;
    peer.send(0x01, b"fragment1").await;
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    peer.send(0x80, b"fragment2").await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_1_6_large_message_then_close_then_ping_echoes_and_closes() {
    let mut peer = client().await;
    let payload = ascii(256 << 10);
    let mut bytes = peer.frame(TEXT, &payload);
    bytes.extend(peer.frame(CLOSE, &close_payload(1000, b"")));
    bytes.extend(peer.frame(PING, b"Hello World!"));
    peer.send_raw(&bytes).await;
    peer.expect_frame(1, &payload).await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_3_1_empty_close_is_answered_with_empty_close() {
    let mut peer = client().await;
    peer.send(CLOSE, b"").await;
    let code = peer.expect_close().await;
    assert!(code.is_none() || code == Some(1000), "{code:?}");
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_3_2_one_byte_close_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(CLOSE, b"\x03"), 1002).await;
}

#[tokio::test]
async fn case_7_3_3_close_with_1000_is_echoed() {
    client().await.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_7_3_4_close_with_code_and_reason_is_echoed() {
    let mut peer = client().await;
    peer.send(CLOSE, &close_payload(1000, b"Hello World!"))
        .await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_3_5_close_with_123_byte_reason_is_echoed() {
    let mut peer = client().await;
    peer.send(CLOSE, &close_payload(1000, &[b'*'; 123])).await;
    assert_eq!(peer.expect_close().await, Some(1000));
    peer.expect_eof().await;
}

#[tokio::test]
async fn case_7_3_6_close_with_124_byte_reason_fails_with_1002() {
    let peer = client().await;
    expect_failure_on(&peer.frame(CLOSE, &close_payload(1000, &[b'*'; 124])), 1002).await;
}

#[tokio::test]
async fn case_7_5_1_close_reason_with_invalid_utf8_fails_with_1007() {
    let peer = client().await;
    let payload = close_payload(
        1000,
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    );
    expect_failure_on(&peer.frame(CLOSE, &payload), 1007).await;
}

#[tokio::test]
async fn case_7_7_valid_close_codes_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        client().await.close_cleanly(code).await;
    }
}

#[tokio::test]
async fn case_7_9_invalid_close_codes_fail_with_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let peer = client().await;
        expect_failure_on(&peer.frame(CLOSE, &close_payload(code, b"")), 1002).await;
    }
}

#[tokio::test]
async fn case_7_13_data_after_the_close_is_neither_echoed_nor_answered() {
    let mut peer = client().await;
    peer.send(TEXT, b"before").await;
    peer.expect_frame(1, b"before").await;
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    assert_eq!(peer.expect_close().await, Some(1000));
    // The server may already be draining; whatever we send now gets no answer.
    peer.send(TEXT, b"after").await;
    peer.send(PING, b"after").await;
    peer.expect_eof().await;
}

// ----- 9 limits ---------------------------------------------------------------------------------

/// Sends `payload` as one message of `opcode` in fragments of `fragment` bytes (one frame when
/// `fragment` is `usize::MAX`) and expects it echoed intact.
async fn echo_big(opcode: u8, payload: &[u8], fragment: usize) {
    let mut peer = client().await;
    let bytes = fragmented(&peer, opcode, payload, fragment);
    peer.send_raw(&bytes).await;
    let (echo_opcode, echo, _) = peer.read_message().await;
    assert_eq!(echo_opcode, opcode);
    assert!(echo == payload, "echo of {} bytes differs", payload.len());
    peer.close_cleanly(1000).await;
}

#[tokio::test]
async fn case_9_1_1_text_of_64_kib_is_echoed() {
    echo_big(1, &ascii(64 << 10), usize::MAX).await;
}

#[tokio::test]
async fn case_9_1_3_text_of_1_mib_is_echoed() {
    echo_big(1, &ascii(1 << 20), usize::MAX).await;
}

#[tokio::test]
async fn case_9_1_4_text_of_4_mib_is_echoed() {
    echo_big(1, &ascii(4 << 20), usize::MAX).await;
}

#[tokio::test]
async fn case_9_1_6_text_of_16_mib_is_echoed() {
    echo_big(1, &ascii(16 << 20), usize::MAX).await;
}

#[tokio::test]
async fn case_9_2_2_binary_of_256_kib_is_echoed() {
    echo_big(2, &pattern(256 << 10), usize::MAX).await;
}

#[tokio::test]
async fn case_9_2_5_binary_of_8_mib_is_echoed() {
    echo_big(2, &pattern(8 << 20), usize::MAX).await;
}

#[tokio::test]
async fn case_9_2_6_binary_of_16_mib_is_echoed() {
    echo_big(2, &pattern(16 << 20), usize::MAX).await;
}

#[tokio::test]
async fn case_9_3_1_text_of_4_mib_in_64_byte_fragments_is_echoed() {
    echo_big(1, &ascii(4 << 20), 64).await;
}

#[tokio::test]
async fn case_9_3_5_text_of_4_mib_in_16_kib_fragments_is_echoed() {
    echo_big(1, &ascii(4 << 20), 16 << 10).await;
}

#[tokio::test]
async fn case_9_3_8_text_of_4_mib_in_1_mib_fragments_is_echoed() {
    echo_big(1, &ascii(4 << 20), 1 << 20).await;
}

#[tokio::test]
async fn case_9_4_2_binary_of_4_mib_in_256_byte_fragments_is_echoed() {
    echo_big(2, &pattern(4 << 20), 256).await;
}

#[tokio::test]
async fn case_9_4_6_binary_of_4_mib_in_64_kib_fragments_is_echoed() {
    echo_big(2, &pattern(4 << 20), 64 << 10).await;
}

#[tokio::test]
async fn case_9_binary_of_16_mib_in_1_mib_fragments_is_echoed() {
    echo_big(2, &pattern(16 << 20), 1 << 20).await;
}

#[tokio::test]
async fn case_9_5_text_of_1_mib_in_small_tcp_chunks_is_echoed() {
    let mut peer = client().await;
    let payload = ascii(1 << 20);
    let frame = peer.frame(TEXT, &payload);
    peer.send_chunked(&frame, 4096).await;
    peer.expect_frame(1, &payload).await;
    peer.close_cleanly(1000).await;
}

/// A raw client of an echo server limited to 1 MiB messages and frames.
async fn limited_client() -> RawPeer {
    let config = wschat::Config::default()
        .with_max_message_size(1 << 20)
        .with_max_frame_size(1 << 20);
    RawPeer::connect(spawn_echo_server(config).await).await
}

#[tokio::test]
async fn case_9_frame_over_the_limit_fails_with_1009_from_its_header() {
    let mut peer = limited_client().await;
    // Only the header of a 2 MiB frame is sent: the server must not wait for the payload.
    let frame = peer.frame(BINARY, &pattern((1 << 20) + 1));
    peer.send_raw(&frame[..14]).await;
    peer.expect_failure(1009).await;
}

#[tokio::test]
async fn case_9_fragmented_message_over_the_limit_fails_with_1009() {
    let mut peer = limited_client().await;
    let mut bytes = fragmented(&peer, 1, &ascii(1 << 20), 256 << 10);
    // Turn the last fragment into a non-final one, then announce one byte more.
    let last_header = bytes.len() - (256 << 10) - 14;
    bytes[last_header] &= 0x7f;
    peer.send_raw(&bytes).await;
    let next = peer.frame(0x80, b"x");
    peer.send_raw(&next[..6]).await;
    peer.expect_failure(1009).await;
}

// ----- 10 auto-fragmentation --------------------------------------------------------------------

#[tokio::test]
async fn case_10_1_1_text_of_64_kib_in_1300_byte_fragments_is_echoed_whole() {
    echo_big(1, &ascii(65536), 1300).await;
}

#[tokio::test]
async fn case_10_server_with_fragment_size_sends_big_messages_in_frames() {
    let config = echo_config().with_fragment_size(Some(1300));
    let mut peer = RawPeer::connect(spawn_echo_server(config).await).await;
    for (opcode, payload) in [(1u8, ascii(65536)), (2, pattern(1300)), (2, pattern(1301))] {
        peer.send(0x80 | opcode, &payload).await;
        let (echo_opcode, echo, frames) = peer.read_message().await;
        assert_eq!(echo_opcode, opcode);
        assert!(echo == payload);
        assert_eq!(
            frames,
            payload.len().div_ceil(1300),
            "{} bytes",
            payload.len()
        );
    }
    peer.close_cleanly(1000).await;
}
