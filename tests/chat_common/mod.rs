//! Helpers for the chat tests: a real server on an ephemeral loopback port, and clients built on
//! the crate's own client API. Every wait is bounded.
#![allow(dead_code)] // Each test file uses a different subset.

pub mod process;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wschat::chat::{ChatServer, ServerOptions, JSON_PROTOCOL};
use wschat::handshake::ClientRequest;
use wschat::ws::ClientStream;
use wschat::{CloseFrame, Config, Message, WebSocket};

/// Upper bound for any single wait in these tests.
pub const LIMIT: Duration = Duration::from_secs(10);

pub type Ws = WebSocket<ClientStream>;

/// A chat server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1:0 with `args` as extra command-line options.
    pub async fn start(args: &[&str]) -> Self {
        let mut argv = vec!["chat-server", "--addr", "127.0.0.1:0"];
        argv.extend_from_slice(args);
        let options = ServerOptions::try_parse_from(argv).expect("valid options");
        let server = ChatServer::bind(&options).await.expect("bind");
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts a server on a given address (e.g. the one a stopped server used), retrying for a
    /// moment while the port is still being released.
    pub async fn start_at(addr: SocketAddr) -> Self {
        let options = ServerOptions {
            addr: addr.to_string(),
            ..ServerOptions::default()
        };
        let deadline = std::time::Instant::now() + LIMIT;
        let server = loop {
            match ChatServer::bind(&options).await {
                Ok(server) => break server,
                Err(e) if std::time::Instant::now() < deadline => {
                    eprintln!("rebinding {addr}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/chat", self.addr)
    }

    /// The URL for a server started with `--tls-cert`.
    pub fn wss_url(&self) -> String {
        format!("wss://{}/chat", self.addr)
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(LIMIT, task)
                .await
                .expect("server stops in time")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Bounds a future with [`LIMIT`], panicking with `what` when it takes longer.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(LIMIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Connects a plain-text client.
pub async fn connect(server: &TestServer) -> Ws {
    connect_url(&server.url()).await
}

/// Connects a plain-text client to `url`.
pub async fn connect_url(url: &str) -> Ws {
    within("connect", wschat::connect(url))
        .await
        .expect("connect")
}

/// Connects a JSON client (offers the `wschat.v1.json` subprotocol).
pub async fn connect_json(server: &TestServer) -> Ws {
    let request = ClientRequest::from_url(&server.url())
        .unwrap()
        .with_protocols(&[JSON_PROTOCOL]);
    let (ws, response) = within(
        "connect json",
        wschat::ws::connect_with(request, Config::default()),
    )
    .await
    .expect("connect");
    assert_eq!(response.protocol(), Some(JSON_PROTOCOL));
    ws
}

/// The next text message, skipping pings and pongs; panics on anything else.
pub async fn recv_text(ws: &mut Ws) -> String {
    loop {
        match within("a text message", ws.recv()).await {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The next text message as JSON.
pub async fn recv_json(ws: &mut Ws) -> serde_json::Value {
    let text = recv_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the next text message is `expected`.
pub async fn expect_text(ws: &mut Ws, expected: &str) {
    assert_eq!(recv_text(ws).await, expected);
}

/// Reads text messages until one equals `expected`; returns the ones before it.
pub async fn recv_until(ws: &mut Ws, expected: &str) -> Vec<String> {
    let mut before = Vec::new();
    loop {
        let text = recv_text(ws).await;
        if text == expected {
            return before;
        }
        before.push(text);
    }
}

/// Sends a text message.
pub async fn send(ws: &mut Ws, text: &str) {
    within("send", ws.send(Message::text(text.to_owned())))
        .await
        .expect("send");
}

/// Reads until the server's close frame (skipping data), returning it; then the end of stream.
pub async fn expect_close(ws: &mut Ws) -> (Vec<String>, CloseFrame) {
    let mut texts = Vec::new();
    loop {
        match within("a close frame", ws.recv()).await {
            Some(Ok(Message::Text(text))) => texts.push(text.as_str().to_owned()),
            Some(Ok(Message::Close(Some(frame)))) => {
                assert!(
                    within("end of stream", ws.recv()).await.is_none(),
                    "nothing after the close"
                );
                return (texts, frame);
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a close frame, got {other:?} after {texts:?}"),
        }
    }
}

/// Connects a plain client and reads its greeting (after any history); returns the client, the
/// history lines and the greeting.
pub async fn join(server: &TestServer) -> (Ws, Vec<String>, String) {
    join_url(&server.url()).await
}

/// As [`join`], for the server at `url`.
pub async fn join_url(url: &str) -> (Ws, Vec<String>, String) {
    let mut ws = connect_url(url).await;
    let mut history = Vec::new();
    loop {
        let text = recv_text(&mut ws).await;
        if text.starts_with("You are connected!") {
            return (ws, history, text);
        }
        history.push(text);
    }
}

/// Connects `n` plain clients one after another, each reading its greeting and every earlier
/// client reading the join notice, so that client i is `user{i}` on a fresh server.
pub async fn join_many(server: &TestServer, n: usize) -> Vec<Ws> {
    let mut clients: Vec<Ws> = Vec::new();
    for i in 0..n {
        let (ws, _, greeting) = join(server).await;
        assert_eq!(
            greeting,
            format!("You are connected! There are {} users here.", i + 1)
        );
        for earlier in &mut clients {
            expect_text(earlier, &format!("user{i} joined")).await;
        }
        clients.push(ws);
    }
    clients
}
