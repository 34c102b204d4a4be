//! The async layer's write coalescing: an echo loop that queues replies with `feed` answers a
//! pipelined burst with one write, not one write per message.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use wschat::frame::{encode_frame, FrameDecoder, OpCode};
use wschat::{Config, Message, Role, WebSocket};

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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn pipelined_echoes_leave_in_one_write() {
    const BURST: usize = 16;
    let (server_side, mut client) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let stream = CountingStream {
        inner: server_side,
        writes: Arc::clone(&writes),
    };
    let mut ws = WebSocket::from_raw(stream, Role::Server, Config::default(), &[]);

    let mut burst = BytesMut::new();
    for i in 0..BURST {
        let text = format!("message {i}");
        encode_frame(
            &mut burst,
            OpCode::Text,
            true,
            text.as_bytes(),
            Some([1, 2, 3, 4]),
        );
    }
    client.write_all(&burst).await.unwrap();

    let echo = async {
        for _ in 0..BURST {
            let message = ws.recv().await.unwrap().unwrap();
            assert!(matches!(message, Message::Text(_)));
            ws.feed(message).await.unwrap();
        }
        // The next recv has no input left: it flushes the queued echoes, then waits.
        ws.recv().await
    };
    let read_echoes = async {
        let mut decoder = FrameDecoder::new(Role::Client, 1 << 20);
        let mut buf = BytesMut::new();
        let mut echoes = 0;
        while echoes < BURST {
            client.read_buf(&mut buf).await.unwrap();
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                assert_eq!(frame.payload, format!("message {echoes}").as_bytes());
                echoes += 1;
            }
        }
    };
    tokio::select! {
        _ = echo => panic!("the server stopped receiving"),
        () = read_echoes => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => panic!("echoes did not arrive"),
    }
    assert_eq!(
        writes.load(Ordering::SeqCst),
        1,
        "one write for the whole burst"
    );
}
