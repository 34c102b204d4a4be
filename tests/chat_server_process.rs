//! chat-server as a process: the start line, `--help`, `CHAT_ADDR`, and graceful shutdown on
//! SIGTERM and SIGINT (1001 to every client, exit 0).

mod chat_common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use chat_common::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wschat::CloseCode;

/// Starts the binary with `args` (and `env`), returning it and the address from its start line.
async fn spawn_server(args: &[&str], env: &[(&str, &str)]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chat-server starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within("the start line", stdout.next_line())
        .await
        .unwrap()
        .expect("a start line");
    let addr: SocketAddr = line
        .strip_prefix("listening on ws://")
        .and_then(|rest| rest.split_once("/chat"))
        .map(|(addr, _)| addr.parse().unwrap())
        .unwrap_or_else(|| panic!("unexpected start line: {line}"));
    assert_eq!(
        line,
        format!("listening on ws://{addr}/chat (web client at http://{addr}/)")
    );
    assert_ne!(addr.port(), 0, "the real port is printed");
    (child, addr)
}

fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits for exit; returns the exit code and stderr (the logs).
async fn exit_of(child: Child) -> (i32, String) {
    let output = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("the server exits in time")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_client_with_1001_and_exits_0() {
    let (child, addr) = spawn_server(&["--addr", "127.0.0.1:0"], &[]).await;
    let server = Remote(addr);
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
    signal(&child, "TERM");
    for ws in &mut clients {
        let (_, frame) = expect_close(ws).await;
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
        assert_eq!(frame.reason, "server shutting down");
    }
    let (code, logs) = exit_of(child).await;
    assert_eq!(code, 0, "{logs}");
    for expected in ["connected", "shutting down", "disconnected", "code=1001"] {
        assert!(logs.contains(expected), "logs lack {expected:?}:\n{logs}");
    }
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn sigint_with_nobody_connected_exits_0_at_once() {
    let (child, _) = spawn_server(&[], &[("CHAT_ADDR", "127.0.0.1:0")]).await;
    signal(&child, "INT");
    let (code, logs) = exit_of(child).await;
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
        "RUST_LOG",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

/// A server this test did not start in-process, addressed like a [`TestServer`].
struct Remote(SocketAddr);

impl Remote {
    fn url(&self) -> String {
        format!("ws://{}/chat", self.0)
    }
}
