//! chat-server as a process under resource pressure: the open-file limit at start, accept errors
//! when descriptors run out, churn of clients that vanish without a close, and slow consumers at
//! scale. Resources are read from /proc/PID of the server.

mod chat_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_common::process::ServerProcess;
use chat_common::*;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use wschat::chat::JSON_PROTOCOL;
use wschat::handshake::ClientRequest;
use wschat::ws::ClientStream;
use wschat::{CloseCode, Config, Message};

/// Polls `condition` every 50 ms until it holds, for at most `limit`; returns whether it held.
async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A JSON client over `stream`.
async fn json_client_over(stream: TcpStream, url: &str) -> Ws {
    let request = ClientRequest::from_url(url)
        .unwrap()
        .with_protocols(&[JSON_PROTOCOL]);
    let (ws, _) = within(
        "handshake",
        wschat::ws::client_with_stream(ClientStream::Plain(stream), request, Config::default()),
    )
    .await
    .unwrap();
    ws
}

/// Reads JSON events until the greeting; returns the name it gives.
async fn greeting_name(ws: &mut Ws) -> String {
    loop {
        let event = recv_json(ws).await;
        if event["type"] == "system" && event["you"].is_string() {
            return event["you"].as_str().unwrap().to_owned();
        }
    }
}

/// The number of users the server reports to `ws` for `/users`.
async fn user_count(ws: &mut Ws) -> usize {
    within(
        "send",
        ws.send(Message::text(r#"{"type":"command","text":"/users"}"#)),
    )
    .await
    .unwrap();
    loop {
        let event = recv_json(ws).await;
        if event["type"] == "users" {
            return event["users"].as_array().unwrap().len();
        }
    }
}

#[tokio::test]
async fn the_open_file_limit_is_raised_to_the_hard_limit_and_logged() {
    let server =
        ServerProcess::start_with_fd_limit(Some((256, 4096)), &["--max-connections", "3000"], &[])
            .await;
    assert_eq!(server.fd_limits(), (4096, 4096));
    server.signal("TERM");
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("open-file limit before=256 now=4096 hard=4096"),
        "{logs}"
    );
    assert!(!logs.contains("WARN"), "4096 fits 3000 + 1024 + 64: {logs}");
}

#[tokio::test]
async fn a_hard_limit_below_the_connection_cap_is_warned_about() {
    let server = ServerProcess::start_with_fd_limit(Some((512, 512)), &[], &[]).await;
    server.signal("TERM");
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("WARN")
            && logs.contains("below --max-connections plus --max-pending-handshakes plus 64"),
        "{logs}"
    );
    assert!(logs.contains("wanted=11088"), "{logs}");
}

/// With 40 descriptors the server runs out after a few dozen connections: accepting fails with
/// EMFILE for as long as the idle connections hold their descriptors. The accept loop must go
/// on (logging once, not once per retry) and serve normally when descriptors free up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_never_stops_the_accept_loop() {
    let server = ServerProcess::start_with_fd_limit(
        Some((40, 40)),
        &[
            "--handshake-timeout",
            "2s",
            "--max-connections",
            "10",
            "--max-pending-handshakes-per-ip",
            "0",
        ],
        &[],
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(
            within("tcp", TcpStream::connect(server.addr))
                .await
                .unwrap(),
        );
    }
    let exhausted = eventually(Duration::from_secs(5), || {
        server.logs().contains("accept failed")
    })
    .await;
    assert!(exhausted, "the server never ran out: {}", server.logs());
    // Let it retry for a while, then free the descriptors (the idle connections time out too).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(idle);
    let mut client = within("connect after EMFILE", async {
        loop {
            match wschat::connect(&server.url()).await {
                Ok(ws) => return ws,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert_eq!(
        recv_text(&mut client).await,
        "You are connected! There are 1 users here."
    );
    send(&mut client, "still serving").await;
    expect_text(&mut client, "[user0]: still serving").await;
    drop(client);
    server.signal("TERM");
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
    let warnings = logs.matches("accept failed").count();
    assert!(
        (1..=2).contains(&warnings),
        "rate-limited to one line per 10 s, got {warnings}:\n{logs}"
    );
}

/// 1000 clients upgrade and vanish without a close frame, half with a FIN and half with an RST:
/// afterwards the server holds exactly the descriptors and the users it held before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_vanishing_without_a_close_leave_nothing_behind() {
    const CLIENTS: usize = 1000;
    const AT_ONCE: usize = 100;
    let server = ServerProcess::start(
        &[
            "--max-connections-per-ip",
            "0",
            "--max-pending-handshakes-per-ip",
            "0",
            "--history",
            "0",
        ],
        &[("RUST_LOG", "warn")],
    )
    .await;
    let stream = within("tcp", TcpStream::connect(server.addr))
        .await
        .unwrap();
    let mut observer = json_client_over(stream, &server.url()).await;
    greeting_name(&mut observer).await;
    assert_eq!(user_count(&mut observer).await, 1);
    let baseline = server.open_fds();

    let url = Arc::new(server.url());
    for batch in 0..CLIENTS / AT_ONCE {
        let joins: Vec<_> = (0..AT_ONCE)
            .map(|i| {
                let url = Arc::clone(&url);
                tokio::spawn(async move {
                    let mut ws = wschat::connect(&url).await.unwrap();
                    let greeting = recv_text(&mut ws).await;
                    assert!(greeting.starts_with("You are connected!"), "{greeting}");
                    if i % 2 == 1 {
                        // RST instead of FIN.
                        #[allow(deprecated)]
                        ws.get_ref().tcp().set_linger(Some(Duration::ZERO)).unwrap();
                    }
                    drop(ws);
                })
            })
            .collect();
        for join in joins {
            within(&format!("batch {batch}"), join).await.unwrap();
        }
    }
    let settled = eventually(Duration::from_secs(10), || server.open_fds() == baseline).await;
    assert!(
        settled,
        "descriptors: {} now, {baseline} before",
        server.open_fds()
    );
    assert_eq!(
        user_count(&mut observer).await,
        1,
        "only the observer is left"
    );
    // Every churned client joined and left in the observer's view.
    server.signal("TERM");
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
}

/// 200 clients of which 20 never read, one sender at a steady 300 messages/s of 1000 bytes:
/// the 180 receive every message in order, the 20 are closed with 1008 once their kernel
/// buffers and their 256 KiB outbox are full, and the server's resident memory stays within
/// 16 MiB of what it used before the sending began, and does not grow after the slow clients
/// are gone although the sender goes on (kept, their backlog would grow by 6 MB/s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumers_are_cut_off_while_everyone_else_gets_everything_in_bounded_memory() {
    const READERS: usize = 180;
    const SLOW: usize = 20;
    const PER_SECOND: u64 = 300;
    const AFTER_THE_CUT: usize = 600;
    let server = ServerProcess::start(
        &[
            "--max-connections-per-ip",
            "0",
            "--history",
            "0",
            "--rate",
            "1000",
            "--burst",
            "1000",
            "--queue-bytes",
            "262144",
        ],
        &[("RUST_LOG", "warn")],
    )
    .await;
    let url = server.url();
    let stream = within("tcp", TcpStream::connect(server.addr))
        .await
        .unwrap();
    let mut sender = json_client_over(stream, &url).await;
    assert_eq!(greeting_name(&mut sender).await, "user0");

    // The slow ones: a small receive buffer, and no reading after the greeting.
    let mut slow = Vec::new();
    let mut slow_names = Vec::new();
    for _ in 0..SLOW {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = within("tcp", socket.connect(server.addr)).await.unwrap();
        let mut ws = json_client_over(stream, &url).await;
        slow_names.push(greeting_name(&mut ws).await);
        slow.push(ws);
    }
    // The readers check order and completeness; reader 0 also reports the slow ones leaving.
    // They take the plain format, which costs them a prefix check and a number per message
    // (parsing JSON for 54k messages/s in a debug build fell behind on a busy machine).
    let (left_tx, left_rx) = watch::channel(Vec::<String>::new());
    let left_tx = Arc::new(left_tx);
    let mut readers = Vec::new();
    for r in 0..READERS {
        let mut ws = connect_url(&url).await;
        while !recv_text(&mut ws).await.starts_with("You are connected!") {}
        let slow_names = slow_names.clone();
        let left_tx = Arc::clone(&left_tx);
        readers.push(tokio::spawn(async move {
            let mut next = 0usize;
            loop {
                let line = recv_text(&mut ws).await;
                if let Some(text) = line.strip_prefix("[user0]: ") {
                    if text == "done" {
                        return (next, ws);
                    }
                    let index: usize = text.split(' ').next().unwrap().parse().unwrap();
                    assert_eq!(index, next, "reader {r}: every message, in order");
                    next += 1;
                } else if let Some(who) = line.strip_suffix(" left") {
                    if r == 0 && slow_names.iter().any(|name| name == who) {
                        left_tx.send_modify(|left| left.push(who.to_owned()));
                    }
                }
            }
        }));
    }
    // Each slow client reads once the server has let it go (before the close grace runs out):
    // what was in flight, then the 1008 close.
    let slow_checks: Vec<_> = slow
        .into_iter()
        .zip(slow_names)
        .map(|(mut ws, name)| {
            let mut left_rx = left_rx.clone();
            tokio::spawn(async move {
                let _ = left_rx.wait_for(|left| left.contains(&name)).await;
                let (_, frame) = expect_close(&mut ws).await;
                assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
                assert_eq!(frame.reason, "too slow: outbound queue full");
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kib = server.rss_kib();

    let padding = "p".repeat(990);
    let started = Instant::now();
    let mut peak_kib = before_kib;
    let mut cut: Option<(usize, u64)> = None;
    let mut sent = 0;
    while cut.is_none_or(|(at, _)| sent < at + AFTER_THE_CUT) {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the slow clients were never cut off ({} of {SLOW} left)",
            left_rx.borrow().len()
        );
        let due = started + Duration::from_micros(sent as u64 * 1_000_000 / PER_SECOND);
        tokio::time::sleep_until(due.into()).await;
        let json = serde_json::json!({"type": "message", "text": format!("{sent} {padding}")});
        within("send", sender.send(Message::text(json.to_string())))
            .await
            .unwrap();
        sent += 1;
        // The sender drains its own copies as it goes.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::ZERO, sender.recv()).await {}
        if sent % 30 == 0 {
            peak_kib = peak_kib.max(server.rss_kib());
        }
        if cut.is_none() && left_rx.borrow().len() == SLOW {
            cut = Some((sent, server.rss_kib()));
        }
    }
    let end_kib = server.rss_kib();
    peak_kib = peak_kib.max(end_kib);
    let json = serde_json::json!({"type": "message", "text": "done"});
    within("send", sender.send(Message::text(json.to_string())))
        .await
        .unwrap();
    for reader in readers {
        let (received, _ws) = within("a reader gets everything", reader).await.unwrap();
        assert_eq!(received, sent);
    }
    for check in slow_checks {
        within("a slow client sees its 1008", check).await.unwrap();
    }
    let (cut_at, cut_kib) = cut.unwrap();
    eprintln!(
        "server VmRSS: {before_kib} KiB before sending, {cut_kib} when the last slow client was \
         cut off after {cut_at} messages, {end_kib} after {AFTER_THE_CUT} more; peak {peak_kib}"
    );
    assert!(
        peak_kib < before_kib + 16 * 1024,
        "grew by {} KiB",
        peak_kib - before_kib
    );
    assert!(
        end_kib < cut_kib + 4 * 1024,
        "kept growing after the slow clients were cut off: {cut_kib} -> {end_kib} KiB"
    );
}
