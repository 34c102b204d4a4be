//! chat-client as a process with piped stdin and stdout, against a real server.

mod chat_common;

use std::process::Stdio;

use chat_common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

struct Cli {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Cli {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat-client"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chat-client starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, stdout }
    }

    async fn write(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin open");
        within("write stdin", stdin.write_all(text.as_bytes()))
            .await
            .unwrap();
        within("flush stdin", stdin.flush()).await.unwrap();
    }

    fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    async fn line(&mut self) -> String {
        within("a line on stdout", self.stdout.next_line())
            .await
            .unwrap()
            .expect("stdout still open")
    }

    async fn expect_line(&mut self, expected: &str) {
        assert_eq!(self.line().await, expected);
    }

    /// Waits for the process to end; returns its exit code, the rest of stdout and stderr.
    async fn finish(mut self) -> (i32, Vec<String>, String) {
        let mut rest = Vec::new();
        while let Some(line) = within("stdout to end", self.stdout.next_line())
            .await
            .unwrap()
        {
            rest.push(line);
        }
        let output = within("exit", self.child.wait_with_output()).await.unwrap();
        (
            output.status.code().unwrap_or(-1),
            rest,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[tokio::test]
async fn lines_from_stdin_are_sent_and_incoming_messages_printed_until_exit() {
    let server = TestServer::start(&[]).await;
    let (mut observer, _, _) = join(&server).await;
    let mut cli = Cli::spawn(&[&server.url()]);
    cli.expect_line("You are connected! There are 2 users here.")
        .await;
    expect_text(&mut observer, "user1 joined").await;

    cli.write("hello from the terminal\n").await;
    expect_text(&mut observer, "[user1]: hello from the terminal").await;
    cli.expect_line("[user1]: hello from the terminal").await;

    send(&mut observer, "hi, terminal").await;
    cli.expect_line("[user0]: hi, terminal").await;
    expect_text(&mut observer, "[user0]: hi, terminal").await;

    // Control characters from others cannot reach the terminal.
    send(&mut observer, "\u{1b}]0;pwned\u{7}\u{1b}[2Jcolour").await;
    cli.expect_line("[user0]: \u{FFFD}]0;pwned\u{FFFD}\u{FFFD}[2Jcolour")
        .await;
    recv_text(&mut observer).await;

    cli.write("/whisper user0 just us\n").await;
    cli.expect_line("[user1 -> user0] (private): just us").await;
    expect_text(&mut observer, "[user1 -> user0] (private): just us").await;

    cli.write("exit\n").await;
    expect_text(&mut observer, "user1 left").await;
    let (code, rest, stderr) = cli.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    drop(observer);
    server.shutdown().await;
}

#[tokio::test]
async fn name_option_sends_nick_and_end_of_input_closes_normally() {
    let server = TestServer::start(&[]).await;
    let (mut observer, _, _) = join(&server).await;
    let mut cli = Cli::spawn(&["--name", "scripted", &server.url()]);
    expect_text(&mut observer, "user1 joined").await;
    expect_text(&mut observer, "user1 is now known as scripted").await;
    cli.expect_line("You are connected! There are 2 users here.")
        .await;
    cli.expect_line("user1 is now known as scripted").await;
    cli.close_stdin();
    expect_text(&mut observer, "scripted left").await;
    let (code, _, stderr) = cli.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    drop(observer);
    server.shutdown().await;
}

#[tokio::test]
async fn piped_input_gets_its_replies_printed_before_the_client_leaves() {
    let server = TestServer::start(&[]).await;
    let (mut observer, _, _) = join(&server).await;
    let mut cli = Cli::spawn(&[&server.url()]);
    cli.write("/users\nscripted hello\n").await;
    cli.close_stdin();
    let (code, printed, stderr) = cli.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(
        printed,
        [
            "You are connected! There are 2 users here.",
            "2 users here: user0, user1",
            "[user1]: scripted hello",
        ]
    );
    expect_text(&mut observer, "user1 joined").await;
    expect_text(&mut observer, "[user1]: scripted hello").await;
    expect_text(&mut observer, "user1 left").await;
    drop(observer);
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_is_a_clear_error_and_a_failure() {
    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/chat");
    let (code, printed, stderr) = Cli::spawn(&[&url]).finish().await;
    assert_ne!(code, 0);
    assert!(printed.is_empty());
    assert!(
        stderr.contains(&format!("cannot connect to {url}")),
        "{stderr}"
    );

    let server = TestServer::start(&[]).await;
    let wrong = format!("ws://{}/wrong", server.addr);
    let (code, _, stderr) = Cli::spawn(&[&wrong]).finish().await;
    assert_ne!(code, 0);
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_close_is_reported_with_its_code_and_reason() {
    // Shutdown (1001) is a normal end.
    let server = TestServer::start(&[]).await;
    let mut cli = Cli::spawn(&[&server.url()]);
    cli.expect_line("You are connected! There are 1 users here.")
        .await;
    server.shutdown().await;
    let (code, _, stderr) = cli.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stderr.contains("the server closed the connection: 1001 server shutting down"),
        "{stderr}"
    );

    // A message beyond the protocol limit (1009) is not.
    let server = TestServer::start(&["--max-message", "10"]).await;
    let mut cli = Cli::spawn(&[&server.url()]);
    cli.expect_line("You are connected! There are 1 users here.")
        .await;
    cli.write(&format!("{}\n", "x".repeat(70_000))).await;
    let (code, _, stderr) = cli.finish().await;
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(
        stderr.contains("the server closed the connection: 1009"),
        "{stderr}"
    );
    server.shutdown().await;
}
