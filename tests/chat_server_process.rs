//! chat-server as a process: the start line, `--help`, `CHAT_ADDR`, and graceful shutdown on
//! SIGTERM and SIGINT (1001 to every client, exit 0).

mod chat_common;

use chat_common::process::ServerProcess;
use chat_common::*;
use tokio::process::Command;
use wschat::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_client_with_1001_and_exits_0() {
    let server = ServerProcess::start(&["--addr", "127.0.0.1:0"], &[]).await;
    let addr = server.addr;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut ws = within("connect", wschat::connect(&server.url()))
            .await
            .unwrap();
        let greeting = recv_text(&mut ws).await;
        assert_eq!(
            greeting,
            format!("You are connected! There are {} users here.", i + 1)
        );
        clients.push(ws);
    }
    send(&mut clients[0], "before the end").await;
    server.signal("TERM");
    for ws in &mut clients {
        let (_, frame) = expect_close(ws).await;
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
        assert_eq!(frame.reason, "server shutting down");
    }
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
    for expected in ["connected", "shutting down", "disconnected", "code=1001"] {
        assert!(logs.contains(expected), "logs lack {expected:?}:\n{logs}");
    }
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn sigint_with_nobody_connected_exits_0_at_once() {
    let server = ServerProcess::start(&[], &[("CHAT_ADDR", "127.0.0.1:0")]).await;
    server.signal("INT");
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
}

#[tokio::test]
async fn help_documents_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--addr",
        "CHAT_ADDR",
        "--history",
        "--max-message",
        "--ping-interval",
        "--idle-timeout",
        "--queue-messages",
        "--queue-bytes",
        "--max-connections",
        "CHAT_MAX_CONNECTIONS",
        "--max-connections-per-ip",
        "--rate",
        "--burst",
        "--flood-disconnect-after",
        "--allowed-origin",
        "--handshake-timeout",
        "RUST_LOG",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}
