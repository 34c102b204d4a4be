//! The chat server end to end: a real server on an ephemeral loopback port, driven by several
//! clients built on the crate's own client API.

mod chat_common;

use std::collections::HashSet;

use chat_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wschat::{CloseCode, Message};

#[tokio::test]
async fn greeting_counts_everyone_including_the_newcomer() {
    let server = TestServer::start(&[]).await;
    let (mut first, history, greeting) = join(&server).await;
    assert!(history.is_empty());
    assert_eq!(greeting, "You are connected! There are 1 users here.");
    let (second, _, greeting) = join(&server).await;
    assert_eq!(greeting, "You are connected! There are 2 users here.");
    expect_text(&mut first, "user1 joined").await;
    drop((first, second));
    server.shutdown().await;
}

#[tokio::test]
async fn join_and_leave_are_announced_to_the_others() {
    let server = TestServer::start(&[]).await;
    let mut clients = join_many(&server, 3).await;
    let mut leaving = clients.pop().unwrap();
    within("close", leaving.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap();
    for client in &mut clients {
        expect_text(client, "user2 left").await;
    }
    send(&mut clients[0], "/users").await;
    expect_text(&mut clients[0], "2 users here: user0, user1").await;
    drop(clients);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_when_many_connect_at_once() {
    let server = TestServer::start(&[]).await;
    let joins = (0..24).map(|_| {
        let url = server.url();
        tokio::spawn(async move {
            let request = wschat::handshake::ClientRequest::from_url(&url)
                .unwrap()
                .with_protocols(&[wschat::chat::JSON_PROTOCOL]);
            let (mut ws, _) = wschat::ws::connect_with(request, wschat::Config::default())
                .await
                .unwrap();
            loop {
                let value = recv_json(&mut ws).await;
                if value["type"] == "system" {
                    return (value["you"].as_str().unwrap().to_owned(), ws);
                }
            }
        })
    });
    let mut names = HashSet::new();
    let mut clients = Vec::new();
    for join in joins {
        let (name, ws) = within("join", join).await.unwrap();
        assert!(names.insert(name.clone()), "{name} given twice");
        clients.push(ws);
    }
    let expected: HashSet<String> = (0..24).map(|i| format!("user{i}")).collect();
    assert_eq!(names, expected);
    drop(clients);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_sees_every_message_in_the_same_order() {
    const PER_SENDER: usize = 60;
    // Senders go as fast as they can: flood control (tested in chat_defences) is off.
    let server = TestServer::start(&["--rate", "0"]).await;
    let clients = join_many(&server, 4).await;
    let mut tasks = Vec::new();
    for (i, mut ws) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let sender = async {
                for n in 0..PER_SENDER {
                    ws.feed(Message::text(format!("m{n} from {i}")))
                        .await
                        .unwrap();
                }
                ws.flush().await.unwrap();
            };
            within("send all", sender).await;
            let mut seen = Vec::new();
            while seen.len() < 4 * PER_SENDER {
                seen.push(recv_text(&mut ws).await);
            }
            seen
        }));
    }
    let mut orders = Vec::new();
    for task in tasks {
        orders.push(within("receive all", task).await.unwrap());
    }
    for order in &orders[1..] {
        assert_eq!(order, &orders[0], "one global order");
    }
    for i in 0..4 {
        let own: Vec<&String> = orders[0]
            .iter()
            .filter(|line| line.starts_with(&format!("[user{i}]: ")))
            .collect();
        let expected: Vec<String> = (0..PER_SENDER)
            .map(|n| format!("[user{i}]: m{n} from {i}"))
            .collect();
        assert_eq!(
            own,
            expected.iter().collect::<Vec<_>>(),
            "sender order kept"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn nick_renames_are_announced_and_bad_or_taken_names_refused() {
    let server = TestServer::start(&[]).await;
    let mut c = join_many(&server, 3).await;
    send(&mut c[0], "/nick alice").await;
    for client in &mut c {
        expect_text(client, "user0 is now known as alice").await;
    }
    send(&mut c[0], "hello").await;
    for client in &mut c {
        expect_text(client, "[alice]: hello").await;
    }
    // Taken (ignoring case), too long, bad characters, missing: an error to the sender only.
    for (command, error) in [
        ("/nick ALICE", "error: the name alice is already taken"),
        (
            &format!("/nick {}", "x".repeat(33)),
            "error: a name can have at most 32 characters (this one has 33)",
        ),
        (
            "/nick bad name",
            "error: a name may only contain letters, digits, _ and - (not ' ')",
        ),
        (
            "/nick",
            "error: usage: /nick NAME (1-32 letters, digits, _ or -)",
        ),
    ] {
        send(&mut c[1], command).await;
        expect_text(&mut c[1], error).await;
    }
    send(&mut c[1], &format!("/nick {}", "b".repeat(32))).await;
    let renamed = format!("user1 is now known as {}", "b".repeat(32));
    for client in &mut c {
        expect_text(client, &renamed).await;
    }
    // (The other clients saw none of the errors: their next message was that rename.)
    // A freed name can be taken again.
    for (who, command, notice) in [
        (2, "/nick Bob_the-2nd", "user2 is now known as Bob_the-2nd"),
        (0, "/nick carol", "alice is now known as carol"),
        (2, "/nick alice", "Bob_the-2nd is now known as alice"),
    ] {
        send(&mut c[who], command).await;
        for client in &mut c {
            expect_text(client, notice).await;
        }
    }
    drop(c);
    server.shutdown().await;
}

#[tokio::test]
async fn whispers_reach_only_the_recipient_and_the_sender() {
    let server = TestServer::start(&[]).await;
    let mut c = join_many(&server, 3).await;
    send(&mut c[0], "/whisper user1 meet me at noon").await;
    expect_text(&mut c[0], "[user0 -> user1] (private): meet me at noon").await;
    expect_text(&mut c[1], "[user0 -> user1] (private): meet me at noon").await;
    // One global order: had the whisper reached the third client, it would come before this.
    send(&mut c[1], "public").await;
    expect_text(&mut c[2], "[user1]: public").await;
    expect_text(&mut c[0], "[user1]: public").await;
    expect_text(&mut c[1], "[user1]: public").await;
    // Names are matched ignoring case; unknown names and missing text are errors.
    send(&mut c[2], "/w USER0 psst").await;
    expect_text(&mut c[2], "[user2 -> user0] (private): psst").await;
    expect_text(&mut c[0], "[user2 -> user0] (private): psst").await;
    send(&mut c[2], "/whisper nobody hi").await;
    expect_text(&mut c[2], "error: nobody called nobody is here; try /users").await;
    send(&mut c[2], "/whisper user0").await;
    expect_text(&mut c[2], "error: usage: /whisper NAME TEXT").await;
    // Whispers are not history.
    let (late, history, _) = join(&server).await;
    assert_eq!(history, ["[user1]: public"]);
    drop((c, late));
    server.shutdown().await;
}

#[tokio::test]
async fn help_users_and_unknown_commands_answer_the_sender_only() {
    let server = TestServer::start(&[]).await;
    let mut c = join_many(&server, 2).await;
    send(&mut c[0], "/help").await;
    let help = recv_text(&mut c[0]).await;
    assert!(help.starts_with("commands: /nick NAME"), "{help}");
    send(&mut c[0], "/users").await;
    expect_text(&mut c[0], "2 users here: user0, user1").await;
    send(&mut c[0], "/dance").await;
    let error = recv_text(&mut c[0]).await;
    assert!(
        error.starts_with("error: unknown command /dance;"),
        "{error}"
    );
    // A message with several lines cannot pass for server lines in the plain format.
    send(&mut c[1], "line one\nuser0 left").await;
    expect_text(&mut c[0], "[user1]: line one\n  user0 left").await;
    expect_text(&mut c[1], "[user1]: line one\n  user0 left").await;
    send(&mut c[0], "//dance is not a command").await;
    expect_text(&mut c[0], "[user0]: /dance is not a command").await;
    expect_text(&mut c[1], "[user0]: /dance is not a command").await;
    drop(c);
    server.shutdown().await;
}

#[tokio::test]
async fn newcomers_get_the_last_50_messages_before_the_greeting() {
    let server = TestServer::start(&["--rate", "0"]).await;
    let (mut talker, _, _) = join(&server).await;
    for n in 0..60 {
        send(&mut talker, &format!("message {n}")).await;
    }
    recv_until(&mut talker, "[user0]: message 59").await;
    let (newcomer, history, greeting) = join(&server).await;
    let expected: Vec<String> = (10..60).map(|n| format!("[user0]: message {n}")).collect();
    assert_eq!(history, expected);
    assert_eq!(greeting, "You are connected! There are 2 users here.");
    drop((talker, newcomer));
    server.shutdown().await;
}

#[tokio::test]
async fn history_can_be_sized_or_turned_off() {
    let server = TestServer::start(&["--history", "0"]).await;
    let (mut talker, _, _) = join(&server).await;
    send(&mut talker, "before you came").await;
    expect_text(&mut talker, "[user0]: before you came").await;
    let (newcomer, history, _) = join(&server).await;
    assert!(history.is_empty(), "{history:?}");
    drop((talker, newcomer));
    server.shutdown().await;

    let server = TestServer::start(&["--history", "2"]).await;
    let (mut talker, _, _) = join(&server).await;
    for text in ["a", "b", "c"] {
        send(&mut talker, text).await;
    }
    recv_until(&mut talker, "[user0]: c").await;
    let (newcomer, history, _) = join(&server).await;
    assert_eq!(history, ["[user0]: b", "[user0]: c"]);
    drop((talker, newcomer));
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_with_an_error_line_and_the_connection_stays() {
    let server = TestServer::start(&[]).await;
    let mut c = join_many(&server, 2).await;
    send(&mut c[0], &"x".repeat(4097)).await;
    expect_text(
        &mut c[0],
        "error: message not sent: it has 4097 bytes and the limit is 4096",
    )
    .await;
    let largest = "y".repeat(4096);
    send(&mut c[0], &largest).await;
    expect_text(&mut c[0], &format!("[user0]: {largest}")).await;
    // The other client never saw the refused one.
    expect_text(&mut c[1], &format!("[user0]: {largest}")).await;
    drop(c);
    server.shutdown().await;
}

#[tokio::test]
async fn max_message_is_configurable() {
    let server = TestServer::start(&["--max-message", "5"]).await;
    let (mut ws, _, _) = join(&server).await;
    send(&mut ws, "123456").await;
    expect_text(
        &mut ws,
        "error: message not sent: it has 6 bytes and the limit is 5",
    )
    .await;
    send(&mut ws, "12345").await;
    expect_text(&mut ws, "[user0]: 12345").await;
    drop(ws);
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_beyond_the_protocol_limit_closes_with_1009() {
    let server = TestServer::start(&[]).await;
    let mut c = join_many(&server, 2).await;
    send(&mut c[0], &"z".repeat((64 << 10) + 1)).await;
    let (_, frame) = expect_close(&mut c[0]).await;
    assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG);
    expect_text(&mut c[1], "user0 left").await;
    drop(c);
    server.shutdown().await;
}

#[tokio::test]
async fn a_binary_message_is_answered_with_close_1003() {
    let server = TestServer::start(&[]).await;
    let mut c = join_many(&server, 2).await;
    within("send", c[0].send(Message::binary(vec![1, 2, 3])))
        .await
        .unwrap();
    let (_, frame) = expect_close(&mut c[0]).await;
    assert_eq!(frame.code, CloseCode::UNSUPPORTED_DATA);
    assert_eq!(frame.reason, "binary messages are not supported; send text");
    expect_text(&mut c[1], "user0 left").await;
    drop(c);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_with_1008_and_the_others_get_everything() {
    let server = TestServer::start(&["--history", "0", "--rate", "0"]).await;
    let mut c = join_many(&server, 2).await;
    // The slow client, with a small receive buffer so that it fills up quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = within("tcp", socket.connect(server.addr)).await.unwrap();
    let request = wschat::handshake::ClientRequest::from_url(&server.url()).unwrap();
    let (mut slow, _) = within(
        "handshake",
        wschat::ws::client_with_stream(
            wschat::ws::ClientStream::Plain(stream),
            request,
            wschat::Config::default(),
        ),
    )
    .await
    .unwrap();
    for client in &mut c {
        expect_text(client, "user2 joined").await;
    }

    // Flood until the slow client is dropped, then a little more; the others read everything.
    let mut sender = c.remove(0);
    let mut reader = c.remove(0);
    let line = "w".repeat(3000);
    let (kicked_tx, mut kicked_rx) = tokio::sync::watch::channel(false);
    let read_all = tokio::spawn(async move {
        let mut messages = 0usize;
        loop {
            let text = recv_text(&mut reader).await;
            if text == "user2 left" {
                kicked_tx.send_replace(true);
            } else if text == "[user0]: done" {
                return messages;
            } else {
                assert_eq!(text, format!("[user0]: {messages} {}", "w".repeat(3000)));
                messages += 1;
            }
        }
    });
    let mut sent = 0usize;
    let mut after_kick = 0;
    let flood = async {
        while after_kick < 50 {
            sender
                .send(Message::text(format!("{sent} {line}")))
                .await
                .unwrap();
            sent += 1;
            if *kicked_rx.borrow_and_update() {
                after_kick += 1;
            }
            // Let the sender's own copies drain too (the sender reads them below).
            while let Ok(Some(Ok(_))) =
                tokio::time::timeout(std::time::Duration::ZERO, sender.recv()).await
            {}
        }
        sender.send(Message::text("done")).await.unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), flood)
        .await
        .expect("the slow client is disconnected while the others keep up");
    let received = within("the reader gets everything", read_all)
        .await
        .unwrap();
    assert_eq!(received, sent, "the reader missed nothing");

    // The slow client finally reads: what was in flight, then the 1008 close.
    let (texts, frame) = expect_close(&mut slow).await;
    assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
    assert_eq!(frame.reason, "too slow: outbound queue full");
    assert!(texts.len() < sent, "the queue was cut short");
    drop((sender, slow));
    server.shutdown().await;
}

#[tokio::test]
async fn json_clients_get_typed_objects_with_seq_and_ts() {
    let server = TestServer::start(&[]).await;
    let (mut plain, _, _) = join(&server).await;
    send(&mut plain, "from plain").await;
    expect_text(&mut plain, "[user0]: from plain").await;

    let mut json = connect_json(&server).await;
    let history = recv_json(&mut json).await;
    assert_eq!(history["type"], "message");
    assert_eq!(history["from"], "user0");
    assert_eq!(history["text"], "from plain");
    let welcome = recv_json(&mut json).await;
    assert_eq!(welcome["type"], "system");
    assert_eq!(
        welcome["text"],
        "You are connected! There are 2 users here."
    );
    assert_eq!(welcome["you"], "user1");
    assert_eq!(welcome["users"], serde_json::json!(["user0", "user1"]));
    let mut last_seq = welcome["seq"].as_u64().unwrap();
    assert!(last_seq > history["seq"].as_u64().unwrap());
    let mut last_ts = welcome["ts"].as_u64().unwrap();
    assert!(last_ts > 1_600_000_000_000, "milliseconds since the epoch");
    expect_text(&mut plain, "user1 joined").await;

    let commands = [
        r#"{"type":"command","text":"/nick jay"}"#,
        r#"{"type":"message","text":"/nick is just text here"}"#,
        r#"{"type":"command","text":"/whisper user0 psst"}"#,
    ];
    for command in commands {
        send(&mut json, command).await;
    }
    let nick = recv_json(&mut json).await;
    assert_eq!(nick["type"], "nick");
    assert_eq!(
        (&nick["from"], &nick["to"]),
        (&"user1".into(), &"jay".into())
    );
    let message = recv_json(&mut json).await;
    assert_eq!(message["type"], "message");
    assert_eq!(message["from"], "jay");
    assert_eq!(message["text"], "/nick is just text here");
    let whisper = recv_json(&mut json).await;
    assert_eq!(whisper["type"], "whisper");
    assert_eq!(
        (&whisper["from"], &whisper["to"]),
        (&"jay".into(), &"user0".into())
    );
    for event in [&nick, &message, &whisper] {
        let seq = event["seq"].as_u64().unwrap();
        let ts = event["ts"].as_u64().unwrap();
        assert!(seq > last_seq && ts >= last_ts, "{event}");
        (last_seq, last_ts) = (seq, ts);
    }
    expect_text(&mut plain, "user1 is now known as jay").await;
    expect_text(&mut plain, "[jay]: /nick is just text here").await;
    expect_text(&mut plain, "[jay -> user0] (private): psst").await;

    send(&mut json, r#"{"type":"command","text":"/users"}"#).await;
    let users = recv_json(&mut json).await;
    assert_eq!(users["type"], "users");
    assert_eq!(users["users"], serde_json::json!(["jay", "user0"]));
    assert!(
        users.get("seq").is_none(),
        "replies to one user are outside the order"
    );
    for bad in ["not json", r#"{"type":"shout","text":"x"}"#] {
        send(&mut json, bad).await;
        let error = recv_json(&mut json).await;
        assert_eq!(error["type"], "error", "{error}");
    }
    send(&mut plain, "bye").await;
    let from_plain = recv_json(&mut json).await;
    assert_eq!(from_plain["text"], "bye");
    within("close", json.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    recv_until(&mut plain, "[user0]: bye").await;
    let left = recv_text(&mut plain).await;
    assert_eq!(left, "jay left");
    drop(plain);
    server.shutdown().await;
}

/// Sends a raw HTTP request and returns the whole response.
async fn http(server: &TestServer, request: &str) -> String {
    let mut stream = within("tcp", tokio::net::TcpStream::connect(server.addr))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within("response", stream.read_to_end(&mut response))
        .await
        .unwrap();
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn http_serves_the_page_at_root_426_at_plain_chat_and_404_elsewhere() {
    let server = TestServer::start(&[]).await;
    let page = http(&server, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html; charset=utf-8\r\n"));
    assert!(page.contains("wschat.v1.json"));

    let plain = http(&server, "GET /chat HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        plain.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{plain}"
    );
    assert!(plain.contains("Upgrade: websocket\r\n"));
    assert!(plain.contains("WebSocket endpoint"));

    let missing = http(&server, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );

    let error = within(
        "connect",
        wschat::connect(&format!("ws://{}/other", server.addr)),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_pings_and_closes_a_silent_connection() {
    let server = TestServer::start(&["--ping-interval", "100ms", "--idle-timeout", "400ms"]).await;
    let (mut live, _, _) = join(&server).await;
    // A client that keeps reading answers pings automatically and stays.
    let mut pings = 0;
    let stay = async {
        while pings < 3 {
            if let Some(Ok(Message::Ping(_))) = live.recv().await {
                pings += 1;
            }
        }
    };
    within("pings", stay).await;

    // A client that stops reading sends no pongs and is closed after the idle timeout.
    let (mut silent, _, _) = join(&server).await;
    expect_text(&mut live, "user1 joined").await;
    let leave = async {
        loop {
            if let Some(Ok(Message::Text(text))) = live.recv().await {
                return text.as_str().to_owned();
            }
        }
    };
    assert_eq!(within("idle close", leave).await, "user1 left");
    let (_, frame) = expect_close(&mut silent).await;
    assert_eq!(frame.code, CloseCode::GOING_AWAY);
    drop(live);
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_closes_every_client_with_1001() {
    let server = TestServer::start(&[]).await;
    let mut clients = join_many(&server, 3).await;
    let stopping = tokio::spawn(server.shutdown());
    for client in &mut clients {
        let (_, frame) = expect_close(client).await;
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
        assert_eq!(frame.reason, "server shutting down");
    }
    within("shutdown", stopping).await.unwrap();
}
