//! The closing handshake (RFC 6455 section 7): echoing the code, validating the close payload,
//! and what may happen after a close.

use super::*;
use crate::frame::CloseCode;

#[test]
fn close_code_is_echoed_and_both_sides_end_closed() {
    let mut client = client(Config::default());
    let mut server = server(Config::default());
    client.close(Some(CloseFrame::new(CloseCode::new(4001).unwrap(), "bye")));
    assert!(client.close_sent() && !client.is_closed());
    pump(&mut client, &mut server);
    let received = messages(&mut server);
    assert_eq!(
        received,
        [Message::Close(Some(CloseFrame::new(
            CloseCode::new(4001).unwrap(),
            "bye"
        )))]
    );
    assert!(server.is_closed());
    assert!(server.closes_transport_first());
    pump(&mut server, &mut client);
    let reply = messages(&mut client);
    assert!(
        matches!(&reply[..], [Message::Close(Some(frame))] if frame.code.as_u16() == 4001),
        "{reply:?}"
    );
    assert!(client.is_closed());
    assert!(
        !client.closes_transport_first(),
        "the client waits for the server's TCP close"
    );
    assert!(
        client.poll_transmit().is_none(),
        "nothing answers the answer"
    );
}

#[test]
fn empty_close_is_answered_with_empty_close() {
    let mut server = server(Config::default());
    server.receive(&client_frame(CLOSE, &[]));
    assert_eq!(messages(&mut server), [Message::Close(None)]);
    assert_eq!(sent_close(&mut server), None);
    assert!(server.is_closed());
}

#[test]
fn one_byte_close_payload_fails_with_1002() {
    let mut server = server(Config::default());
    server.receive(&client_frame(CLOSE, &[0x03]));
    assert_eq!(violation(&mut server), ProtocolError::InvalidClosePayload);
    assert_eq!(sent_close_code(&mut server), 1002);
}

#[test]
fn invalid_close_codes_fail_with_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let mut server = server(Config::default());
        server.receive(&client_frame(CLOSE, &close_payload(code, b"")));
        assert_eq!(
            violation(&mut server),
            ProtocolError::InvalidCloseCode(code)
        );
        assert_eq!(sent_close_code(&mut server), 1002, "code {code}");
    }
}

#[test]
fn close_reason_with_invalid_utf8_fails_with_1007() {
    let mut server = server(Config::default());
    server.receive(&client_frame(
        CLOSE,
        &close_payload(
            1000,
            &[b'o', b'k', 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xed, 0xa0, 0x80],
        ),
    ));
    assert_eq!(violation(&mut server), ProtocolError::InvalidUtf8);
    assert_eq!(sent_close_code(&mut server), 1007);
}

#[test]
fn nothing_is_delivered_or_answered_after_the_peer_closes() {
    let mut server = server(Config::default());
    let mut input = client_frame(TEXT, b"before");
    input.extend(client_frame(CLOSE, &close_payload(1000, b"")));
    input.extend(client_frame(TEXT, b"after"));
    input.extend(client_frame(PING, b"after"));
    server.receive(&input);
    let got = messages(&mut server);
    assert_eq!(
        got,
        [
            Message::text("before"),
            Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
        ]
    );
    server.receive(&client_frame(TEXT, b"later still"));
    assert_eq!(messages(&mut server), []);
    let frames = sent_frames(&mut server);
    assert_eq!(frames.len(), 1, "only the close reply: {frames:?}");
    assert_eq!(frames[0].header.opcode, OpCode::Close);
}

#[test]
fn data_after_our_close_is_still_delivered_until_the_peer_answers() {
    // RFC 6455 section 7.1.2: after sending a close we keep reading until the peer's close.
    let mut server = server(Config::default());
    server.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "")));
    let _ = transmit(&mut server);
    let mut input = client_frame(TEXT, b"in flight");
    input.extend(client_frame(PING, b"p"));
    input.extend(client_frame(CLOSE, &close_payload(1001, b"")));
    server.receive(&input);
    let got = messages(&mut server);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], Message::text("in flight"));
    assert!(server.is_closed());
    assert!(
        sent_frames(&mut server).is_empty(),
        "no pong and no second close after our close"
    );
}

#[test]
fn send_after_close_is_refused() {
    let mut client = client(Config::default());
    client.close(None);
    for message in [
        Message::text("late"),
        Message::binary(vec![1]),
        Message::Ping("p".into()),
    ] {
        assert!(matches!(client.send(message), Err(Error::Closed(_))));
    }
    let frames = sent_frames(&mut client);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.opcode, OpCode::Close);
    assert!(frames[0].payload.is_empty());
}

#[test]
fn send_after_peer_close_is_refused() {
    let mut server = server(Config::default());
    server.receive(&client_frame(CLOSE, &close_payload(1000, b"")));
    let _ = messages(&mut server);
    assert!(matches!(
        server.send(Message::text("late")),
        Err(Error::Closed(_))
    ));
}

#[test]
fn our_close_follows_data_queued_before_it() {
    let mut server = server(Config::default());
    server.send(Message::text("last words")).unwrap();
    server.close(Some(CloseFrame::new(CloseCode::NORMAL, "")));
    let opcodes: Vec<_> = sent_frames(&mut server)
        .iter()
        .map(|f| f.header.opcode)
        .collect();
    assert_eq!(opcodes, [OpCode::Text, OpCode::Close]);
}

#[test]
fn message_queued_before_the_peer_close_is_sent_before_the_close_reply() {
    // Autobahn 7.1.1 in the sans-IO core: an echo of the message that preceded the peer's close
    // is queued before the close is processed, and must still leave before our close reply.
    let mut server = server(Config::default());
    let mut input = client_frame(TEXT, b"echo me");
    input.extend(client_frame(CLOSE, &close_payload(1000, b"")));
    server.receive(&input);
    let Ok(Some(echo)) = server.poll_message() else {
        panic!("the text message comes first");
    };
    server.send(echo).unwrap();
    assert!(matches!(
        server.poll_message(),
        Ok(Some(Message::Close(Some(_))))
    ));
    let frames = sent_frames(&mut server);
    let opcodes: Vec<_> = frames.iter().map(|f| f.header.opcode).collect();
    assert_eq!(opcodes, [OpCode::Text, OpCode::Close]);
    assert_eq!(&frames[0].payload[..], b"echo me");
}
