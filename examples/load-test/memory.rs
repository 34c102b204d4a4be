//! Idle memory: open many connections, let them go idle, and divide the server's VmRSS growth by
//! the number of connections.
//!
//! Echo servers: each connection is opened (optionally exchanges one message) and then left
//! alone. Chat servers (`/chat` in the start line): each connection is opened on `/chat` and
//! drained for as long as it is open, because every newcomer's `userN joined` goes to everyone
//! and a client that stops reading is cut off once its queue is full (1008 after 1024 messages);
//! pings are answered. VmRSS is read once all N are connected and the room is quiet: every
//! client has its greeting and the `joined` line of everyone after it (N + N(N-1)/2 lines).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::proc_stat::vm_rss_kib;
use crate::server::Server;
use crate::wire::{
    connect_within, describe_close, frame_header, push_masked_frame, server_frame_len, OP_BINARY,
    OP_CLOSE, OP_PING, OP_PONG, OP_TEXT,
};

/// How long the chat room may go without a new line before the run fails.
const STALL: Duration = Duration::from_secs(20);

/// A bound on each connect and handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// VmRSS before and after, in KiB.
pub struct MemorySample {
    pub before_kib: u64,
    pub after_kib: u64,
    pub connections: usize,
}

impl MemorySample {
    pub fn bytes_per_connection(&self) -> f64 {
        (self.after_kib.saturating_sub(self.before_kib) * 1024) as f64 / self.connections as f64
    }
}

/// The connections, kept open until the server is gone (killing the server first leaves the
/// TIME_WAIT sockets on its side, and spares a chat server announcing every departure).
pub struct Connections {
    _idle: Vec<TcpStream>,
    _draining: JoinSet<io::Result<()>>,
}

/// Opens `connections` connections (`parallel` handshakes at a time); with `echo_first`, each
/// exchanges one 20-byte message before going idle (echo servers only). Measures after `settle`.
pub async fn measure(
    server: &Server,
    connections: usize,
    parallel: usize,
    echo_first: bool,
    settle: Duration,
    progress: &str,
) -> io::Result<(MemorySample, Connections)> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_kib = vm_rss_kib(server.pid()).ok_or_else(|| io::Error::other("no VmRSS"))?;
    let lines = Arc::new(AtomicU64::new(0));
    let mut idle = Vec::new();
    let mut draining = JoinSet::new();
    let path = if server.chat { "/chat" } else { "/" };
    let mut opened = 0;
    let mut reported = Instant::now();
    while opened < connections {
        let batch = parallel.max(1).min(connections - opened);
        let mut handshakes = JoinSet::new();
        for _ in 0..batch {
            let addr = server.addr;
            let exchange = echo_first && !server.chat;
            handshakes.spawn(async move {
                let (mut stream, leftover) = connect_within(addr, path, CONNECT_TIMEOUT).await?;
                if exchange {
                    echo_once(&mut stream).await?;
                }
                Ok::<_, io::Error>((stream, leftover))
            });
        }
        while let Some(handshake) = handshakes.join_next().await {
            let (stream, leftover) = handshake.map_err(io::Error::other)??;
            if server.chat {
                draining.spawn(drain(opened, stream, leftover, Arc::clone(&lines)));
            } else {
                idle.push(stream);
            }
            opened += 1;
        }
        if let Some(failed) = draining.try_join_next() {
            return Err(closed_early(failed));
        }
        if reported.elapsed() >= Duration::from_secs(2) {
            eprintln!("{progress}: {opened} of {connections} connected");
            reported = Instant::now();
        }
    }
    if server.chat {
        let n = connections as u64;
        let target = n + n * n.saturating_sub(1) / 2;
        let (mut last, mut last_change, mut reported) = (0, Instant::now(), Instant::now());
        loop {
            let seen = lines.load(Ordering::Relaxed);
            if seen >= target {
                break;
            }
            if let Some(failed) = draining.try_join_next() {
                return Err(closed_early(failed));
            }
            if seen != last {
                (last, last_change) = (seen, Instant::now());
            } else if last_change.elapsed() > STALL {
                return Err(io::Error::other(format!(
                    "greetings and joins stalled: {seen} of {target} lines after {STALL:?} \
                     without progress"
                )));
            }
            if reported.elapsed() >= Duration::from_secs(5) {
                eprintln!("{progress}: {seen} of {target} greeting and join lines");
                reported = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(settle).await;
    if let Some(failed) = draining.try_join_next() {
        return Err(closed_early(failed));
    }
    let after_kib = vm_rss_kib(server.pid()).ok_or_else(|| io::Error::other("no VmRSS"))?;
    let sample = MemorySample {
        before_kib,
        after_kib,
        connections: opened,
    };
    let held = Connections {
        _idle: idle,
        _draining: draining,
    };
    Ok((sample, held))
}

fn closed_early(done: Result<io::Result<()>, tokio::task::JoinError>) -> io::Error {
    match done {
        Ok(Err(e)) => e,
        Ok(Ok(())) => io::Error::other("a chat connection ended"),
        Err(e) => io::Error::other(e),
    }
}

/// Reads and drops everything a chat connection receives, counting text lines; answers pings.
async fn drain(
    index: usize,
    mut stream: TcpStream,
    leftover: Vec<u8>,
    lines: Arc<AtomicU64>,
) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(4 << 10);
    buf.extend_from_slice(&leftover);
    loop {
        let mut text = 0;
        while let Some((opcode, len, header)) = frame_header(&buf) {
            if buf.len() < header + len {
                break;
            }
            let payload = &buf[header..header + len];
            match opcode {
                OP_TEXT => text += 1,
                OP_PING => {
                    let mut pong = Vec::with_capacity(len + 6);
                    push_masked_frame(&mut pong, OP_PONG, payload);
                    stream.write_all(&pong).await?;
                }
                OP_CLOSE => {
                    return Err(io::Error::other(format!(
                        "the server closed connection {index}: {}",
                        describe_close(payload)
                    )))
                }
                _ => {}
            }
            buf.advance(header + len);
        }
        lines.fetch_add(text, Ordering::Relaxed);
        if buf.capacity() - buf.len() < 1 << 10 {
            buf.reserve(4 << 10);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other(format!(
                "the server closed connection {index}"
            )));
        }
    }
}

async fn echo_once(stream: &mut TcpStream) -> io::Result<()> {
    let mut frame = Vec::new();
    push_masked_frame(&mut frame, OP_BINARY, &[b'm'; 20]);
    stream.write_all(&frame).await?;
    let mut buf = BytesMut::with_capacity(64);
    while buf.len() < server_frame_len(20) {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}
