//! chat-server and chat-client with TLS, as processes: the wss start line, files that cannot be
//! used refused at start, certificate rotation on SIGHUP (new connections get the new
//! certificate, open ones stay up, a broken file keeps the old one), and chat-client over wss
//! with `--ca`, or refusing a certificate it does not trust.
#![cfg(feature = "tls")]

mod chat_common;
mod tls_common;

use std::process::Stdio;
use std::time::Duration;

use chat_common::process::ServerProcess;
use chat_common::*;
use tls_common::{install, TestPki};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use wschat::handshake::ClientRequest;
use wschat::ws::ClientStream;
use wschat::Config;

/// Connects over wss trusting the test CA; returns the client and the certificate the server
/// presented (DER).
async fn connect_seeing_certificate(pki: &TestPki, url: &str) -> (Ws, Vec<u8>) {
    let request = ClientRequest::from_url(url).unwrap();
    let (ws, _) = within(
        "wss connect",
        wschat::ws::connect_tls_with(request, Config::default(), pki.client_config()),
    )
    .await
    .unwrap();
    let presented = match ws.get_ref() {
        ClientStream::Tls(tls) => tls.get_ref().1.peer_certificates().unwrap()[0].to_vec(),
        other => panic!("not TLS: {other:?}"),
    };
    (ws, presented)
}

/// Waits until the server's log contains `text` `times` times.
async fn log_shows(server: &ServerProcess, text: &str, times: usize) {
    let deadline = std::time::Instant::now() + LIMIT;
    while server.logs().matches(text).count() < times {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never said {text:?}:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unusable_tls_files_stop_the_server_at_start_with_a_clear_error() {
    let pki = TestPki::new();
    let a = pki.server_cert("a");
    let b = pki.server_cert("b");
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").unwrap();
    let missing = pki.path("missing.pem");
    let binary = env!("CARGO_BIN_EXE_chat-server");
    for (cert, key, expected) in [
        (
            missing.as_path(),
            a.key.as_path(),
            "missing.pem: cannot read it",
        ),
        (
            garbage.as_path(),
            a.key.as_path(),
            "garbage.pem: no certificate",
        ),
        (
            a.cert.as_path(),
            garbage.as_path(),
            "garbage.pem: no private key",
        ),
        (a.cert.as_path(), b.key.as_path(), "cannot be used together"),
    ] {
        let output = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null())
            .output();
        let output = within("chat-server exits", output).await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(output.stdout.is_empty(), "no start line");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }
    let output = Command::new(binary)
        .args(["--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&a.cert)
        .output();
    let output = within("chat-server exits", output).await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap refuses a cert without a key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rotates_the_certificate_for_new_connections_and_keeps_the_old_ones() {
    let pki = TestPki::new();
    let first = pki.server_cert("first");
    let second = pki.server_cert("second");
    let (cert, key) = (pki.path("live.crt"), pki.path("live.key"));
    install(&first, &cert, &key);
    let server = ServerProcess::start(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(server.secure);
    let (mut before, presented) = connect_seeing_certificate(&pki, &server.url()).await;
    assert_eq!(presented, first.der);
    expect_text(&mut before, "You are connected! There are 1 users here.").await;

    install(&second, &cert, &key);
    server.signal("HUP");
    log_shows(&server, "reloaded the TLS certificate", 1).await;
    let (mut after, presented) = connect_seeing_certificate(&pki, &server.url()).await;
    assert_eq!(
        presented, second.der,
        "a new connection sees the new certificate"
    );
    expect_text(&mut after, "You are connected! There are 2 users here.").await;
    expect_text(&mut before, "user1 joined").await;
    send(&mut before, "opened before the reload").await;
    expect_text(&mut after, "[user0]: opened before the reload").await;

    // A broken key file: the reload fails, says why, and the second certificate stays.
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nbroken\n").unwrap();
    server.signal("HUP");
    log_shows(&server, "could not reload the TLS certificate", 1).await;
    let (mut later, presented) = connect_seeing_certificate(&pki, &server.url()).await;
    assert_eq!(presented, second.der, "a failed reload changes nothing");
    let history = recv_until(&mut later, "You are connected! There are 3 users here.").await;
    assert_eq!(history, ["[user0]: opened before the reload"]);
    server.signal("TERM");
    let (code, logs) = server.exit().await;
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("live.key"),
        "the error names the file: {logs}"
    );
}

#[tokio::test]
async fn chat_client_speaks_wss_with_ca_and_refuses_an_untrusted_certificate() {
    let pki = TestPki::new();
    let files = pki.server_cert("server");
    let server = ServerProcess::start(
        &["--tls-cert", files.cert_arg(), "--tls-key", files.key_arg()],
        &[],
    )
    .await;
    let client = env!("CARGO_BIN_EXE_chat-client");
    let mut child = Command::new(client)
        .arg(server.url())
        .arg("--ca")
        .arg(pki.ca_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello over wss\n/users\n").await.unwrap();
    drop(stdin);
    let output = within("chat-client ends", child.wait_with_output())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("You are connected!"), "{stdout}");
    assert!(stdout.contains("[user0]: hello over wss"), "{stdout}");
    assert!(stdout.contains("1 user"), "{stdout}");

    // Without --ca the test CA is unknown: exit 1 and the reason.
    let output = Command::new(client)
        .arg(server.url())
        .stdin(Stdio::null())
        .output();
    let output = within("chat-client fails", output).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect") && stderr.contains("TLS error"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("unknown issuer") || stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    server.signal("TERM");
    let (code, _) = server.exit().await;
    assert_eq!(code, 0);
}
