//! Interoperability with an independent implementation, tokio-tungstenite, over real loopback
//! TCP: our server with their client, and our client with their server. Text, binary, fragmented
//! messages in both directions, 16 MiB messages, ping/pong, and every valid close code through
//! the closing handshake, started from either side.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as TCloseCode, Data, OpCode,
};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as TCloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wschat::{CloseCode, CloseFrame, Config, Message};

const VALID_CODES: [u16; 13] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
];

/// Their limits raised above 16 MiB (their default frame limit is exactly 16 MiB).
fn their_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(Some(ECHO_MAX_MESSAGE))
        .max_message_size(Some(ECHO_MAX_MESSAGE))
}

type TheirClient = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn their_client(addr: SocketAddr) -> TheirClient {
    let url = format!("ws://{addr}/interop");
    let (ws, response) = within(tokio_tungstenite::connect_async_with_config(
        url.as_str(),
        Some(their_config()),
        true,
    ))
    .await
    .expect("their handshake with our server");
    assert_eq!(response.status(), 101);
    ws
}

async fn their_next(ws: &mut TheirClient) -> TMessage {
    within(ws.next())
        .await
        .expect("a message")
        .expect("no error")
}

// ----- our server, their client -----------------------------------------------------------------

#[tokio::test]
async fn our_server_echoes_their_text_binary_and_answers_their_ping() {
    let mut ws = their_client(spawn_echo_server(echo_config()).await).await;
    within(ws.send(TMessage::text("hello ✓"))).await.unwrap();
    assert_eq!(their_next(&mut ws).await, TMessage::text("hello ✓"));
    let binary = Bytes::from(pattern(70_000));
    within(ws.send(TMessage::binary(binary.clone())))
        .await
        .unwrap();
    assert_eq!(their_next(&mut ws).await, TMessage::binary(binary));
    within(ws.send(TMessage::Ping(Bytes::from_static(b"are you there"))))
        .await
        .unwrap();
    assert_eq!(
        their_next(&mut ws).await,
        TMessage::Pong(Bytes::from_static(b"are you there"))
    );
    within(ws.close(None)).await.unwrap();
}

#[tokio::test]
async fn our_server_reassembles_their_fragmented_messages() {
    let mut ws = their_client(spawn_echo_server(echo_config()).await).await;
    let frames = [
        Frame::message(
            Bytes::from_static("frag".as_bytes()),
            OpCode::Data(Data::Text),
            false,
        ),
        Frame::message(
            Bytes::from_static("mént".as_bytes()),
            OpCode::Data(Data::Continue),
            false,
        ),
        Frame::message(
            Bytes::from_static("ed €".as_bytes()),
            OpCode::Data(Data::Continue),
            true,
        ),
    ];
    for frame in frames {
        within(ws.feed(TMessage::Frame(frame))).await.unwrap();
    }
    within(ws.send(TMessage::Ping(Bytes::new()))).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(their_next(&mut ws).await);
    }
    assert!(got.contains(&TMessage::text("fragménted €")), "{got:?}");
    assert!(got.contains(&TMessage::Pong(Bytes::new())), "{got:?}");
}

#[tokio::test]
async fn our_server_echoes_their_16_mib_message() {
    let mut ws = their_client(spawn_echo_server(echo_config()).await).await;
    let payload = Bytes::from(pattern(16 << 20));
    within(ws.send(TMessage::binary(payload.clone())))
        .await
        .unwrap();
    let echo = their_next(&mut ws).await;
    assert!(echo == TMessage::binary(payload), "16 MiB echo differs");
}

#[tokio::test]
async fn our_server_with_fragment_size_is_understood_by_their_client() {
    let config = echo_config().with_fragment_size(Some(1000));
    let mut ws = their_client(spawn_echo_server(config).await).await;
    let text = "κόσμε €𝄞 ".repeat(1000);
    within(ws.send(TMessage::text(text.clone()))).await.unwrap();
    assert_eq!(their_next(&mut ws).await, TMessage::text(text));
}

#[tokio::test]
async fn their_close_with_every_valid_code_is_echoed_by_our_server() {
    let addr = spawn_echo_server(echo_config()).await;
    for code in VALID_CODES {
        let mut ws = their_client(addr).await;
        within(ws.close(Some(TCloseFrame {
            code: TCloseCode::from(code),
            reason: "bye".into(),
        })))
        .await
        .unwrap();
        match their_next(&mut ws).await {
            TMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), code),
            other => panic!("expected the close echoed, got {other:?}"),
        }
        assert!(within(ws.next()).await.is_none(), "stream ends after close");
    }
}

/// Our server: closes with the code given in a text message "close NNNN"; reports whether the
/// closing handshake completed cleanly.
async fn closing_server() -> (SocketAddr, mpsc::UnboundedReceiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let report = report.clone();
            tokio::spawn(async move {
                let mut ws = wschat::accept(stream, Config::default()).await.unwrap();
                while let Some(Ok(message)) = ws.recv().await {
                    if let Some(code) = message.as_text().and_then(|t| t.strip_prefix("close ")) {
                        let code = CloseCode::new(code.parse().unwrap()).unwrap();
                        let closed = ws.close(code, "server says bye").await;
                        let _ = report.send(closed.is_ok() && ws.recv().await.is_none());
                        return;
                    }
                }
            });
        }
    });
    (addr, reports)
}

#[tokio::test]
async fn our_close_with_every_valid_code_reaches_their_client() {
    let (addr, mut reports) = closing_server().await;
    for code in VALID_CODES {
        let mut ws = their_client(addr).await;
        within(ws.send(TMessage::text(format!("close {code}"))))
            .await
            .unwrap();
        match their_next(&mut ws).await {
            TMessage::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), code);
                assert_eq!(frame.reason.as_str(), "server says bye");
            }
            other => panic!("expected our close, got {other:?}"),
        }
        assert!(within(ws.next()).await.is_none(), "stream ends after close");
        // Their client closes its end of TCP only when dropped; our server waits for that.
        drop(ws);
        assert_eq!(within(reports.recv()).await, Some(true), "code {code}");
    }
}

// ----- our client, their server -----------------------------------------------------------------

/// Their echo server; reports the close frames it receives, and on a text "close NNNN" closes
/// with that code itself.
async fn their_server() -> (String, mpsc::UnboundedReceiver<Option<u16>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let report = report.clone();
            tokio::spawn(async move {
                let mut ws =
                    tokio_tungstenite::accept_async_with_config(stream, Some(their_config()))
                        .await
                        .unwrap();
                while let Some(Ok(message)) = ws.next().await {
                    match message {
                        TMessage::Text(text) if text.starts_with("close ") => {
                            let code: u16 = text["close ".len()..].parse().unwrap();
                            let frame = TCloseFrame {
                                code: TCloseCode::from(code),
                                reason: "their bye".into(),
                            };
                            let _ = ws.close(Some(frame)).await;
                        }
                        TMessage::Text(_) | TMessage::Binary(_) => {
                            // A failed send ends the loop at the next read.
                            let _ = ws.send(message).await;
                        }
                        TMessage::Close(frame) => {
                            let _ = report.send(frame.map(|f| u16::from(f.code)));
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    (format!("ws://{addr}/interop"), reports)
}

async fn our_client(url: &str, config: Config) -> wschat::WebSocket<wschat::ws::ClientStream> {
    let request = wschat::handshake::ClientRequest::from_url(url).unwrap();
    within(wschat::ws::connect_with(request, config))
        .await
        .expect("our handshake with their server")
        .0
}

async fn our_next(ws: &mut wschat::WebSocket<wschat::ws::ClientStream>) -> Message {
    within(ws.recv())
        .await
        .expect("a message")
        .expect("no error")
}

#[tokio::test]
async fn their_server_echoes_our_text_binary_and_answers_our_ping() {
    let (url, _) = their_server().await;
    let mut ws = our_client(&url, echo_config()).await;
    within(ws.send(Message::text("hello ✓"))).await.unwrap();
    assert_eq!(our_next(&mut ws).await, Message::text("hello ✓"));
    let binary = pattern(70_000);
    within(ws.send(Message::binary(binary.clone())))
        .await
        .unwrap();
    assert_eq!(our_next(&mut ws).await, Message::binary(binary));
    within(ws.ping(&b"are you there"[..])).await.unwrap();
    assert_eq!(
        our_next(&mut ws).await,
        Message::Pong(Bytes::from_static(b"are you there"))
    );
    within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
}

#[tokio::test]
async fn their_server_reassembles_our_fragmented_messages() {
    let (url, _) = their_server().await;
    let mut ws = our_client(&url, echo_config().with_fragment_size(Some(1000))).await;
    let text = "κόσμε €𝄞 ".repeat(1000);
    within(ws.send(Message::text(text.clone()))).await.unwrap();
    assert_eq!(our_next(&mut ws).await, Message::text(text));
    let binary = pattern(100_001);
    within(ws.send(Message::binary(binary.clone())))
        .await
        .unwrap();
    assert_eq!(our_next(&mut ws).await, Message::binary(binary));
}

#[tokio::test]
async fn their_server_echoes_our_16_mib_message() {
    let (url, _) = their_server().await;
    let mut ws = our_client(&url, echo_config()).await;
    let payload = pattern(16 << 20);
    within(ws.send(Message::binary(payload.clone())))
        .await
        .unwrap();
    let echo = our_next(&mut ws).await;
    assert!(echo == Message::binary(payload), "16 MiB echo differs");
}

#[tokio::test]
async fn our_close_with_every_valid_code_is_echoed_by_their_server() {
    let (url, mut reports) = their_server().await;
    for code in VALID_CODES {
        let mut ws = our_client(&url, Config::default()).await;
        let frame = CloseFrame::new(CloseCode::new(code).unwrap(), "bye");
        within(ws.send(Message::Close(Some(frame)))).await.unwrap();
        match our_next(&mut ws).await {
            Message::Close(Some(frame)) => assert_eq!(frame.code.as_u16(), code),
            other => panic!("expected the close echoed, got {other:?}"),
        }
        assert!(within(ws.recv()).await.is_none(), "stream ends after close");
        assert_eq!(within(reports.recv()).await, Some(Some(code)));
    }
}

#[tokio::test]
async fn their_close_with_every_valid_code_is_answered_by_our_client() {
    let (url, mut reports) = their_server().await;
    for code in VALID_CODES {
        let mut ws = our_client(&url, Config::default()).await;
        within(ws.send(Message::text(format!("close {code}"))))
            .await
            .unwrap();
        match our_next(&mut ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code.as_u16(), code);
                assert_eq!(frame.reason, "their bye");
            }
            other => panic!("expected their close, got {other:?}"),
        }
        assert!(within(ws.recv()).await.is_none(), "stream ends after close");
        // Their server sees our answer to its close, carrying the same code.
        assert_eq!(within(reports.recv()).await, Some(Some(code)));
    }
}
