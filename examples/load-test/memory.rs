//! Idle memory: open many connections, let them go idle, and divide the server's VmRSS growth by
//! the number of connections.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proc_stat::vm_rss_kib;
use crate::server::Server;
use crate::wire::{connect, push_masked_frame, server_frame_len, OP_BINARY};

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

/// Opens `connections` connections (`parallel` handshakes at a time); with `echo_first`, each
/// exchanges one 20-byte message before going idle. Measures after `settle`.
pub async fn measure(
    server: &Server,
    connections: usize,
    parallel: usize,
    echo_first: bool,
    settle: Duration,
) -> io::Result<MemorySample> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_kib = vm_rss_kib(server.pid()).ok_or_else(|| io::Error::other("no VmRSS"))?;
    let mut open = Vec::with_capacity(connections);
    while open.len() < connections {
        let batch = parallel.min(connections - open.len());
        let handles: Vec<_> = (0..batch)
            .map(|_| {
                let addr = server.addr;
                tokio::spawn(async move {
                    let (mut stream, _) = connect(addr, "/").await?;
                    if echo_first {
                        echo_once(&mut stream).await?;
                    }
                    Ok::<_, io::Error>(stream)
                })
            })
            .collect();
        for handle in handles {
            open.push(handle.await.map_err(io::Error::other)??);
        }
    }
    tokio::time::sleep(settle).await;
    let after_kib = vm_rss_kib(server.pid()).ok_or_else(|| io::Error::other("no VmRSS"))?;
    Ok(MemorySample {
        before_kib,
        after_kib,
        connections: open.len(),
    })
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
