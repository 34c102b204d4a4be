//! Frame, message and fragment-count limits: each fails with 1009 before the data is buffered.

use super::*;

#[test]
fn frame_over_max_frame_size_fails_with_1009_from_the_header_alone() {
    let mut server = server(Config::default().with_max_frame_size(1 << 20));
    // The header announces 1 GiB; only the header and a few payload bytes ever arrive.
    let mut input = vec![BINARY, 0x80 | 127];
    input.extend_from_slice(&(1u64 << 30).to_be_bytes());
    input.extend_from_slice(&KEY);
    input.extend_from_slice(&[0; 16]);
    server.read_buffer().extend_from_slice(&input);
    assert_eq!(
        violation(&mut server),
        ProtocolError::FrameTooLarge {
            len: 1 << 30,
            max: 1 << 20
        }
    );
    assert_eq!(sent_close_code(&mut server), 1009);
    assert!(
        server.read_buffer().capacity() < 64 << 10,
        "the announced length was not allocated"
    );
}

#[test]
fn frame_at_max_frame_size_is_accepted() {
    let mut server = server(Config::default().with_max_frame_size(1000));
    server.receive(&client_frame(BINARY, &[7; 1000]));
    assert_eq!(messages(&mut server), [Message::binary(vec![7; 1000])]);
}

#[test]
fn read_buffer_grows_with_the_data_that_arrived_not_with_the_announced_length() {
    let mut server = server(Config::default());
    let frame = client_frame(BINARY, &vec![1; 8 << 20]);
    server.read_buffer().extend_from_slice(&frame[..100]);
    assert!(messages(&mut server).is_empty());
    assert!(server.read_buffer().capacity() < 64 << 10);
}

#[test]
fn message_over_max_message_size_fails_at_the_offending_fragment_header() {
    let mut server = server(Config::default().with_max_message_size(1000));
    server.receive(&client_frame(0x02, &[1; 600]));
    server.receive(&client_frame(CONTINUATION, &[2; 400]));
    assert!(
        messages(&mut server).is_empty(),
        "exactly 1000 bytes so far"
    );
    // Only the header of the fragment that would exceed the limit arrives.
    let next = client_frame(CONTINUATION_FIN, &[3; 10]);
    server.receive(&next[..6]);
    assert_eq!(
        violation(&mut server),
        ProtocolError::MessageTooLarge {
            len: 1010,
            max: 1000
        }
    );
    assert_eq!(sent_close_code(&mut server), 1009);
}

#[test]
fn single_frame_message_over_max_message_size_fails_with_1009() {
    let mut server = server(Config::default().with_max_message_size(100));
    let frame = client_frame(TEXT, &[b'a'; 101]);
    server.receive(&frame[..8]);
    assert!(matches!(
        violation(&mut server),
        ProtocolError::MessageTooLarge { len: 101, .. }
    ));
    assert_eq!(sent_close_code(&mut server), 1009);
}

#[test]
fn fragment_flood_fails_with_1009() {
    let mut server = server(Config::default().with_max_fragments(100));
    let mut input = client_frame(TEXT_START, b"");
    for _ in 0..99 {
        input.extend(client_frame(CONTINUATION, b""));
    }
    server.receive(&input);
    assert!(
        messages(&mut server).is_empty(),
        "100 fragments are allowed"
    );
    server.receive(&client_frame(CONTINUATION, b""));
    assert_eq!(
        violation(&mut server),
        ProtocolError::TooManyFragments { max: 100 }
    );
    assert_eq!(sent_close_code(&mut server), 1009);
}

#[test]
fn message_with_max_fragments_is_delivered() {
    let mut server = server(Config::default().with_max_fragments(3));
    let mut input = client_frame(TEXT_START, b"a");
    input.extend(client_frame(CONTINUATION, b"b"));
    input.extend(client_frame(CONTINUATION_FIN, b"c"));
    server.receive(&input);
    assert_eq!(messages(&mut server), [Message::text("abc")]);
}

#[test]
fn control_frames_between_fragments_do_not_count_as_fragments() {
    let mut server = server(Config::default().with_max_fragments(2));
    let mut input = client_frame(TEXT_START, b"a");
    for _ in 0..10 {
        input.extend(client_frame(PING, b""));
    }
    input.extend(client_frame(CONTINUATION_FIN, b"b"));
    server.receive(&input);
    assert_eq!(messages(&mut server).last(), Some(&Message::text("ab")));
}
