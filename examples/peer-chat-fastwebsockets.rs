//! Peer chat server on fastwebsockets, for the fan-out benchmark (`load-test fanout`): the same
//! observable behaviour as `chat-server` in plain-text mode (the Ktor chat's), built on
//! fastwebsockets' split API (`unstable-split`): a `FragmentCollectorRead` reads, a
//! `WebSocketWrite` writes.
//!
//! - Any path upgrades (`/chat` included); each newcomer is named `user0`, `user1`, ... and
//!   greeted with `You are connected! There are N users here.` (N counts them); the others see
//!   `userN joined`, later `userN left`.
//! - A text message `T` from userN goes to everyone, sender included, as `[userN]: T`, in one
//!   global order: the room is one lock, and a broadcast is queued to every client under it.
//! - Each broadcast is built once, as shared `Bytes`; every queue gets a reference-counted copy
//!   and the writer hands it to fastwebsockets as a borrowed payload (`Payload::Borrowed`).
//! - Per client a bounded queue (1024 messages) drained by its own writer task. fastwebsockets
//!   writes each frame straight to its stream, so the write half sits behind a `BufWriter` and
//!   the writer flushes once the queue is empty (`WebSocketWrite::flush`): one write per batch,
//!   not one per frame. A client whose queue is full is dropped from the room (`userN left`) and
//!   closed with 1008; nobody waits for it.
//! - Pings are answered and closes echoed by fastwebsockets (its auto-pong and auto-close): the
//!   reader hands those obligated frames to its `send_fn`, which writes them on the shared write
//!   half.
//!
//! fastwebsockets leaves the HTTP upgrade to hyper (its `upgrade` feature, not enabled here);
//! like `peer-echo-fastwebsockets`, this server answers the upgrade by hand with
//! `wschat::handshake::accept_key`.
//!
//! Like `echo-server`: a current-thread runtime unless `--threads N` > 1, TCP_NODELAY, and the
//! start line of `chat-server` (`listening on ws://ADDR/chat (web client at http://ADDR/)`; there
//! is no web client here).
//!
//! `cargo run --release --example peer-chat-fastwebsockets -- --addr 127.0.0.1:0 [--threads N]`

use std::sync::{Arc, Mutex};

use bytes::Bytes;
#[path = "shared/peer_runtime.rs"]
mod peer_runtime;
#[path = "shared/raw_upgrade.rs"]
mod raw_upgrade;
use raw_upgrade::upgrade;
#[path = "shared/peer_chat_room.rs"]
mod peer_chat_room;
use fastwebsockets::{
    after_handshake_split, FragmentCollectorRead, Frame, OpCode, Payload, Role, WebSocketError,
    WebSocketWrite,
};
use peer_chat_room::{lock, Room};
use tokio::io::BufWriter;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The write half: frames go to a buffer, flushed once per batch.
type Writer = WebSocketWrite<BufWriter<OwnedWriteHalf>>;

fn main() -> std::io::Result<()> {
    peer_chat_room::main_with(Bytes::from, serve)
}

async fn serve(mut stream: TcpStream, room: Arc<Mutex<Room<Bytes>>>) {
    if stream.set_nodelay(true).is_err() || upgrade(&mut stream).await.is_err() {
        return;
    }
    let (read, write) = stream.into_split();
    let (read, write) = after_handshake_split(read, BufWriter::new(write), Role::Server);
    let mut read = FragmentCollectorRead::new(read);
    let write = Arc::new(tokio::sync::Mutex::new(write));
    let (id, queue) = lock(&room).join();
    let mut writer = tokio::spawn(drain(queue, Arc::clone(&write)));
    let reader = async {
        // Pongs and the close reply: fastwebsockets' obligated sends, on the shared write half.
        let mut send = |frame: Frame<'static>| {
            let write = Arc::clone(&write);
            async move {
                let mut write = write.lock().await;
                write.write_frame(frame).await?;
                write.flush().await
            }
        };
        loop {
            match read.read_frame::<_, WebSocketError>(&mut send).await {
                Ok(frame) if frame.opcode == OpCode::Text => {
                    // The collector has checked the text is UTF-8.
                    if let Ok(text) = std::str::from_utf8(&frame.payload) {
                        lock(&room).say(id, text);
                    }
                }
                Ok(frame) if frame.opcode == OpCode::Close => return,
                Ok(_) => {}
                Err(_) => return,
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

/// Writes what is queued, flushing when the queue is empty; closes with 1008 once the room has
/// dropped this client.
async fn drain(
    mut queue: mpsc::Receiver<Bytes>,
    write: Arc<tokio::sync::Mutex<Writer>>,
) -> Result<(), WebSocketError> {
    while let Some(payload) = queue.recv().await {
        let mut write = write.lock().await;
        write
            .write_frame(Frame::text(Payload::Borrowed(&payload)))
            .await?;
        while let Ok(payload) = queue.try_recv() {
            write
                .write_frame(Frame::text(Payload::Borrowed(&payload)))
                .await?;
        }
        write.flush().await?;
    }
    let mut write = write.lock().await;
    write
        .write_frame(Frame::close(1008, b"too slow: outbound queue full"))
        .await?;
    write.flush().await
}
