//! Our client against our server over loopback TCP: the basic message kinds and the closing
//! handshake in both directions.

use std::time::Duration;

use tokio::net::TcpListener;
use wschat::{CloseCode, Config, Message};

const LIMIT: Duration = Duration::from_secs(10);

async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = wschat::accept(stream, Config::default()).await.unwrap();
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() {
                        ws.send(message).await.unwrap();
                    }
                }
            });
        }
    });
    format!("ws://{addr}/echo")
}

#[tokio::test]
async fn text_binary_and_ping_round_trip_then_client_closes() {
    tokio::time::timeout(LIMIT, async {
        let url = echo_server().await;
        let mut ws = wschat::connect(&url).await.unwrap();
        ws.send(Message::text("hello ✓")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap().as_text(), Some("hello ✓"));
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(big));
        ws.ping(&b"are you there"[..]).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(bytes::Bytes::from_static(b"are you there"))
        );
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(ws.recv().await.is_none());
    })
    .await
    .unwrap();
}
