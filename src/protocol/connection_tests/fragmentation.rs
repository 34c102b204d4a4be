//! Reassembly of fragmented messages, fragment ordering rules and incremental UTF-8 validation.

use super::*;

#[test]
fn fragmented_text_reassembles_with_pings_between_fragments() {
    let mut server = server(Config::default());
    let mut input = client_frame(TEXT_START, b"frag");
    input.extend(client_frame(PING, b"one"));
    input.extend(client_frame(CONTINUATION, b"men"));
    input.extend(client_frame(PING, b"two"));
    input.extend(client_frame(CONTINUATION_FIN, b"ted"));
    server.receive(&input);
    assert_eq!(
        messages(&mut server),
        [
            Message::Ping("one".into()),
            Message::Ping("two".into()),
            Message::text("fragmented"),
        ]
    );
    let pongs: Vec<_> = sent_frames(&mut server)
        .into_iter()
        .map(|f| (f.header.opcode, f.payload))
        .collect();
    assert_eq!(
        pongs,
        [(OpCode::Pong, "one".into()), (OpCode::Pong, "two".into())]
    );
}

#[test]
fn fragmented_binary_reassembles_across_single_byte_reads() {
    let mut server = server(Config::default());
    let mut input = client_frame(0x02, &[1, 2, 3]);
    input.extend(client_frame(CONTINUATION, &[]));
    input.extend(client_frame(CONTINUATION_FIN, &[4, 5]));
    let mut got = Vec::new();
    for byte in input {
        server.receive(&[byte]);
        got.extend(messages(&mut server));
    }
    assert_eq!(got, [Message::binary(vec![1, 2, 3, 4, 5])]);
}

#[test]
fn continuation_without_start_fails_with_1002() {
    for first in [CONTINUATION, CONTINUATION_FIN] {
        let mut server = server(Config::default());
        server.receive(&client_frame(first, b"orphan"));
        assert_eq!(
            violation(&mut server),
            ProtocolError::UnexpectedContinuation
        );
        assert_eq!(sent_close_code(&mut server), 1002);
    }
}

#[test]
fn continuation_after_a_complete_message_fails_with_1002() {
    let mut server = server(Config::default());
    server.receive(&client_frame(TEXT, b"whole"));
    server.receive(&client_frame(CONTINUATION_FIN, b"more"));
    assert_eq!(
        messages_until_failure(&mut server),
        [Message::text("whole")]
    );
    assert_eq!(sent_close_code(&mut server), 1002);
}

#[test]
fn new_message_inside_fragmented_message_fails_with_1002() {
    for start in [TEXT, BINARY, TEXT_START] {
        let mut server = server(Config::default());
        server.receive(&client_frame(TEXT_START, b"begun"));
        server.receive(&client_frame(start, b"again"));
        assert_eq!(violation(&mut server), ProtocolError::ExpectedContinuation);
        assert_eq!(sent_close_code(&mut server), 1002);
    }
}

#[test]
fn invalid_utf8_mid_frame_fails_fast_with_1007() {
    // Autobahn 6.4.1: the bytes proving the text invalid arrive in the first half of a frame
    // whose second half never comes.
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(&[0xf4, 0x90, 0x80, 0x80]);
    payload.extend_from_slice(b"-edited-".repeat(20).as_slice());
    let frame = client_frame(TEXT, &payload);
    let mut server = server(Config::default());
    server.receive(&frame[..frame.len() / 2]);
    assert_eq!(violation(&mut server), ProtocolError::InvalidUtf8);
    assert_eq!(sent_close_code(&mut server), 1007);
    assert!(server.is_closed());
}

#[test]
fn invalid_utf8_in_a_continuation_fails_before_it_completes() {
    let mut server = server(Config::default());
    server.receive(&client_frame(TEXT_START, "ok é".as_bytes()));
    let bad = client_frame(CONTINUATION_FIN, &[b'a', 0xc0, 0xaf, b'b', b'c', b'd']);
    server.receive(&bad[..bad.len() - 3]);
    assert_eq!(violation(&mut server), ProtocolError::InvalidUtf8);
    assert_eq!(sent_close_code(&mut server), 1007);
}

#[test]
fn text_ending_inside_a_code_point_fails_with_1007() {
    let mut server = server(Config::default());
    server.receive(&client_frame(TEXT_START, b"ab"));
    server.receive(&client_frame(CONTINUATION_FIN, &[0xe2, 0x82]));
    assert_eq!(violation(&mut server), ProtocolError::InvalidUtf8);
    assert_eq!(sent_close_code(&mut server), 1007);
}

#[test]
fn code_point_split_across_fragments_and_reads_is_valid() {
    let text = "a€𝄞é";
    let bytes = text.as_bytes();
    // Every split of the text into two fragments, each frame delivered in two reads.
    for cut in 0..=bytes.len() {
        let mut input = client_frame(TEXT_START, &bytes[..cut]);
        input.extend(client_frame(CONTINUATION_FIN, &bytes[cut..]));
        for read_cut in 0..=input.len() {
            let mut server = server(Config::default());
            server.receive(&input[..read_cut]);
            let mut got = messages(&mut server);
            server.receive(&input[read_cut..]);
            got.extend(messages(&mut server));
            assert_eq!(got, [Message::text(text)], "cut {cut} read cut {read_cut}");
        }
    }
}

/// The messages `conn` delivers before it fails (it must fail).
fn messages_until_failure(conn: &mut Connection) -> Vec<Message> {
    let mut out = Vec::new();
    loop {
        match conn.poll_message() {
            Ok(Some(message)) => out.push(message),
            Ok(None) => panic!("connection did not fail"),
            Err(Error::Protocol(_)) => return out,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
}
