//! The chat server's defences against abuse, end to end over loopback: connection caps (total,
//! per address, and the race for the last slot), the Origin check, flood control and the
//! handshake timeout. Each test fails without its defence.

mod chat_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chat_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wschat::handshake::{ClientRequest, HandshakeError};
use wschat::ws::ClientStream;
use wschat::{CloseCode, Config, Error, Message};

/// Sends an upgrade request for `/chat` with `extra` header lines from `source` (any port), and
/// returns the whole response the server sends before closing.
async fn raw_upgrade(addr: SocketAddr, extra: &str, source: Option<&str>) -> String {
    let mut stream = tcp_from(addr, source).await;
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        // A 101 leaves the connection open: stop at the end of its head.
        if response.starts_with(b"HTTP/1.1 101") && response.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        match within("the response", stream.read(&mut chunk)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

async fn tcp_from(addr: SocketAddr, source: Option<&str>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(source) = source {
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    }
    within("tcp connect", socket.connect(addr)).await.unwrap()
}

/// Connects a plain client from a given source address.
async fn connect_from(server: &TestServer, source: &str) -> Result<Ws, Error> {
    let stream = tcp_from(server.addr, Some(source)).await;
    let request = ClientRequest::from_url(&server.url()).unwrap();
    within(
        "handshake",
        wschat::ws::client_with_stream(ClientStream::Plain(stream), request, Config::default()),
    )
    .await
    .map(|(ws, _)| ws)
}

fn refused_with(result: Result<Ws, Error>, status: u16) {
    match result {
        Err(Error::Handshake(HandshakeError::Rejected { status: got, .. })) => {
            assert_eq!(got, status);
        }
        Err(other) => panic!("expected HTTP {status}, got {other}"),
        Ok(_) => panic!("expected HTTP {status}, got a connection"),
    }
}

/// Retries `connect` until it succeeds (a slot is released when the session has ended, a
/// moment after the client sees the close).
async fn join_when_free(server: &TestServer) -> Ws {
    let deadline = Instant::now() + LIMIT;
    loop {
        match wschat::connect(&server.url()).await {
            Ok(ws) => return ws,
            Err(error) if Instant::now() < deadline => {
                eprintln!("not yet: {error}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("the slot was never freed: {error}"),
        }
    }
}

#[tokio::test]
async fn past_the_cap_upgrades_get_503_while_the_others_chat_and_a_leaving_client_frees_its_slot() {
    let server = TestServer::start(&["--max-connections", "2"]).await;
    let mut clients = join_many(&server, 2).await;
    let response = raw_upgrade(server.addr, "", None).await;
    assert!(
        response.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nRetry-After: 10\r\n"), "{response}");
    assert!(
        response.contains("The chat is full (2 connections)"),
        "{response}"
    );
    refused_with(wschat::connect(&server.url()).await, 503);

    send(&mut clients[0], "still here").await;
    for client in &mut clients {
        expect_text(client, "[user0]: still here").await;
    }
    let mut leaving = clients.pop().unwrap();
    within("close", leaving.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap();
    let mut newcomer = join_when_free(&server).await;
    let greeting = recv_until(&mut newcomer, "You are connected! There are 2 users here.").await;
    assert!(greeting.len() <= 1, "history only: {greeting:?}");
    drop(clients);
    server.shutdown().await;
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections() {
    let server = TestServer::start(&["--max-connections-per-ip", "2"]).await;
    let first = connect_from(&server, "127.0.0.1").await.unwrap();
    let _second = connect_from(&server, "127.0.0.1").await.unwrap();
    let response = raw_upgrade(server.addr, "", Some("127.0.0.1")).await;
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    assert!(response.contains("Retry-After: 10"), "{response}");
    assert!(
        response.contains("Too many connections from your address (2)"),
        "{response}"
    );
    // Another address is not affected.
    let mut other = connect_from(&server, "127.0.0.2").await.unwrap();
    expect_text(&mut other, "You are connected! There are 3 users here.").await;
    drop(first);
    let deadline = Instant::now() + LIMIT;
    while connect_from(&server, "127.0.0.1").await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the address's slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upgrades_racing_for_the_last_slots_never_exceed_the_cap() {
    const CAP: usize = 10;
    const RACERS: usize = 80;
    // One address opens them all at once: lift its handshake cap, which is tested below.
    let server = TestServer::start(&[
        "--max-connections",
        "10",
        "--max-pending-handshakes-per-ip",
        "0",
    ])
    .await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let url = server.url();
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                wschat::connect(&url).await
            })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut refused = 0;
    for racer in racers {
        match within("a racer", racer).await.unwrap() {
            Ok(ws) => admitted.push(ws),
            Err(Error::Handshake(HandshakeError::Rejected { status: 503, .. })) => refused += 1,
            Err(other) => panic!("unexpected failure: {other}"),
        }
    }
    assert_eq!(admitted.len(), CAP, "exactly the cap is admitted");
    assert_eq!(refused, RACERS - CAP);
    // All admitted connections are real members of the room.
    send(&mut admitted[0], "/users").await;
    loop {
        let line = recv_text(&mut admitted[0]).await;
        if line.contains(" users here: ") {
            assert!(line.starts_with("10 users here: "), "{line}");
            break;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn by_default_only_pages_from_the_same_host_may_connect() {
    let server = TestServer::start(&[]).await;
    let own = format!("Origin: http://{}\r\n", server.addr);
    assert!(raw_upgrade(server.addr, &own, None)
        .await
        .starts_with("HTTP/1.1 101 "));
    assert!(
        raw_upgrade(server.addr, "", None)
            .await
            .starts_with("HTTP/1.1 101 "),
        "no Origin: not a browser, allowed"
    );
    for foreign in [
        "http://evil.example".to_owned(),
        format!("http://127.0.0.1:{}", server.addr.port() + 1),
        format!("https://localhost:{}", server.addr.port()),
        "null".to_owned(),
    ] {
        let response = raw_upgrade(server.addr, &format!("Origin: {foreign}\r\n"), None).await;
        assert!(
            response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{foreign}: {response}"
        );
        assert!(response.contains(&foreign), "the body names it: {response}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_allow_list_admits_exactly_its_origins() {
    let server = TestServer::start(&[
        "--allowed-origin",
        "https://chat.example.com",
        "--allowed-origin",
        "http://localhost:3000",
    ])
    .await;
    for allowed in [
        "https://chat.example.com",
        "https://Chat.Example.com:443",
        "http://localhost:3000",
    ] {
        let response = raw_upgrade(server.addr, &format!("Origin: {allowed}\r\n"), None).await;
        assert!(
            response.starts_with("HTTP/1.1 101 "),
            "{allowed}: {response}"
        );
    }
    let own = format!("http://{}", server.addr);
    for refused in [
        own.as_str(),
        "http://chat.example.com",
        "http://localhost:3001",
    ] {
        let response = raw_upgrade(server.addr, &format!("Origin: {refused}\r\n"), None).await;
        assert!(
            response.starts_with("HTTP/1.1 403 "),
            "{refused}: {response}"
        );
    }
    server.shutdown().await;
}

/// A flooder sends 100 messages/s for up to 15 s while a polite client sends 2/s: the flooder
/// gets `error: slow down` lines, its refused messages reach nobody, and after 10 s of flooding
/// it is closed with 1008; the polite client is never throttled and the room goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_throttled_then_closed_with_1008_while_the_room_goes_on() {
    let server = TestServer::start(&[]).await;
    let mut clients = join_many(&server, 2).await;
    let polite = clients.pop().unwrap();
    let flooder = clients.pop().unwrap();

    let flood = tokio::spawn(async move {
        let (mut reader, mut writer) = flooder.split();
        let sending = tokio::spawn(async move {
            for n in 0..1500 {
                if writer
                    .send(Message::text(format!("flood {n}")))
                    .await
                    .is_err()
                {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            1500
        });
        let started = Instant::now();
        let (mut errors, mut first_error, mut delivered_own) = (0, None, 0);
        let close = loop {
            match tokio::time::timeout(Duration::from_secs(20), reader.recv()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let text = text.as_str();
                    if text.starts_with("error: slow down: ") {
                        errors += 1;
                        first_error.get_or_insert_with(Instant::now);
                    } else if text.starts_with("[user0]: flood ") {
                        delivered_own += 1;
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => break frame,
                Ok(Some(Ok(_))) => {}
                other => panic!("the flooder expected a close, got {other:?}"),
            }
        };
        sending.abort();
        let flooded_for = first_error.map(|at| at.elapsed());
        (close, errors, delivered_own, flooded_for, started.elapsed())
    });

    // The polite client: 2 messages per second, and everything it sees.
    let (mut reader, mut writer) = polite.split();
    let polite_sender = tokio::spawn(async move {
        for n in 0..24 {
            writer
                .send(Message::text(format!("polite {n}")))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        writer
    });
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|line: &String| line == "[user1]: polite 23")
    {
        match tokio::time::timeout(Duration::from_secs(20), reader.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => seen.push(text.as_str().to_owned()),
            Ok(Some(Ok(_))) => {}
            other => panic!("the polite client lost its connection: {other:?}"),
        }
    }
    let (close, errors, delivered_own, flooded_for, total) =
        within("the flooder", flood).await.unwrap();
    let close = close.expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::POLICY_VIOLATION);
    assert!(close.reason.starts_with("flooding: "), "{}", close.reason);
    let flooded_for = flooded_for.expect("error lines before the close");
    assert!(
        flooded_for >= Duration::from_millis(9_500) && total < Duration::from_secs(14),
        "closed after {flooded_for:?} of refusals ({total:?} in all)"
    );
    assert!(errors > 100, "each refused message is answered: {errors}");

    // Nobody saw a refused message: what the polite client saw of the flood is what the
    // flooder saw of its own accepted messages, and no error reached the polite client.
    let flood_seen = seen
        .iter()
        .filter(|l| l.starts_with("[user0]: flood "))
        .count();
    assert!(
        flood_seen <= delivered_own,
        "{flood_seen} > {delivered_own}"
    );
    assert!(
        (40..=300).contains(&flood_seen),
        "a burst of 40 then about 20/s: {flood_seen}"
    );
    assert!(!seen.iter().any(|l| l.starts_with("error: ")), "{seen:?}");
    let polite_lines: Vec<&String> = seen.iter().filter(|l| l.starts_with("[user1]: ")).collect();
    assert_eq!(polite_lines.len(), 24, "every polite message arrived");
    assert!(seen.iter().any(|l| l == "user0 left"));

    let mut writer = within("the polite sender", polite_sender).await.unwrap();
    writer.send(Message::text("after the flood")).await.unwrap();
    loop {
        match within("the room goes on", reader.recv()).await {
            Some(Ok(Message::Text(text))) if text.as_str() == "[user1]: after the flood" => break,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    server.shutdown().await;
}

/// A client that never finishes its request head is dropped after `--handshake-timeout`.
#[tokio::test]
async fn a_slowloris_head_is_dropped_after_the_handshake_timeout() {
    let server = TestServer::start(&["--handshake-timeout", "1s"]).await;
    let mut stream = tcp_from(server.addr, None).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /chat HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dropped = async {
        loop {
            // One byte of a never-ending header every 100 ms.
            if stream.write_all(b"X").await.is_err() {
                return;
            }
            let mut byte = [0; 1];
            match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(_)) => panic!("the server answered a head that never ended"),
                Err(_) => {}
            }
        }
    };
    within("the server drops the connection", dropped).await;
    let elapsed = started.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&elapsed),
        "dropped after {elapsed:?}"
    );
    // Meanwhile everyone else is served.
    let (_ws, _, greeting) = join(&server).await;
    assert_eq!(greeting, "You are connected! There are 1 users here.");
    server.shutdown().await;
}

#[tokio::test]
async fn a_head_over_8_kib_gets_431() {
    let server = TestServer::start(&[]).await;
    let padding = format!("X-Padding: {}\r\n", "a".repeat(9000));
    let response = raw_upgrade(server.addr, &padding, None).await;
    assert!(
        response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{response}"
    );
    server.shutdown().await;
}

/// What the server sends on `stream` before closing it, if it closes it within one second.
async fn answer_and_close(stream: &mut TcpStream) -> Option<String> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut answer));
    match read.await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// Whether the server closes `stream` (EOF or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0; 1];
    matches!(
        tokio::time::timeout(wait, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Connections that never send their request hold a handshake slot until the handshake
/// timeout; past the caps (in all, and per address) new connections are closed at once, and
/// the slots come back when the idle ones are dropped.
#[tokio::test]
async fn handshakes_in_progress_are_capped_in_all_and_per_address() {
    let server = TestServer::start(&[
        "--max-pending-handshakes",
        "4",
        "--max-pending-handshakes-per-ip",
        "2",
        "--handshake-timeout",
        "2s",
    ])
    .await;
    let mut idle = vec![
        tcp_from(server.addr, Some("127.0.0.1")).await,
        tcp_from(server.addr, Some("127.0.0.1")).await,
    ];
    let mut third = tcp_from(server.addr, Some("127.0.0.1")).await;
    let answer = answer_and_close(&mut third).await;
    let answer = answer.expect("a third handshake from one address is closed at once");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: 10"), "{answer}");
    assert!(answer.contains("from your address"), "{answer}");
    idle.push(tcp_from(server.addr, Some("127.0.0.2")).await);
    idle.push(tcp_from(server.addr, Some("127.0.0.3")).await);
    let mut fifth = tcp_from(server.addr, Some("127.0.0.4")).await;
    let answer = answer_and_close(&mut fifth).await;
    let answer = answer.expect("a fifth handshake is closed at once");
    assert!(answer.contains("busy with other handshakes"), "{answer}");
    for stream in &mut idle {
        assert!(
            !closed_within(stream, Duration::from_millis(100)).await,
            "the idle ones wait for the timeout"
        );
    }
    // The handshake timeout frees every slot; then anyone can connect again.
    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(3)).await);
    }
    let (_ws, _, greeting) = join(&server).await;
    assert_eq!(greeting, "You are connected! There are 1 users here.");
    server.shutdown().await;
}
