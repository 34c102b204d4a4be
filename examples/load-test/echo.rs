//! Echo throughput, uWebSockets `load_test` style: C connections each keep N messages of B bytes
//! in flight and send a new one for every echo received; echoes are counted over a window after
//! a warm-up, next to the CPU time the server (and the generator) used in that window.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proc_stat::{cpu_times, own_cpu_seconds};
use crate::server::Server;
use crate::wire::{connect, frame_header, push_masked_frame, server_frame_len, OP_BINARY};

/// One load shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    pub connections: usize,
    pub size: usize,
    pub in_flight: usize,
}

impl Case {
    /// `CxBxN`, e.g. `100x20x1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<usize> = text
            .split('x')
            .map(|p| {
                p.parse()
                    .map_err(|_| format!("bad case {text:?}: want CxBxN"))
            })
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [connections, size, in_flight] if connections > 0 && in_flight > 0 => Ok(Self {
                connections,
                size,
                in_flight,
            }),
            _ => Err(format!("bad case {text:?}: want CxBxN")),
        }
    }

    pub fn label(&self) -> String {
        let size = match self.size {
            s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
            s => format!("{s} B"),
        };
        format!(
            "{} conns x {size}, {} in flight",
            self.connections, self.in_flight
        )
    }
}

/// The cases: 100 x 0 B, 100 x 20 B, 10 x 1 KiB, 10 x 16 KiB, at 1 and 16 in flight.
pub const DEFAULT_CASES: &str =
    "100x0x1,100x20x1,10x1024x1,10x16384x1,100x0x16,100x20x16,10x1024x16,10x16384x16";

/// What one measurement window saw.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub messages_per_second: f64,
    /// Echoes per second of server CPU time (utime + stime).
    pub messages_per_cpu_second: f64,
    /// Server CPU use over the window, in cores.
    pub server_cpu: f64,
    /// The part of the server's CPU time spent in user space (the rest is the kernel's).
    pub server_user_share: f64,
    /// The generator's own CPU use over the window, in cores.
    pub generator_cpu: f64,
}

pub async fn measure(
    server: &Server,
    case: Case,
    warmup: Duration,
    window: Duration,
) -> io::Result<Sample> {
    let mut client_frame = Vec::new();
    push_masked_frame(&mut client_frame, OP_BINARY, &vec![b'x'; case.size]);
    let burst: Arc<[u8]> = client_frame.repeat(case.in_flight).into();
    let echoes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::with_capacity(case.connections);
    for _ in 0..case.connections {
        let (stream, leftover) = connect(server.addr, "/").await?;
        tasks.push(tokio::spawn(run_connection(
            stream,
            leftover,
            case,
            client_frame.len(),
            Arc::clone(&burst),
            Arc::clone(&echoes),
            Arc::clone(&stop),
        )));
    }

    tokio::time::sleep(warmup).await;
    let (count0, server0, own0, t0) = (
        echoes.load(Ordering::Relaxed),
        cpu_times(server.pid()),
        own_cpu_seconds(),
        Instant::now(),
    );
    tokio::time::sleep(window).await;
    let (count1, server1, own1, t1) = (
        echoes.load(Ordering::Relaxed),
        cpu_times(server.pid()),
        own_cpu_seconds(),
        Instant::now(),
    );
    stop.store(true, Ordering::Relaxed);
    for task in &tasks {
        task.abort();
    }
    let mut failure = None;
    for task in tasks {
        if let Ok(Err(e)) = task.await {
            failure.get_or_insert(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }

    let (Some(server0), Some(server1)) = (server0, server1) else {
        return Err(io::Error::other("the server exited during the measurement"));
    };
    let elapsed = (t1 - t0).as_secs_f64();
    let messages = (count1 - count0) as f64;
    let user = server1.0 - server0.0;
    let server_cpu = user + (server1.1 - server0.1);
    Ok(Sample {
        messages_per_second: messages / elapsed,
        messages_per_cpu_second: if server_cpu > 0.0 {
            messages / server_cpu
        } else {
            f64::NAN
        },
        server_cpu: server_cpu / elapsed,
        server_user_share: user / server_cpu,
        generator_cpu: (own1 - own0) / elapsed,
    })
}

/// Keeps `in_flight` messages outstanding: for every k echoes read, k more leave in one write.
async fn run_connection(
    mut stream: TcpStream,
    leftover: Vec<u8>,
    case: Case,
    client_frame_len: usize,
    burst: Arc<[u8]>,
    echoes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let echo_len = server_frame_len(case.size);
    let mut buf = BytesMut::with_capacity((64 << 10).max(2 * case.in_flight * echo_len));
    buf.extend_from_slice(&leftover);
    stream.write_all(&burst).await?;
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("the server closed the connection"));
        }
        let mut received = 0;
        while buf.len() >= echo_len {
            match frame_header(&buf) {
                Some((OP_BINARY, len, _)) if len == case.size => {}
                other => {
                    return Err(io::Error::other(format!(
                        "unexpected frame from the server: {other:?}"
                    )))
                }
            }
            buf.advance(echo_len);
            received += 1;
        }
        if received == 0 {
            continue;
        }
        echoes.fetch_add(received as u64, Ordering::Relaxed);
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut left = received;
        while left > 0 {
            let n = left.min(case.in_flight);
            stream.write_all(&burst[..n * client_frame_len]).await?;
            left -= n;
        }
        if buf.capacity() - buf.len() < echo_len {
            buf.reserve(64 << 10);
        }
    }
}
