//! Chat fan-out: N clients in one chat room; S of them (`--senders`, at most N) send their share
//! of the messages as fast as the flow-control window lets them, and every message reaches all
//! N clients, senders included (a chat server broadcasts to everyone). Reports deliveries per
//! second, deliveries per server-CPU-second, and the latency from a sender's write to each
//! client's read of the broadcast line `[userK]: fanout J SEQ SENT_NS`.
//!
//! Each sender keeps at most `window` of its own messages ahead of the slowest client, so the
//! latencies are those of a loaded but not overflowing server: with 10 senders and a window of
//! 16, at most 160 messages are queued for anyone, well under the 1024 that make a chat server
//! drop a client.
//!
//! Before measuring, the run waits for the room to fill: every client must have its greeting and
//! the `joined` line of everyone who came after it (N + N(N-1)/2 lines). Every wait is bounded:
//! a stall (no progress for `STALL`) fails the run with what was missing.

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;

use crate::proc_stat::cpu_seconds_fine;
use crate::server::Server;
use crate::wire::{
    connect_within, describe_close, frame_header, push_masked_frame, OP_CLOSE, OP_PING, OP_PONG,
    OP_TEXT,
};

/// The marker a client looks for in a broadcast line `[name]: fanout J SEQ SENT_NS`.
const MARKER: &[u8] = b"fanout ";

/// How long any wait may go without progress before the run fails.
const STALL: Duration = Duration::from_secs(20);

/// A bound on each connect and handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub const DEFAULT_CLIENTS: &str = "1,100,1000,5000";

/// One run's shape.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub clients: usize,
    pub senders: usize,
    pub messages: u64,
    pub window: u64,
    /// Handshakes in progress at once while the room fills.
    pub parallel: usize,
}

impl Params {
    /// The senders actually used: at least one, at most every client.
    pub fn senders(&self) -> usize {
        self.senders.clamp(1, self.clients.max(1))
    }

    pub fn label(&self) -> String {
        format!("{} clients, {} senders", self.clients, self.senders())
    }
}

/// What one run saw.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub deliveries_per_second: f64,
    /// Deliveries per second of server CPU time (utime + stime).
    pub deliveries_per_cpu_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub server_cpu_seconds: f64,
    /// The generator's own CPU time over the same span.
    pub generator_cpu_seconds: f64,
    /// How long the room took to fill (connects, greetings and joins), in seconds.
    pub fill_seconds: f64,
    /// Messages a client got out of its sender's order (should be 0).
    pub out_of_order: u64,
}

/// The connections, kept open until the server is gone: closing them first would make the
/// server announce every departure to everyone still there.
pub struct Connections {
    _readers: Vec<OwnedReadHalf>,
    _writers: Vec<Arc<Mutex<OwnedWriteHalf>>>,
}

/// What the client tasks and the senders share.
struct Shared {
    base: Instant,
    clients: u32,
    /// `acks[j][k]`: clients that have received message `k` of sender `j`.
    acks: Vec<Vec<AtomicU32>>,
    /// Sender `j` is woken when one of its messages has reached every client.
    wake: Vec<Notify>,
    /// Text lines that are not fan-out messages: greetings and joins.
    lines: AtomicU64,
    delivered: AtomicU64,
    out_of_order: AtomicU64,
}

type ClientResult = io::Result<(Vec<u64>, OwnedReadHalf)>;

pub async fn measure(
    server: &Server,
    params: &Params,
    progress: &str,
) -> io::Result<(Sample, Connections)> {
    let n = params.clients;
    if n == 0 {
        return Err(io::Error::other("a room needs at least one client"));
    }
    let senders = params.senders();
    let shares: Vec<u64> = (0..senders as u64)
        .map(|j| params.messages / senders as u64 + u64::from(j < params.messages % senders as u64))
        .collect();
    let shared = Arc::new(Shared {
        base: Instant::now(),
        clients: u32::try_from(n).map_err(io::Error::other)?,
        acks: shares
            .iter()
            .map(|&count| (0..count).map(|_| AtomicU32::new(0)).collect())
            .collect(),
        wake: (0..senders).map(|_| Notify::new()).collect(),
        lines: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        out_of_order: AtomicU64::new(0),
    });

    // Fill the room, `parallel` handshakes at a time.
    let filling = Instant::now();
    let mut clients: JoinSet<ClientResult> = JoinSet::new();
    let mut writers = Vec::with_capacity(n);
    let mut reported = Instant::now();
    while writers.len() < n {
        let batch = params.parallel.max(1).min(n - writers.len());
        let mut connects = JoinSet::new();
        for _ in 0..batch {
            connects.spawn(connect_within(server.addr, "/chat", CONNECT_TIMEOUT));
        }
        while let Some(connected) = connects.join_next().await {
            let (stream, leftover) = connected.map_err(io::Error::other)??;
            let (read, write) = stream.into_split();
            let write = Arc::new(Mutex::new(write));
            clients.spawn(client(
                writers.len(),
                read,
                leftover,
                Arc::clone(&write),
                Arc::clone(&shared),
                params.messages,
            ));
            writers.push(write);
        }
        if let Some(failed) = clients.try_join_next() {
            return Err(early_exit(failed));
        }
        if reported.elapsed() >= Duration::from_secs(2) {
            eprintln!("{progress}: {} of {n} clients connected", writers.len());
            reported = Instant::now();
        }
    }
    let lines = n as u64 + n as u64 * (n as u64 - 1) / 2;
    wait_for_lines(&shared, &mut clients, lines, progress).await?;
    let fill_seconds = filling.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Measure: the senders start; the window closes when every client has every message.
    let cpu0 = cpu_seconds_fine(server.pid()).ok_or_else(gone)?;
    let own0 = cpu_seconds_fine(std::process::id()).unwrap_or(0.0);
    let started = Instant::now();
    let mut sending = JoinSet::new();
    for (j, &count) in shares.iter().enumerate() {
        sending.spawn(send(
            j,
            count,
            params.window,
            Arc::clone(&writers[j]),
            Arc::clone(&shared),
        ));
    }
    let expected = n as u64 * params.messages;
    let mut per_client: Vec<Vec<u64>> = Vec::with_capacity(n);
    let mut readers = Vec::with_capacity(n);
    let (mut last, mut last_change, mut reported) = (0, Instant::now(), Instant::now());
    loop {
        match tokio::time::timeout(Duration::from_millis(200), clients.join_next()).await {
            Ok(Some(done)) => {
                let (seen, read) = done.map_err(io::Error::other)??;
                per_client.push(seen);
                readers.push(read);
            }
            Ok(None) => break,
            Err(_) => {
                if let Some(Ok(Err(e))) = sending.try_join_next() {
                    return Err(e);
                }
                let delivered = shared.delivered.load(Ordering::Relaxed);
                if delivered != last {
                    (last, last_change) = (delivered, Instant::now());
                } else if last_change.elapsed() > STALL {
                    return Err(io::Error::other(format!(
                        "deliveries stalled: {delivered} of {expected} after {STALL:?} without \
                         progress (lost or stuck messages)"
                    )));
                }
                if reported.elapsed() >= Duration::from_secs(5) {
                    eprintln!("{progress}: {delivered} of {expected} deliveries");
                    reported = Instant::now();
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds_fine(server.pid()).ok_or_else(gone)?;
    let own1 = cpu_seconds_fine(std::process::id()).unwrap_or(0.0);
    while let Some(sent) = sending.join_next().await {
        sent.map_err(io::Error::other)??;
    }

    let mut latencies: Vec<u64> = per_client.concat();
    let count = latencies.len();
    let mut pick = |q: f64| {
        if count == 0 {
            return f64::NAN;
        }
        let i = ((count as f64 - 1.0) * q).round() as usize;
        *latencies.select_nth_unstable(i).1 as f64 / 1e3
    };
    let (p50_us, p99_us, max_us) = (pick(0.50), pick(0.99), pick(1.0));
    let server_cpu = cpu1 - cpu0;
    let sample = Sample {
        deliveries_per_second: count as f64 / elapsed,
        deliveries_per_cpu_second: if server_cpu > 0.0 {
            count as f64 / server_cpu
        } else {
            f64::NAN
        },
        p50_us,
        p99_us,
        max_us,
        server_cpu_seconds: server_cpu,
        generator_cpu_seconds: own1 - own0,
        fill_seconds,
        out_of_order: shared.out_of_order.load(Ordering::Relaxed),
    };
    Ok((
        sample,
        Connections {
            _readers: readers,
            _writers: writers,
        },
    ))
}

fn gone() -> io::Error {
    io::Error::other("the server exited during the run")
}

/// A client task that ended before the measurement: always a failure.
fn early_exit(done: Result<ClientResult, tokio::task::JoinError>) -> io::Error {
    match done {
        Ok(Err(e)) => e,
        Ok(Ok(_)) => io::Error::other("a client finished before any message was sent"),
        Err(e) => io::Error::other(e),
    }
}

/// Waits until the clients have received `target` greeting and join lines.
async fn wait_for_lines(
    shared: &Shared,
    clients: &mut JoinSet<ClientResult>,
    target: u64,
    progress: &str,
) -> io::Result<()> {
    let (mut last, mut last_change, mut reported) = (0, Instant::now(), Instant::now());
    loop {
        let lines = shared.lines.load(Ordering::Relaxed);
        if lines >= target {
            return Ok(());
        }
        if let Some(failed) = clients.try_join_next() {
            return Err(early_exit(failed));
        }
        if lines != last {
            (last, last_change) = (lines, Instant::now());
        } else if last_change.elapsed() > STALL {
            return Err(io::Error::other(format!(
                "greetings and joins stalled: {lines} of {target} lines after {STALL:?} without \
                 progress"
            )));
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            eprintln!("{progress}: {lines} of {target} greeting and join lines");
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sender `j`: `count` messages, each as soon as its message `window` places back has reached
/// every client.
async fn send(
    j: usize,
    count: u64,
    window: u64,
    write: Arc<Mutex<OwnedWriteHalf>>,
    shared: Arc<Shared>,
) -> io::Result<()> {
    let window = window.max(1);
    let mut frame = Vec::with_capacity(64);
    for k in 0..count {
        if k >= window {
            let gate = &shared.acks[j][(k - window) as usize];
            while gate.load(Ordering::Acquire) < shared.clients {
                tokio::time::timeout(STALL, shared.wake[j].notified())
                    .await
                    .map_err(|_| {
                        io::Error::other(format!(
                            "sender {j}: message {} did not reach every client within {STALL:?}",
                            k - window
                        ))
                    })?;
            }
        }
        let text = format!("fanout {j} {k} {}", shared.base.elapsed().as_nanos());
        frame.clear();
        push_masked_frame(&mut frame, OP_TEXT, text.as_bytes());
        write.lock().await.write_all(&frame).await?;
    }
    Ok(())
}

/// Reads everything a client receives until all `messages` fan-out lines have arrived; answers
/// pings; returns the latencies in nanoseconds and the read half (kept open by the caller).
async fn client(
    index: usize,
    mut read: OwnedReadHalf,
    leftover: Vec<u8>,
    write: Arc<Mutex<OwnedWriteHalf>>,
    shared: Arc<Shared>,
    messages: u64,
) -> ClientResult {
    let mut buf = BytesMut::with_capacity(8 << 10);
    buf.extend_from_slice(&leftover);
    let mut latencies = Vec::new();
    let mut next_seq = vec![0u64; shared.acks.len()];
    let mut now = shared.base.elapsed().as_nanos() as u64;
    loop {
        while let Some((opcode, len, header)) = frame_header(&buf) {
            if buf.len() < header + len {
                break;
            }
            let payload = &buf[header..header + len];
            match opcode {
                OP_TEXT => match parse_mark(payload) {
                    Some((j, k, sent)) => {
                        if latencies.is_empty() {
                            latencies.reserve_exact(messages as usize);
                        }
                        latencies.push(now.saturating_sub(sent));
                        if next_seq.get(j) != Some(&k) {
                            shared.out_of_order.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(next) = next_seq.get_mut(j) {
                            *next = k + 1;
                        }
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                        let ack = shared.acks.get(j).and_then(|acks| acks.get(k as usize));
                        if let Some(ack) = ack {
                            if ack.fetch_add(1, Ordering::AcqRel) + 1 == shared.clients {
                                shared.wake[j].notify_one();
                            }
                        }
                    }
                    None => {
                        shared.lines.fetch_add(1, Ordering::Relaxed);
                    }
                },
                OP_PING => {
                    let mut pong = Vec::with_capacity(len + 6);
                    push_masked_frame(&mut pong, OP_PONG, payload);
                    buf.advance(header + len);
                    write.lock().await.write_all(&pong).await?;
                    continue;
                }
                OP_CLOSE => {
                    return Err(io::Error::other(format!(
                        "the server closed client {index}: {}",
                        describe_close(payload)
                    )))
                }
                _ => {}
            }
            buf.advance(header + len);
            if latencies.len() as u64 == messages {
                return Ok((latencies, read));
            }
        }
        if buf.capacity() - buf.len() < 2 << 10 {
            buf.reserve(8 << 10);
        }
        if read.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other(format!(
                "the server closed client {index}'s connection"
            )));
        }
        now = shared.base.elapsed().as_nanos() as u64;
    }
}

/// Sender, sequence number and send time of `[name]: fanout J SEQ SENT_NS`.
fn parse_mark(payload: &[u8]) -> Option<(usize, u64, u64)> {
    let at = payload.windows(MARKER.len()).position(|w| w == MARKER)?;
    let text = std::str::from_utf8(&payload[at + MARKER.len()..]).ok()?;
    let mut fields = text.split(' ');
    let j = fields.next()?.parse().ok()?;
    let k = fields.next()?.parse().ok()?;
    let sent = fields.next()?.parse().ok()?;
    Some((j, k, sent))
}

#[cfg(test)]
mod tests {
    use super::parse_mark;

    #[test]
    fn marks_parse_and_other_lines_do_not() {
        assert_eq!(
            parse_mark(b"[user3]: fanout 2 17 123456"),
            Some((2, 17, 123_456))
        );
        assert_eq!(parse_mark(b"user3 joined"), None);
        assert_eq!(
            parse_mark(b"You are connected! There are 4 users here."),
            None
        );
    }
}
