//! Chat fan-out: N clients connected to the chat server, one more client sends; every message is
//! delivered to all N. Reports deliveries per second and the latency from send to receipt.
//!
//! The sender keeps at most `window` messages ahead of the slowest receiver, so the latencies
//! are those of a loaded but not overflowing server (the chat server drops clients whose queue
//! overflows).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::server::Server;
use crate::wire::{connect, frame_header, push_masked_frame, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};

/// The marker a receiver looks for in a broadcast line `[name]: fanout SEQ SENT_NS`.
const MARKER: &str = "fanout ";

pub struct FanoutResult {
    pub clients: usize,
    pub messages: u64,
    pub deliveries_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub server_cpu_seconds: f64,
    /// The generator's own CPU time over the same span, in seconds.
    pub generator_cpu_seconds: f64,
}

pub async fn measure(
    server: &Server,
    clients: usize,
    messages: u64,
    window: u64,
) -> io::Result<FanoutResult> {
    let base = Instant::now();
    let delivered: Arc<Vec<AtomicU64>> =
        Arc::new((0..clients).map(|_| AtomicU64::new(0)).collect());
    let mut receivers = Vec::with_capacity(clients);
    for index in 0..clients {
        let (stream, leftover) = connect(server.addr, "/chat").await?;
        let delivered = Arc::clone(&delivered);
        receivers.push(tokio::spawn(receive(
            stream, leftover, base, index, delivered, messages,
        )));
    }
    let (sender, leftover) = connect(server.addr, "/chat").await?;
    let (read_half, mut write_half) = sender.into_split();
    let drain = tokio::spawn(drain_sender(read_half, leftover));
    // Let the join announcements settle before measuring.
    tokio::time::sleep(Duration::from_millis(500 + clients as u64)).await;

    let cpu0 = crate::proc_stat::cpu_seconds(server.pid()).unwrap_or(0.0);
    let own0 = crate::proc_stat::own_cpu_seconds();
    let started = Instant::now();
    for seq in 0..messages {
        let deadline = Instant::now() + Duration::from_secs(30);
        while min_delivered(&delivered) + window <= seq {
            if Instant::now() > deadline {
                return Err(io::Error::other("receivers stopped receiving"));
            }
            tokio::task::yield_now().await;
        }
        let text = format!("{MARKER}{seq} {}", base.elapsed().as_nanos());
        send_text(&mut write_half, &text).await?;
    }
    let mut latencies = Vec::with_capacity(clients * messages as usize);
    for receiver in receivers {
        let (mut seen, last) = tokio::time::timeout(Duration::from_secs(60), receiver)
            .await
            .map_err(|_| io::Error::other("receivers did not get every message"))?
            .map_err(io::Error::other)??;
        latencies.append(&mut seen);
        let _ = last;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu1 = crate::proc_stat::cpu_seconds(server.pid()).unwrap_or(cpu0);
    let own1 = crate::proc_stat::own_cpu_seconds();
    drain.abort();
    latencies.sort_unstable();
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        Duration::from_nanos(latencies.get(i).copied().unwrap_or(0))
    };
    Ok(FanoutResult {
        clients,
        messages,
        deliveries_per_second: latencies.len() as f64 / elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
        max: pick(1.0),
        server_cpu_seconds: cpu1 - cpu0,
        generator_cpu_seconds: own1 - own0,
    })
}

fn min_delivered(delivered: &[AtomicU64]) -> u64 {
    delivered
        .iter()
        .map(|d| d.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0)
}

async fn send_text(write: &mut OwnedWriteHalf, text: &str) -> io::Result<()> {
    let mut frame = Vec::with_capacity(text.len() + 14);
    push_masked_frame(&mut frame, OP_TEXT, text.as_bytes());
    write.write_all(&frame).await
}

/// Reads until `messages` marked lines have arrived; returns their latencies in nanoseconds.
async fn receive(
    stream: TcpStream,
    leftover: Vec<u8>,
    base: Instant,
    index: usize,
    delivered: Arc<Vec<AtomicU64>>,
    messages: u64,
) -> io::Result<(Vec<u64>, Instant)> {
    let (mut read, mut write) = stream.into_split();
    let mut buf = BytesMut::with_capacity(16 << 10);
    buf.extend_from_slice(&leftover);
    let mut latencies = Vec::with_capacity(messages as usize);
    loop {
        while let Some((opcode, len, header)) = frame_header(&buf) {
            if buf.len() < header + len {
                break;
            }
            let now = base.elapsed().as_nanos() as u64;
            let payload = buf[header..header + len].to_vec();
            buf.advance(header + len);
            match opcode {
                OP_TEXT => {
                    if let Some(sent) = marked_send_time(&payload) {
                        latencies.push(now.saturating_sub(sent));
                        delivered[index].fetch_add(1, Ordering::Relaxed);
                        if latencies.len() as u64 == messages {
                            return Ok((latencies, Instant::now()));
                        }
                    }
                }
                OP_PING => {
                    let mut pong = Vec::new();
                    push_masked_frame(&mut pong, OP_PONG, &payload);
                    write.write_all(&pong).await?;
                }
                OP_CLOSE => return Err(io::Error::other("the chat server closed a receiver")),
                _ => {}
            }
        }
        if read.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// The send time carried by `[name]: fanout SEQ SENT_NS`.
fn marked_send_time(payload: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(payload).ok()?;
    let rest = &text[text.find(MARKER)? + MARKER.len()..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The sender's own copies of the broadcast are read and dropped.
async fn drain_sender(mut read: tokio::net::tcp::OwnedReadHalf, _leftover: Vec<u8>) {
    let mut buf = BytesMut::with_capacity(64 << 10);
    while matches!(read.read_buf(&mut buf).await, Ok(n) if n > 0) {
        buf.clear();
    }
}
