//! Regressions found by the fuzz targets in `fuzz/`, each named after what broke.

use std::time::Instant;

use bytes::BufMut;
use wschat::protocol::Connection;
use wschat::{Config, Role};

/// fuzz target `connection`: a peer announcing a 60 MiB frame and then sending its payload one
/// byte per read made `read_buffer` double its reservation on every read, so 34 bytes from the
/// peer reserved 64 MiB (a memory amplification across many connections).
#[test]
fn read_buffer_grows_with_bytes_received_not_with_announced_length() {
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut head = vec![0x82, 0xFF];
    head.extend_from_slice(&(60u64 << 20).to_be_bytes());
    head.extend_from_slice(&[1, 2, 3, 4]);
    conn.receive(&head);
    assert!(conn.poll_message().unwrap().is_none());
    for received in 1..=64 {
        let buffer = conn.read_buffer();
        buffer.put_u8(0);
        assert!(
            buffer.capacity() <= 16 << 10,
            "capacity {} after {received} payload bytes",
            buffer.capacity()
        );
        assert!(conn.poll_message().unwrap().is_none());
    }
}
