//! Keepalive with time as an input: pings at the interval, failure after the timeout, and no
//! failure while the peer keeps answering.

use std::time::Duration;

use super::*;

const INTERVAL: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(25);

fn keepalive_config() -> Config {
    Config::default().with_keepalive(INTERVAL, TIMEOUT)
}

#[test]
fn no_timer_without_keepalive() {
    let server = server(Config::default());
    assert_eq!(server.poll_timeout(), None);
    assert!(!server.wants_time());
}

#[test]
fn ping_is_sent_after_the_interval() {
    let start = Instant::now();
    let mut server = Connection::new(Role::Server, keepalive_config(), start);
    assert_eq!(server.poll_timeout(), Some(start + INTERVAL));
    server.handle_timeout(start + INTERVAL - Duration::from_millis(1));
    assert!(
        server.poll_transmit().is_none(),
        "no ping before the interval"
    );
    server.handle_timeout(start + INTERVAL);
    let frames = sent_frames(&mut server);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.opcode, OpCode::Ping);
    assert_eq!(server.poll_timeout(), Some(start + 2 * INTERVAL));
}

#[test]
fn silent_peer_fails_with_keepalive_timeout() {
    let start = Instant::now();
    let mut server = Connection::new(Role::Server, keepalive_config(), start);
    let mut pings = 0;
    for _ in 0..10 {
        let Some(deadline) = server.poll_timeout() else {
            break;
        };
        server.handle_timeout(deadline);
        pings += sent_frames(&mut server)
            .iter()
            .filter(|f| f.header.opcode == OpCode::Ping)
            .count();
    }
    assert_eq!(pings, 2, "pings at 10 s and 20 s, failure at 25 s");
    assert!(matches!(
        server.poll_message(),
        Err(Error::KeepaliveTimeout)
    ));
    assert!(server.is_closed());
    assert_eq!(server.poll_timeout(), None);
    assert!(matches!(server.poll_message(), Ok(None)));
}

#[test]
fn close_is_sent_when_the_keepalive_times_out() {
    let start = Instant::now();
    let mut client = Connection::new(Role::Client, keepalive_config(), start);
    client.handle_timeout(start + TIMEOUT);
    assert_eq!(sent_close_code(&mut client), 1001);
    assert!(matches!(
        client.poll_message(),
        Err(Error::KeepaliveTimeout)
    ));
}

#[test]
fn answered_pings_keep_the_connection_open() {
    let start = Instant::now();
    let mut server = Connection::new(Role::Server, keepalive_config(), start);
    let mut client = Connection::new(Role::Client, Config::default(), start);
    let mut now = start;
    for _ in 0..30 {
        now = server.poll_timeout().expect("keepalive stays armed");
        server.handle_timeout(now);
        pump(&mut server, &mut client);
        let _ = messages(&mut client);
        // The client's pong arrives a second later.
        now += Duration::from_secs(1);
        pump(&mut client, &mut server);
        server.mark_received(now);
        assert!(matches!(messages(&mut server)[..], [Message::Pong(_)]));
    }
    assert!(now > start + 10 * TIMEOUT);
    assert!(!server.is_closed());
    // Then the client goes silent.
    let deadline = now + TIMEOUT;
    for _ in 0..10 {
        let Some(next) = server.poll_timeout() else {
            break;
        };
        assert!(next <= deadline, "timer past the silence deadline");
        server.handle_timeout(next);
    }
    assert!(matches!(
        server.poll_message(),
        Err(Error::KeepaliveTimeout)
    ));
}

#[test]
fn any_received_data_counts_as_a_sign_of_life() {
    let start = Instant::now();
    let mut server = Connection::new(Role::Server, keepalive_config(), start);
    let at = start + Duration::from_secs(20);
    server.receive(&client_frame(TEXT, b"still here"));
    server.mark_received(at);
    let _ = messages(&mut server);
    server.handle_timeout(start + TIMEOUT);
    assert!(!server.is_closed());
    assert_eq!(
        server.poll_timeout(),
        Some(start + TIMEOUT + INTERVAL),
        "next ping an interval after the late tick, before the silence deadline at 45 s"
    );
    server.handle_timeout(at + TIMEOUT);
    assert!(server.is_closed());
}
