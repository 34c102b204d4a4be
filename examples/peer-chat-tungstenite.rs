//! Peer chat server on tokio-tungstenite, for the fan-out benchmark (`load-test fanout`): the
//! same observable behaviour as `chat-server` in plain-text mode (the Ktor chat's), built on
//! tokio-tungstenite's own idioms.
//!
//! - Any path upgrades (`/chat` included); each newcomer is named `user0`, `user1`, ... and
//!   greeted with `You are connected! There are N users here.` (N counts them); the others see
//!   `userN joined`, later `userN left`.
//! - A text message `T` from userN goes to everyone, sender included, as `[userN]: T`, in one
//!   global order: the room is one lock, and a broadcast is queued to every client under it.
//! - Each broadcast is built once: a `Message::Text` holds its text as `Utf8Bytes` (shared
//!   `Bytes`), so every queue gets a reference-counted copy, not a new string.
//! - Per client a bounded queue (1024 messages) drained by its own writer task, which `feed`s
//!   what is queued and flushes once the queue is empty (tungstenite's `forward` idiom). A client
//!   whose queue is full is dropped from the room (`userN left`) and closed with 1008; nobody
//!   waits for it.
//! - Pings are answered and closes completed by tungstenite itself while reading.
//!
//! Like `echo-server`: a current-thread runtime unless `--threads N` > 1, TCP_NODELAY, and the
//! start line of `chat-server` (`listening on ws://ADDR/chat (web client at http://ADDR/)`; there
//! is no web client here).
//!
//! `cargo run --release --example peer-chat-tungstenite -- --addr 127.0.0.1:0 [--threads N]`

use std::sync::{Arc, Mutex};

#[path = "shared/peer_chat_room.rs"]
mod peer_chat_room;
#[path = "shared/peer_runtime.rs"]
mod peer_runtime;
use futures_util::{SinkExt, StreamExt};
use peer_chat_room::{lock, Room};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    peer_chat_room::main_with(Message::text, serve)
}

async fn serve(stream: TcpStream, room: Arc<Mutex<Room<Message>>>) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (id, mut queue) = lock(&room).join();
    let mut writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            sink.feed(message).await?;
            while let Ok(message) = queue.try_recv() {
                sink.feed(message).await?;
            }
            sink.flush().await?;
        }
        // The room dropped this client: its queue was full.
        sink.send(Message::Close(Some(CloseFrame {
            code: CloseCode::Policy,
            reason: "too slow: outbound queue full".into(),
        })))
        .await
    });
    let reader = async {
        // Reading on after a close lets tungstenite send its reply; then the stream ends.
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(text) = message {
                lock(&room).say(id, &text);
            }
        }
    };
    tokio::select! {
        () = reader => {}
        _ = &mut writer => {}
    }
    writer.abort();
    lock(&room).leave(id);
}
