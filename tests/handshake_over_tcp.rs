//! The opening handshake over real TCP: raw requests against `accept` / `accept_with` (every
//! refusal status, tolerant header parsing, a request trickling in byte by byte, a pipelined first
//! frame), and `connect` against raw servers that answer wrongly.

mod common;

use std::net::SocketAddr;

use common::*;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wschat::handshake::{ClientRequest, HandshakeError, Rejection};
use wschat::{Config, Error, Message};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// What the server side of one connection ended with: the HTTP status it answered.
type Statuses = mpsc::UnboundedReceiver<u16>;

/// A server that accepts with `accept` and echoes; reports 101 or the rejection status.
async fn accept_server(config: Config) -> (SocketAddr, Statuses) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, statuses) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let report = report.clone();
            let config = config.clone();
            tokio::spawn(async move {
                match wschat::accept(stream, config).await {
                    Ok(mut ws) => {
                        let _ = report.send(101);
                        while let Some(Ok(message)) = ws.recv().await {
                            if message.is_data() {
                                let _ = ws.send(message).await;
                            }
                        }
                    }
                    Err(Error::Rejected(rejection)) => {
                        let _ = report.send(rejection.status());
                    }
                    Err(other) => panic!("unexpected accept error {other:?}"),
                }
            });
        }
    });
    (addr, statuses)
}

/// A valid request head with `replace` substitutions applied.
fn request(replace: &[(&str, &str)]) -> String {
    let mut head = format!(
        "GET /chat?room=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    for (from, to) in replace {
        assert!(head.contains(from), "{from} not in the request");
        head = head.replacen(from, to, 1);
    }
    head
}

/// Sends `head` raw and returns the response head and body (read to EOF when not a 101).
async fn exchange(addr: SocketAddr, head: &[u8]) -> (String, RawPeer) {
    let stream = within(tokio::net::TcpStream::connect(addr)).await.unwrap();
    let mut peer = RawPeer::from_stream(stream, true);
    peer.send_raw(head).await;
    let response = peer.read_head().await;
    (response, peer)
}

/// Sends `head` and expects a refusal with `status`, a plain-text body, and the connection
/// closed; the server must report the same status.
async fn expect_refusal(head: &str, status: u16) -> String {
    let (addr, mut statuses) = accept_server(Config::default()).await;
    let (response, mut peer) = exchange(addr, head.as_bytes()).await;
    assert!(
        response.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}, got {response}"
    );
    let body = peer.read_to_end().await;
    assert!(!body.is_empty(), "a refusal explains itself");
    assert_eq!(within(statuses.recv()).await, Some(status));
    response
}

#[tokio::test]
async fn missing_key_is_refused_with_400() {
    expect_refusal(
        &request(&[(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "")]),
        400,
    )
    .await;
}

#[tokio::test]
async fn key_that_is_not_16_bytes_of_base64_is_refused_with_400() {
    for bad in [
        "dGhlIHNhbXBsZQ==",
        "not base64 at all!!!!!!!",
        "dGhlIHNhbXBsZSBub25jZQ",
    ] {
        expect_refusal(&request(&[(KEY, bad)]), 400).await;
    }
}

#[tokio::test]
async fn missing_connection_upgrade_is_refused_with_400() {
    expect_refusal(
        &request(&[("Connection: Upgrade", "Connection: keep-alive")]),
        400,
    )
    .await;
    expect_refusal(&request(&[("Connection: Upgrade\r\n", "")]), 400).await;
}

#[tokio::test]
async fn upgrade_to_another_protocol_is_refused_with_400() {
    expect_refusal(&request(&[("Upgrade: websocket", "Upgrade: h2c")]), 400).await;
}

#[tokio::test]
async fn http_1_0_is_refused_with_400() {
    expect_refusal(&request(&[("HTTP/1.1", "HTTP/1.0")]), 400).await;
}

#[tokio::test]
async fn post_is_refused_with_405_allowing_get() {
    let response = expect_refusal(&request(&[("GET", "POST")]), 405).await;
    assert!(response.contains("Allow: GET\r\n"), "{response}");
}

#[tokio::test]
async fn version_8_is_refused_with_426_naming_version_13() {
    let response = expect_refusal(
        &request(&[("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8")]),
        426,
    )
    .await;
    assert!(
        response.contains("Sec-WebSocket-Version: 13\r\n"),
        "{response}"
    );
}

#[tokio::test]
async fn huge_head_is_refused_with_431() {
    let padding = format!("X-Padding: {}\r\n\r\n", "a".repeat(10_000));
    expect_refusal(&request(&[("\r\n\r\n", &format!("\r\n{padding}"))]), 431).await;
}

#[tokio::test]
async fn too_many_header_fields_are_refused_with_431() {
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    expect_refusal(
        &request(&[("Host: localhost\r\n", &format!("Host: localhost\r\n{many}"))]),
        431,
    )
    .await;
}

/// Sends `head` and expects a 101 with the right accept key.
async fn expect_upgrade(head: &[u8]) -> RawPeer {
    let (addr, mut statuses) = accept_server(Config::default()).await;
    let (response, peer) = exchange(addr, head).await;
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(
        response.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")),
        "{response}"
    );
    assert_eq!(within(statuses.recv()).await, Some(101));
    peer
}

#[tokio::test]
async fn header_names_and_token_values_in_any_case_are_accepted() {
    let lower = request(&[
        ("Host:", "host:"),
        ("Upgrade: websocket", "upgrade: WebSocket"),
        ("Connection: Upgrade", "CONNECTION: upgrade"),
        ("Sec-WebSocket-Key", "sec-websocket-key"),
        ("Sec-WebSocket-Version", "SEC-WEBSOCKET-VERSION"),
    ]);
    expect_upgrade(lower.as_bytes()).await;
}

#[tokio::test]
async fn connection_keep_alive_upgrade_is_accepted() {
    let head = request(&[("Connection: Upgrade", "Connection: keep-alive, Upgrade")]);
    expect_upgrade(head.as_bytes()).await;
}

#[tokio::test]
async fn request_arriving_one_byte_at_a_time_is_accepted() {
    let (addr, mut statuses) = accept_server(Config::default()).await;
    let stream = within(tokio::net::TcpStream::connect(addr)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut peer = RawPeer::from_stream(stream, true);
    peer.send_chunked(request(&[]).as_bytes(), 1).await;
    let response = peer.read_head().await;
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert_eq!(within(statuses.recv()).await, Some(101));
    peer.send(TEXT, b"after a slow start").await;
    peer.expect_frame(1, b"after a slow start").await;
}

#[tokio::test]
async fn pipelined_first_frame_is_kept_and_echoed() {
    let mut bytes = request(&[]).into_bytes();
    bytes.extend(encode(TEXT, b"sent with the request", Some([1, 2, 3, 4])));
    bytes.extend(encode(BINARY, &[7; 300], Some([5, 6, 7, 8])));
    let mut peer = expect_upgrade(&bytes).await;
    peer.expect_frame(1, b"sent with the request").await;
    peer.expect_frame(2, &[7; 300]).await;
}

/// A server using `accept_with`: subprotocols `b` then `a` in preference order, 404 for any path
/// but `/chat`, 403 for a foreign Origin.
async fn policy_server() -> (SocketAddr, mpsc::UnboundedReceiver<Result<u16, u16>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, results) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let report = report.clone();
            tokio::spawn(async move {
                let accepted = wschat::ws::accept_with(stream, Config::default(), |upgrade| {
                    let request = upgrade.request();
                    if request.path() != "/chat" {
                        return Err(Rejection::new(404, "no such room"));
                    }
                    if request.origin().is_some_and(|o| o != "http://localhost") {
                        return Err(Rejection::new(403, "origin not allowed"));
                    }
                    Ok(upgrade.select_protocol(&["b", "a"]).map(str::to_owned))
                })
                .await;
                let _ = report.send(match accepted {
                    Ok(_) => Ok(101),
                    Err(Error::Rejected(rejection)) => Err(rejection.status()),
                    Err(other) => panic!("unexpected accept error {other:?}"),
                });
            });
        }
    });
    (addr, results)
}

#[tokio::test]
async fn accept_with_selects_the_servers_preferred_offered_protocol() {
    let (addr, mut results) = policy_server().await;
    let url = format!("ws://{addr}/chat");
    let request = ClientRequest::from_url(&url)
        .unwrap()
        .with_protocols(&["c", "a", "b"]);
    let (_ws, response) = within(wschat::ws::connect_with(request, Config::default()))
        .await
        .unwrap();
    assert_eq!(response.protocol(), Some("b"));
    assert_eq!(within(results.recv()).await, Some(Ok(101)));

    let request = ClientRequest::from_url(&url)
        .unwrap()
        .with_protocols(&["z"]);
    let (_ws, response) = within(wschat::ws::connect_with(request, Config::default()))
        .await
        .unwrap();
    assert_eq!(response.protocol(), None, "no overlap: no protocol");
}

#[tokio::test]
async fn accept_with_can_refuse_with_403_and_404() {
    let (addr, mut results) = policy_server().await;
    let foreign = request(&[(
        "Host: localhost\r\n",
        "Host: localhost\r\nOrigin: http://evil.example\r\n",
    )])
    .replace("/chat?room=1", "/chat");
    let (response, mut peer) = exchange(addr, foreign.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    assert_eq!(peer.read_to_end().await, b"origin not allowed");
    assert_eq!(within(results.recv()).await, Some(Err(403)));

    let error = within(wschat::connect(&format!("ws://{addr}/elsewhere")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Handshake(HandshakeError::Rejected { status: 404, .. })
        ),
        "{error:?}"
    );
    assert_eq!(within(results.recv()).await, Some(Err(404)));
}

// ----- client side ------------------------------------------------------------------------------

/// A raw server that answers every request head with `response(key)`.
async fn answering_server(response: fn(&str) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut peer = RawPeer::from_stream(stream, false);
            let head = peer.read_head().await;
            let key = head
                .lines()
                .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap_or_default()
                .to_owned();
            peer.send_raw(response(&key).as_bytes()).await;
            let _ = peer.read_to_end().await;
        }
    });
    format!("ws://{addr}/")
}

#[tokio::test]
async fn connect_reports_the_refusal_status() {
    let url = answering_server(|_| {
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope".into()
    })
    .await;
    let error = within(wschat::connect(&url)).await.unwrap_err();
    assert!(
        matches!(&error, Error::Handshake(HandshakeError::Rejected { status: 403, reason }) if reason == "Forbidden"),
        "{error:?}"
    );
    assert!(error.to_string().contains("403"), "{error}");
}

#[tokio::test]
async fn connect_rejects_a_wrong_accept_key() {
    let url = answering_server(|_| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
        )
    })
    .await;
    let error = within(wschat::connect(&url)).await.unwrap_err();
    assert!(
        matches!(error, Error::Handshake(HandshakeError::BadAccept)),
        "{error:?}"
    );
}

#[tokio::test]
async fn connect_rejects_an_unoffered_protocol() {
    let url = answering_server(|key| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: surprise\r\n\r\n",
            accept_key(key)
        )
    })
    .await;
    let error = within(wschat::connect(&url)).await.unwrap_err();
    assert!(
        matches!(&error, Error::Handshake(HandshakeError::UnofferedProtocol(p)) if p == "surprise"),
        "{error:?}"
    );
}

#[tokio::test]
async fn connect_rejects_a_101_without_upgrade() {
    let url = answering_server(|key| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key)
        )
    })
    .await;
    let error = within(wschat::connect(&url)).await.unwrap_err();
    assert!(
        matches!(error, Error::Handshake(HandshakeError::MissingUpgrade)),
        "{error:?}"
    );
}

#[tokio::test]
async fn frames_sent_right_after_the_101_reach_the_client() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawPeer::from_stream(stream, false);
        let head = peer.read_head().await;
        let key = head
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned();
        let mut bytes = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        )
        .into_bytes();
        bytes.extend(encode(TEXT, b"hello", None));
        peer.send_raw(&bytes).await;
        let _ = peer.read_to_end().await;
    });
    let mut ws = within(wschat::connect(&format!("ws://{addr}/")))
        .await
        .unwrap();
    let message = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(message, Message::text("hello"));
}
