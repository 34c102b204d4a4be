//! Peer chat server on tokio-websockets, for the fan-out benchmark (`load-test fanout`): the
//! same observable behaviour as `chat-server` in plain-text mode (the Ktor chat's), built on
//! tokio-websockets' own idioms (`ServerBuilder::accept`, `Stream` + `Sink` of `Message`).
//!
//! - Any path upgrades (`/chat` included); each newcomer is named `user0`, `user1`, ... and
//!   greeted with `You are connected! There are N users here.` (N counts them); the others see
//!   `userN joined`, later `userN left`.
//! - A text message `T` from userN goes to everyone, sender included, as `[userN]: T`, in one
//!   global order: the room is one lock, and a broadcast is queued to every client under it.
//! - Each broadcast is built once: a `Message` holds its payload as shared `Bytes` ("cheaply
//!   clonable"), so every queue gets a reference-counted copy, not a new string.
//! - Per client a bounded queue (1024 messages) drained by its own writer task, which `feed`s
//!   what is queued and flushes once the queue is empty (tokio-websockets then writes the queued
//!   frames with one vectored write, without copying the payloads). A client
//!   whose queue is full is dropped from the room (`userN left`) and closed with 1008; nobody
//!   waits for it.
//! - Pings are answered and closes completed by tokio-websockets itself while reading.
//!
//! Like `echo-server`: a current-thread runtime unless `--threads N` > 1, TCP_NODELAY, and the
//! start line of `chat-server` (`listening on ws://ADDR/chat (web client at http://ADDR/)`; there
//! is no web client here).
//!
//! `cargo run --release --example peer-chat-tokio-websockets -- --addr 127.0.0.1:0 [--threads N]`

use std::sync::{Arc, Mutex};

#[path = "shared/peer_chat_room.rs"]
mod peer_chat_room;
#[path = "shared/peer_runtime.rs"]
mod peer_runtime;
use futures_util::{SinkExt, StreamExt};
use peer_chat_room::{lock, Room};
use tokio::net::TcpStream;
use tokio_websockets::{CloseCode, Message};

fn main() -> std::io::Result<()> {
    peer_chat_room::main_with(Message::text, serve)
}

async fn serve(stream: TcpStream, room: Arc<Mutex<Room<Message>>>) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let Ok((_request, ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
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
        sink.send(Message::close(
            Some(CloseCode::POLICY_VIOLATION),
            "too slow: outbound queue full",
        ))
        .await
    });
    let reader = async {
        // Reading on after a close lets tokio-websockets send its reply; then the stream ends.
        while let Some(Ok(message)) = stream.next().await {
            if let Some(text) = message.as_text() {
                lock(&room).say(id, text);
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
