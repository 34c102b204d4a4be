//! The operations listener of chat-server as a process: after a scripted session (connections,
//! messages, a whisper, a command, a 403, a 404, a slow client cut off with 1008) every counter
//! and gauge has the value the script implies; the exposition parses with a Prometheus text
//! parser; `/healthz` and `/readyz` answer, and `/readyz` turns 503 as soon as the graceful
//! shutdown begins.

mod chat_common;

use std::collections::HashMap;
use std::net::SocketAddr;

use chat_common::process::ServerProcess;
use chat_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wschat::handshake::ClientRequest;
use wschat::ws::ClientStream;
use wschat::{CloseCode, Config};

/// `GET path` on `addr`; returns the status code and the body.
async fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String) {
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within("response", stream.read_to_end(&mut response))
        .await
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every sample of a scrape, `name{label="value"}` -> value, parsed by prometheus-parse.
async fn scrape(server: &ServerProcess) -> HashMap<String, f64> {
    let (status, body) = get(server.metrics_addr.unwrap(), "/metrics", "").await;
    assert_eq!(status, 200);
    let lines = body.lines().map(|line| Ok(line.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("a valid exposition");
    let mut samples = HashMap::new();
    for sample in parsed.samples {
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(_) | prometheus_parse::Value::Summary(_) => continue,
        };
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let key = if labels.is_empty() {
            sample.metric
        } else {
            format!("{}{{{}}}", sample.metric, labels.join(","))
        };
        samples.insert(key, value);
    }
    samples
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {samples:#?}"))
}

/// Asserts that every `(key, value)` is in the scrape with that value.
fn assert_values(samples: &HashMap<String, f64>, expected: &[(&str, f64)]) {
    for (key, expected) in expected {
        assert_eq!(value(samples, key), *expected, "{key}");
    }
}

/// A plain client whose socket barely buffers anything and that never reads.
async fn slow_client(server: &ServerProcess) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = within("tcp", socket.connect(server.addr)).await.unwrap();
    let request = ClientRequest::from_url(&server.url()).unwrap();
    let (ws, _) = within(
        "handshake",
        wschat::ws::client_with_stream(ClientStream::Plain(stream), request, Config::default()),
    )
    .await
    .unwrap();
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_session_leaves_exactly_the_expected_metrics() {
    let server = ServerProcess::start(
        &[
            "--metrics-addr",
            "127.0.0.1:0",
            "--history",
            "0",
            "--rate",
            "0",
            "--queue-bytes",
            "65536",
        ],
        &[],
    )
    .await;
    let ops = server.metrics_addr.expect("the metrics line");
    assert_eq!(get(ops, "/healthz", "").await, (200, "ok\n".to_owned()));
    assert_eq!(get(ops, "/readyz", "").await, (200, "ready\n".to_owned()));
    assert_eq!(get(ops, "/nope", "").await.0, 404);
    let start = scrape(&server).await;
    assert_values(
        &start,
        &[
            ("wschat_connections", 0.0),
            ("wschat_connections_accepted_total", 0.0),
            ("wschat_messages_received_total", 0.0),
            ("wschat_frames_delivered_total", 0.0),
            ("wschat_outbox_overflows_total", 0.0),
        ],
    );
    assert!(value(&start, "process_resident_memory_bytes") > 1e6);
    assert!(value(&start, "process_open_fds") >= 5.0);
    assert!(start.contains_key("process_cpu_seconds_total"));

    // Two users; a message, a whisper and a command.
    let (mut alice, _, _) = join_url(&server.url()).await;
    let (mut bob, _, _) = join_url(&server.url()).await;
    expect_text(&mut alice, "user1 joined").await;
    send(&mut alice, "hi").await;
    expect_text(&mut alice, "[user0]: hi").await;
    expect_text(&mut bob, "[user0]: hi").await;
    send(&mut bob, "/w user0 psst").await;
    expect_text(&mut alice, "[user1 -> user0] (private): psst").await;
    expect_text(&mut bob, "[user1 -> user0] (private): psst").await;
    send(&mut alice, "/users").await;
    expect_text(&mut alice, "2 users here: user0, user1").await;
    let mid = scrape(&server).await;
    // Frames: 2 greetings, bob's join to alice, "hi" to both, the whisper to both, /users.
    assert_values(
        &mid,
        &[
            ("wschat_connections", 2.0),
            ("wschat_connections_accepted_total", 2.0),
            ("wschat_messages_received_total", 2.0),
            ("wschat_frames_delivered_total", 8.0),
        ],
    );

    // A cross-site upgrade (403) and an unknown path (404); then bob leaves with 1000.
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                   Origin: http://evil.example\r\n";
    assert_eq!(get(server.addr, "/chat", upgrade).await.0, 403);
    assert_eq!(get(server.addr, "/nope", "").await.0, 404);
    within("close", bob.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap();
    expect_text(&mut alice, "user1 left").await;

    // A client that never reads, cut off with 1008 once its queue is full.
    let mut slow = slow_client(&server).await;
    expect_text(&mut alice, "user2 joined").await;
    let big = "b".repeat(4000);
    let mut sent = 0;
    loop {
        send(&mut alice, &big).await;
        sent += 1;
        let mut cut = false;
        loop {
            let text = recv_text(&mut alice).await;
            if text == "user2 left" {
                cut = true;
            } else if text.starts_with("[user0]: b") {
                break;
            }
        }
        if cut {
            break;
        }
        assert!(sent < 5000, "the slow client was never cut off");
    }
    let (_, frame) = expect_close(&mut slow).await;
    assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
    within("close", alice.close(CloseCode::NORMAL, "done"))
        .await
        .unwrap();

    // Wait for the last session to be counted, then check everything.
    let deadline = std::time::Instant::now() + LIMIT;
    let end = loop {
        let samples = scrape(&server).await;
        if value(&samples, "wschat_connections") == 0.0
            && samples.contains_key("wschat_disconnects_total{code=\"1008\"}")
            && value(&samples, "wschat_disconnects_total{code=\"1000\"}") == 2.0
        {
            break samples;
        }
        assert!(std::time::Instant::now() < deadline, "{samples:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let sent = f64::from(sent);
    assert_values(
        &end,
        &[
            ("wschat_connections", 0.0),
            ("wschat_connections_accepted_total", 3.0),
            ("wschat_messages_received_total", 2.0 + sent),
            ("wschat_handshake_rejections_total{status=\"403\"}", 1.0),
            ("wschat_handshake_rejections_total{status=\"404\"}", 1.0),
            ("wschat_disconnects_total{code=\"1000\"}", 2.0),
            ("wschat_disconnects_total{code=\"1008\"}", 1.0),
            ("wschat_outbox_overflows_total", 1.0),
            ("wschat_messages_throttled_total", 0.0),
            ("wschat_tls_handshake_failures_total", 0.0),
        ],
    );
    // Alice got: the 8 frames above but bob's 4, plus bob's leave, the slow client's join and
    // leave, and her own big messages; the slow client got its greeting plus however many big
    // messages its queue took before it overflowed (at least one, at most all but the last).
    let alice_frames = 4.0 + 1.0 + 2.0 + sent;
    let delivered = value(&end, "wschat_frames_delivered_total") - 8.0 - 1.0;
    let slow_frames = delivered - alice_frames;
    assert!(
        (1.0..=sent).contains(&(slow_frames - 1.0)),
        "{slow_frames} frames to the slow client of {sent} sent"
    );
    let latency_count = value(&end, "wschat_delivery_latency_seconds_count");
    assert!(
        latency_count > alice_frames
            && latency_count <= value(&end, "wschat_frames_delivered_total"),
        "latency observed for the frames written: {latency_count}"
    );

    // Graceful shutdown: a client that never answers the close keeps the server in its grace
    // period; /readyz says 503 during it while /healthz still says ok.
    let mut lingering = TcpStream::connect(server.addr).await.unwrap();
    lingering
        .write_all(
            format!(
                "GET /chat HTTP/1.1\r\nHost: {}\r\n{upgrade_plain}\r\n",
                server.addr,
                upgrade_plain = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = [0; 12];
    within("101", lingering.read_exact(&mut head))
        .await
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    server.signal("TERM");
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let (status, body) = get(ops, "/readyz", "").await;
        if status == 503 {
            assert_eq!(body, "shutting down\n");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz never turned 503"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(get(ops, "/healthz", "").await.0, 200);
    drop(lingering);
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
}
