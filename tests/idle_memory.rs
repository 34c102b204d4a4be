//! Per-connection memory: what a task awaiting the handshake keeps for the connection's life.

use wschat::ws::IncomingRequest;
use wschat::Config;

/// A spawned connection task is as large as the largest future it awaits. The handshake (head
/// reader, timer, response) is boxed inside `accept`, so that size is not carried by every open
/// connection (the load test's idle-memory figure went from 3.3 to 1.9 KiB per connection).
#[test]
fn accept_futures_do_not_carry_the_handshake_state() {
    let (stream, _peer) = tokio::io::duplex(64);
    let accept = wschat::accept(stream, Config::default());
    assert!(
        std::mem::size_of_val(&accept) <= 256,
        "{}",
        std::mem::size_of_val(&accept)
    );

    let (stream, _peer) = tokio::io::duplex(64);
    let accept = wschat::ws::accept_with(stream, Config::default(), |_| Ok(None));
    assert!(
        std::mem::size_of_val(&accept) <= 256,
        "{}",
        std::mem::size_of_val(&accept)
    );

    let (stream, _peer) = tokio::io::duplex(64);
    let read = IncomingRequest::read(stream, Config::default());
    assert!(
        std::mem::size_of_val(&read) <= 256,
        "{}",
        std::mem::size_of_val(&read)
    );
}
