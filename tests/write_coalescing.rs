//! The async layer's write coalescing: an echo loop that queues replies with `feed` answers a
//! pipelined burst with one write, not one write per message, for small frames (copied into one
//! buffer) and large ones (header and payload segments gathered into one vectored write).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use wschat::frame::{encode_frame, FrameDecoder, OpCode};
use wschat::{Config, Role, WebSocket};

/// A stream that counts the write calls that reach it.
struct CountingStream {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        // Like writev on a socket with room: everything at once (the duplex pipe is large).
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        Pin::new(&mut self.inner).poll_write(cx, &all)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends `burst` masked frames with payloads from `payload(i)`, echoes them through a server
/// `WebSocket` that counts its writes, checks the echoes, and returns the number of writes.
async fn echo_burst(config: Config, burst: usize, payload: impl Fn(usize) -> Vec<u8>) -> usize {
    let (server_side, mut client) = tokio::io::duplex(64 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let stream = CountingStream {
        inner: server_side,
        writes: Arc::clone(&writes),
    };
    let mut ws = WebSocket::from_raw(stream, Role::Server, config, &[]);

    let mut frames = BytesMut::new();
    for i in 0..burst {
        encode_frame(
            &mut frames,
            OpCode::Binary,
            true,
            &payload(i),
            Some([1, 2, 3, 4]),
        );
    }
    client.write_all(&frames).await.unwrap();

    let echo = async {
        for _ in 0..burst {
            let message = ws.recv().await.unwrap().unwrap();
            assert!(message.is_data());
            ws.feed(message).await.unwrap();
        }
        // The next recv has no input left: it flushes the queued echoes, then waits.
        ws.recv().await
    };
    let read_echoes = async {
        let mut decoder = FrameDecoder::new(Role::Client, 64 << 20);
        let mut buf = BytesMut::new();
        let mut echoes = 0;
        while echoes < burst {
            client.read_buf(&mut buf).await.unwrap();
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                assert_eq!(frame.payload, payload(echoes));
                echoes += 1;
            }
        }
    };
    tokio::select! {
        _ = echo => panic!("the server stopped receiving"),
        () = read_echoes => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => panic!("echoes did not arrive"),
    }
    writes.load(Ordering::SeqCst)
}

#[tokio::test]
async fn pipelined_small_echoes_leave_in_one_write() {
    let writes = echo_burst(Config::default(), 16, |i| {
        format!("message {i}").into_bytes()
    })
    .await;
    assert_eq!(writes, 1, "one write for the whole burst");
}

#[tokio::test]
async fn pipelined_large_echoes_leave_in_one_vectored_write() {
    // 16 KiB payloads are queued by reference, as header and payload segments. The write buffer
    // limit (default 128 KiB) would force a write half-way through 256 KiB of echoes.
    let config = Config::default().with_write_buffer_limit(1 << 20);
    let writes = echo_burst(config, 16, |i| vec![i as u8; 16 << 10]).await;
    assert_eq!(writes, 1, "one vectored write for the whole burst");
}
