//! How much room `Connection::read_buffer` prepares: it follows the bytes that actually arrive.

use std::time::Instant;

use bytes::BufMut;
use wschat::frame::{encode_frame, OpCode};
use wschat::protocol::Connection;
use wschat::{Config, Message, Role};

fn room(conn: &mut Connection) -> usize {
    let buffer = conn.read_buffer();
    buffer.capacity() - buffer.len()
}

/// An endless stream of masked 100-byte frames, handed out in reads of any size.
struct Peer {
    frame: Vec<u8>,
    pos: usize,
}

impl Peer {
    fn new() -> Self {
        let mut frame = bytes::BytesMut::new();
        encode_frame(
            &mut frame,
            OpCode::Binary,
            true,
            &[7; 100],
            Some([1, 2, 3, 4]),
        );
        Self {
            frame: frame.to_vec(),
            pos: 0,
        }
    }

    fn next(&mut self, n: usize) -> Vec<u8> {
        let out = (0..n)
            .map(|i| self.frame[(self.pos + i) % self.frame.len()])
            .collect();
        self.pos = (self.pos + n) % self.frame.len();
        out
    }
}

/// One read that fills all the room `read_buffer` offers, then the messages drained; returns
/// the room that was offered.
fn full_read(conn: &mut Connection, peer: &mut Peer) -> usize {
    let buffer = conn.read_buffer();
    let offered = buffer.capacity() - buffer.len();
    buffer.put_slice(&peer.next(offered));
    while conn.poll_message().unwrap().is_some() {}
    offered
}

#[test]
fn reads_that_fill_their_room_double_the_next_one_up_to_a_cap() {
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut peer = Peer::new();
    let first = full_read(&mut conn, &mut peer);
    let second = full_read(&mut conn, &mut peer);
    let third = full_read(&mut conn, &mut peer);
    assert!(second >= 2 * first.min(4 << 10), "{first} then {second}");
    assert!(third >= 2 * (4 << 10), "{first}, {second}, {third}");
    let mut last = third;
    for _ in 0..10 {
        last = full_read(&mut conn, &mut peer);
    }
    assert!(last <= 256 << 10, "room grew to {last}");
}

#[test]
fn short_reads_shrink_the_room_back() {
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut peer = Peer::new();
    for _ in 0..6 {
        full_read(&mut conn, &mut peer);
    }
    let big = room(&mut conn);
    // Finish the partial frame, then one small read per frame.
    let rest = peer.frame.len() - peer.pos;
    conn.read_buffer().put_slice(&peer.next(rest));
    while conn.poll_message().unwrap().is_some() {}
    for _ in 0..8 {
        let frame = peer.next(peer.frame.len());
        conn.read_buffer().put_slice(&frame);
        assert!(conn.poll_message().unwrap().is_some());
        conn.release_idle_buffers();
    }
    let small = room(&mut conn);
    assert!(small < big && small <= 8 << 10, "{big} then {small}");
}

/// One message at a time (an echo with one message in flight): each 16 KiB frame arrives whole
/// while the reader waits, and is read with as many reads as the room offered needs. After a
/// few messages, one read per message: the read that fetches a frame's tail must not shrink the
/// room again (it made every 16 KiB message take two reads: 16384 bytes, then 8).
#[test]
fn messages_arriving_one_at_a_time_settle_to_one_read_each() {
    let mut frame = bytes::BytesMut::new();
    encode_frame(
        &mut frame,
        OpCode::Binary,
        true,
        &[7; 16 << 10],
        Some([1, 2, 3, 4]),
    );
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut reads_per_message = Vec::new();
    for _ in 0..20 {
        let mut sent = 0;
        let mut reads = 0;
        loop {
            let buffer = conn.read_buffer();
            let room = buffer.capacity() - buffer.len();
            let n = room.min(frame.len() - sent);
            buffer.put_slice(&frame[sent..sent + n]);
            sent += n;
            reads += 1;
            if let Some(message) = conn.poll_message().unwrap() {
                assert!(
                    matches!(message, Message::Binary(ref payload) if payload.len() == 16 << 10)
                );
                break;
            }
        }
        assert_eq!(sent, frame.len());
        reads_per_message.push(reads);
        // The reader then waits for more: the connection is idle between messages.
        conn.release_idle_buffers();
    }
    assert!(
        reads_per_message[5..].iter().all(|&reads| reads == 1),
        "{reads_per_message:?}"
    );
}
