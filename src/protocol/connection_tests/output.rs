//! What a connection writes: automatic fragmentation, control replies ahead of data, bounded
//! control queues, and masking by role.

use std::collections::HashSet;

use super::*;

#[test]
fn fragment_size_splits_outgoing_messages_and_the_peer_reassembles() {
    let mut client = client(Config::default().with_fragment_size(Some(1000)));
    let mut server = server(Config::default());
    let text: String = "é€𝄞a".repeat(700);
    client.send(Message::text(text.clone())).unwrap();
    client.send(Message::binary(vec![9; 999])).unwrap();
    let bytes = transmit(&mut client);
    let frames = decode_frames(&bytes, Role::Client);
    let expected_text_frames = text.len().div_ceil(1000);
    assert_eq!(frames.len(), expected_text_frames + 1);
    assert_eq!(frames[0].header.opcode, OpCode::Text);
    for (i, frame) in frames[..expected_text_frames].iter().enumerate() {
        assert!(frame.payload.len() <= 1000);
        assert_eq!(frame.header.fin, i == expected_text_frames - 1);
        if i > 0 {
            assert_eq!(frame.header.opcode, OpCode::Continuation);
        }
    }
    assert_eq!(frames[expected_text_frames].header.opcode, OpCode::Binary);
    server.receive(&bytes);
    assert_eq!(
        messages(&mut server),
        [Message::text(text), Message::binary(vec![9; 999])]
    );
}

#[test]
fn pong_leaves_before_data_queued_earlier() {
    let mut server = server(Config::default());
    server.send(Message::binary(vec![1; 100])).unwrap();
    server.send(Message::binary(vec![2; 100_000])).unwrap();
    server.receive(&client_frame(PING, b"urgent"));
    assert_eq!(messages(&mut server), [Message::Ping("urgent".into())]);
    let frames = sent_frames(&mut server);
    let opcodes: Vec<_> = frames.iter().map(|f| f.header.opcode).collect();
    assert_eq!(opcodes, [OpCode::Pong, OpCode::Binary, OpCode::Binary]);
    assert_eq!(&frames[0].payload[..], b"urgent");
}

#[test]
fn pong_never_lands_inside_a_data_frame_being_written() {
    let mut server = server(Config::default());
    server.send(Message::binary(vec![2; 100_000])).unwrap();
    let header = server.poll_transmit().expect("the data frame's header");
    server.receive(&client_frame(PING, b"p"));
    let _ = messages(&mut server);
    let mut bytes = header.to_vec();
    bytes.extend(transmit(&mut server));
    let opcodes: Vec<_> = decode_frames(&bytes, Role::Server)
        .iter()
        .map(|f| f.header.opcode)
        .collect();
    assert_eq!(opcodes, [OpCode::Binary, OpCode::Pong]);
}

#[test]
fn ping_flood_while_nothing_is_written_keeps_queued_control_bounded() {
    let mut server = server(Config::default());
    let ping = client_frame(PING, &[b'x'; 125]);
    for _ in 0..10_000 {
        server.receive(&ping);
        assert!(matches!(server.poll_message(), Ok(Some(Message::Ping(_)))));
    }
    let bytes = transmit(&mut server);
    assert!(
        bytes.len() < 8 << 10,
        "{} bytes of pongs queued for 10000 pings",
        bytes.len()
    );
    let frames = decode_frames(&bytes, Role::Server);
    assert!(frames.iter().all(|f| f.header.opcode == OpCode::Pong));
    assert!(!frames.is_empty());
}

#[test]
fn latest_ping_is_answered_after_a_flood() {
    let mut server = server(Config::default());
    for i in 0..1000u32 {
        server.receive(&client_frame(PING, &i.to_be_bytes()));
    }
    let _ = messages(&mut server);
    let frames = sent_frames(&mut server);
    assert_eq!(
        &frames.last().expect("pongs").payload[..],
        &999u32.to_be_bytes()
    );
}

#[test]
fn unsolicited_pong_is_surfaced_and_not_answered() {
    let mut server = server(Config::default());
    server.receive(&client_frame(PONG, b"hb"));
    assert_eq!(messages(&mut server), [Message::Pong("hb".into())]);
    assert!(server.poll_transmit().is_none());
}

#[test]
fn client_masks_every_frame_with_a_fresh_key() {
    let mut client = client(Config::default().with_fragment_size(Some(10)));
    for i in 0..20u8 {
        client.send(Message::binary(vec![i; 25])).unwrap();
        client.send(Message::Ping(vec![i].into())).unwrap();
    }
    client.close(None);
    let frames = sent_frames(&mut client);
    assert_eq!(frames.len(), 20 * 4 + 1);
    let keys: HashSet<[u8; 4]> = frames
        .iter()
        .map(|f| f.header.mask.expect("every client frame is masked"))
        .collect();
    // 81 random 32-bit keys: a repeat has probability below 1e-6.
    assert_eq!(keys.len(), frames.len());
}

#[test]
fn server_frames_are_unmasked() {
    let mut server = server(Config::default().with_fragment_size(Some(10)));
    server.send(Message::binary(vec![1; 100])).unwrap();
    server.send(Message::Ping("p".into())).unwrap();
    assert!(sent_frames(&mut server)
        .iter()
        .all(|f| f.header.mask.is_none()));
}

#[test]
fn server_fails_connection_on_unmasked_frame() {
    let mut server = server(Config::default());
    server.receive(&server_frame(TEXT, b"not masked"));
    assert_eq!(
        violation(&mut server),
        ProtocolError::UnmaskedFrameFromClient
    );
    assert_eq!(sent_close_code(&mut server), 1002);
}

#[test]
fn client_fails_connection_on_masked_frame() {
    let mut client = client(Config::default());
    client.receive(&client_frame(TEXT, b"masked"));
    assert_eq!(violation(&mut client), ProtocolError::MaskedFrameFromServer);
    assert_eq!(sent_close_code(&mut client), 1002);
}

#[test]
fn reserved_bits_and_opcodes_fail_with_1002() {
    let firsts = [0xC1u8, 0xA1, 0x91, 0x83, 0x87, 0x8B, 0x8F];
    for first in firsts {
        let mut server = server(Config::default());
        server.receive(&client_frame(TEXT, b"fine"));
        server.receive(&client_frame(first, b"bad"));
        assert_eq!(
            server.poll_message().unwrap(),
            Some(Message::text("fine")),
            "{first:#x}"
        );
        assert!(matches!(server.poll_message(), Err(Error::Protocol(_))));
        assert_eq!(sent_close_code(&mut server), 1002, "{first:#x}");
    }
}

#[test]
fn fragmented_and_oversized_control_frames_fail_with_1002() {
    let mut fragmented = server(Config::default());
    fragmented.receive(&client_frame(0x09, b"ping"));
    assert_eq!(
        violation(&mut fragmented),
        ProtocolError::FragmentedControlFrame
    );
    assert_eq!(sent_close_code(&mut fragmented), 1002);
    let mut long = server(Config::default());
    long.receive(&client_frame(PING, &[0; 126]));
    assert_eq!(
        violation(&mut long),
        ProtocolError::ControlFrameTooLong(126)
    );
    assert_eq!(sent_close_code(&mut long), 1002);
}

#[test]
fn data_queued_before_a_violation_leaves_before_the_failure_close_and_nothing_after() {
    // Autobahn 3.2 in the sans-IO core: the echo of a valid message that preceded a bad frame is
    // queued before the bad frame is processed, and must still be sent.
    let mut server = server(Config::default());
    server.receive(&client_frame(TEXT, b"valid"));
    server.receive(&client_frame(0x83, b""));
    let echo = server
        .poll_message()
        .unwrap()
        .expect("the valid text first");
    server.send(echo).unwrap();
    let _ = failure(&mut server);
    assert!(matches!(server.poll_message(), Ok(None)));
    server.receive(&client_frame(PING, b"after"));
    assert!(matches!(server.poll_message(), Ok(None)));
    assert!(matches!(
        server.send(Message::text("late")),
        Err(Error::Closed(_))
    ));
    let frames = sent_frames(&mut server);
    let opcodes: Vec<_> = frames.iter().map(|f| f.header.opcode).collect();
    assert_eq!(opcodes, [OpCode::Text, OpCode::Close], "{frames:?}");
    assert_eq!(&frames[0].payload[..], b"valid");
}
