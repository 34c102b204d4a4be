//! The example binaries run as a user runs them: `echo-server --addr 127.0.0.1:0` prints its
//! address and echoes; `echo-client URL` echoes until the server closes and reports the outcome
//! through its exit status and stderr.
//!
//! The binaries are built (if needed) with the same profile and target directory as this test,
//! since `cargo test --test examples` alone does not build examples.

mod common;
mod example_build;
#[cfg(feature = "tls")]
mod tls_common;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;

use common::*;
use example_build::{build_examples, example_path};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use wschat::{CloseCode, Config, Message};

/// The directory holding the example binaries, built once per test run.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_examples(&["echo-server", "echo-client"]))
}

fn example(name: &str) -> Command {
    let path = example_path(examples_dir(), name);
    let mut command = Command::new(path);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Waits for `child` to exit; returns its status and stderr.
async fn finish(mut child: Child) -> (ExitStatus, String) {
    let mut stderr = child.stderr.take().unwrap();
    let status = within(child.wait()).await.unwrap();
    let mut text = String::new();
    within(stderr.read_to_string(&mut text)).await.unwrap();
    (status, text)
}

#[tokio::test]
async fn echo_server_prints_its_address_and_echoes() {
    let mut server = tokio::task::spawn_blocking(|| {
        example("echo-server")
            .args(["--addr", "127.0.0.1:0"])
            .spawn()
            .unwrap()
    })
    .await
    .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = within(lines.next_line())
        .await
        .unwrap()
        .expect("a first line");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(!addr.ends_with(":0"), "the bound port is printed: {addr}");
    for path in ["/", "/any/path?x=1"] {
        let mut ws = within(wschat::connect(&format!("ws://{addr}{path}")))
            .await
            .unwrap();
        within(ws.send(Message::text("hello ✓"))).await.unwrap();
        assert_eq!(
            within(ws.recv()).await.unwrap().unwrap(),
            Message::text("hello ✓")
        );
        let big = pattern(1 << 20);
        within(ws.send(Message::binary(big.clone()))).await.unwrap();
        assert_eq!(
            within(ws.recv()).await.unwrap().unwrap(),
            Message::binary(big)
        );
        within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    }
    server.kill().await.unwrap();
}

/// Starts `echo-client` against a listener of ours; returns the listener and the child.
async fn start_client(path: &str) -> (TcpListener, Child) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}{path}", listener.local_addr().unwrap());
    let child =
        tokio::task::spawn_blocking(move || example("echo-client").arg(url).spawn().unwrap())
            .await
            .unwrap();
    (listener, child)
}

#[tokio::test]
async fn echo_client_echoes_until_the_server_closes_then_exits_0() {
    let (listener, child) = start_client("/any/path").await;
    let (stream, _) = within(listener.accept()).await.unwrap();
    let mut ws = within(wschat::accept(stream, Config::default()))
        .await
        .unwrap();
    let messages = [
        Message::text("one"),
        Message::binary(vec![0, 1, 2]),
        Message::text("κόσμε".repeat(20_000)),
    ];
    for message in &messages {
        within(ws.send(message.clone())).await.unwrap();
    }
    for message in &messages {
        assert_eq!(&within(ws.recv()).await.unwrap().unwrap(), message);
    }
    within(ws.close(CloseCode::NORMAL, "bye")).await.unwrap();
    let (status, stderr) = finish(child).await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("server closed: 1000 (bye)"), "{stderr}");
}

#[tokio::test]
async fn echo_client_exits_non_zero_with_the_status_when_refused() {
    let (listener, child) = start_client("/").await;
    let (stream, _) = within(listener.accept()).await.unwrap();
    let mut peer = RawPeer::from_stream(stream, false);
    let _ = peer.read_head().await;
    peer.send_raw(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    let (status, stderr) = finish(child).await;
    assert!(!status.success(), "{status}");
    assert!(stderr.contains("403"), "{stderr}");
}

#[tokio::test]
async fn echo_client_exits_non_zero_on_a_protocol_error() {
    let (listener, child) = start_client("/").await;
    let (mut peer, _) = RawPeer::accept(&listener, None).await;
    peer.send_raw(&encode(0x83, b"", None)).await;
    peer.expect_failure(1002).await;
    let (status, stderr) = finish(child).await;
    assert!(!status.success(), "{status}");
    assert!(stderr.contains("1002"), "{stderr}");
}

/// `echo-server --tls-cert --tls-key` serves wss://, and `echo-client --ca` echoes over it.
#[cfg(feature = "tls")]
#[tokio::test]
async fn echo_server_and_client_speak_wss() {
    let pki = tls_common::TestPki::new();
    let files = pki.server_cert("echo");
    let (cert, key) = (files.cert.clone(), files.key.clone());
    let mut server = tokio::task::spawn_blocking(move || {
        example("echo-server")
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .spawn()
            .unwrap()
    })
    .await
    .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = within(lines.next_line()).await.unwrap().unwrap();
    let addr = line.strip_prefix("listening on ").unwrap().to_owned();
    let port = addr.rsplit_once(':').unwrap().1;

    // Our client against echo-server over TLS.
    let request =
        wschat::handshake::ClientRequest::from_url(&format!("wss://localhost:{port}/x")).unwrap();
    let (mut ws, _) = within(wschat::ws::connect_tls_with(
        request,
        Config::default(),
        pki.client_config(),
    ))
    .await
    .unwrap();
    within(ws.send(Message::text("over TLS"))).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("over TLS")
    );
    within(ws.close(CloseCode::NORMAL, "")).await.unwrap();

    // echo-client against a TLS server of ours, trusting the test CA with --ca.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "wss://localhost:{}/e",
        listener.local_addr().unwrap().port()
    );
    let ca = pki.ca_path();
    let child = tokio::task::spawn_blocking(move || {
        example("echo-client")
            .arg(url)
            .arg("--ca")
            .arg(ca)
            .spawn()
            .unwrap()
    })
    .await
    .unwrap();
    let (tcp, _) = within(listener.accept()).await.unwrap();
    let config = wschat::chat::tls::load_server_config(&files.cert, &files.key).unwrap();
    let tls = within(tokio_rustls::TlsAcceptor::from(config).accept(tcp))
        .await
        .unwrap();
    let mut peer = within(wschat::accept(tls, Config::default()))
        .await
        .unwrap();
    within(peer.send(Message::text("echo me"))).await.unwrap();
    assert_eq!(
        within(peer.recv()).await.unwrap().unwrap(),
        Message::text("echo me")
    );
    within(peer.close(CloseCode::NORMAL, "bye")).await.unwrap();
    let (status, stderr) = finish(child).await;
    assert!(status.success(), "{status}: {stderr}");
    server.kill().await.unwrap();
}
