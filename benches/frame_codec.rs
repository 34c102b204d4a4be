//! Frame codec benchmarks, ours side by side with the peers in the same criterion groups.
//!
//! `cargo bench --bench frame_codec` (all groups), or a filter such as
//! `cargo bench --bench frame_codec -- decode_stream/masked/20B`.
//!
//! Groups (payloads 0 B, 20 B, 125 B, 1 KiB, 16 KiB, 1 MiB; binary frames, so no UTF-8 check):
//! - `decode_frame/{masked,unmasked}/SIZE`: steady state, one frame per iteration: a long-lived
//!   decoder reads an endless in-memory stream of identical frames (the per-frame cost).
//! - `decode_stream/{masked,unmasked}/SIZE`: a new connection decodes a stream of N frames per
//!   iteration (N = 100 up to 1 KiB payloads, 16 at 16 KiB, 2 at 1 MiB), so buffer growth and
//!   first-touch costs count; creating the decoder is setup, not timed. Throughput in frames.
//! - `encode_frame/{masked,unmasked}/SIZE`: one frame per iteration.
//! - `unmask/SIZE`: masking throughput next to a plain `memcpy` of the same buffer.
//! - `utf8/{ascii,mixed}/SIZE`: our incremental validator next to `std::str::from_utf8`.
//!
//! Contenders, where a public API allows the operation:
//! - `wschat`: the frame codec (`FrameDecoder`, `encode_frame`), reading the stream in up to
//!   64 KiB reads like a socket would.
//! - `wschat-connection`: the full sans-IO path the echo server runs (`Connection`: reads into
//!   `read_buffer`, `poll_message` to a `Message`; `send` then `poll_transmit` into a sink).
//! - `tungstenite`: its public frame codec `FrameSocket` over a `Read`/`Write` in memory. Note:
//!   `FrameSocket::read` leaves masked payloads masked (unmasking is private to its message layer),
//!   so its masked decode numbers exclude unmasking, in its favour.
//! - `tungstenite-websocket`: its sync `WebSocket` (the code under tokio-tungstenite), to
//!   messages, unmasking included.
//! - `fastwebsockets`: `WebSocket::read_frame` / `write_frame` over an in-memory `AsyncRead`,
//!   polled once with a no-op waker (the stream is always ready, so no runtime is involved).
//! - `tokio-websockets`: `WebSocketStream` as `Stream` / `Sink` over the same in-memory stream.

use std::future::Future;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use futures_util::task::noop_waker_ref;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wschat::frame::{apply_mask, encode_frame, FrameDecoder, OpCode, Role};
use wschat::protocol::{Connection, Utf8Validator};
use wschat::{Config, Message};

use tokio_tungstenite::tungstenite;

const SIZES: [usize; 6] = [0, 20, 125, 1 << 10, 16 << 10, 1 << 20];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const READ_SIZE: usize = 64 << 10;
const LIMIT: usize = 64 << 20;

fn size_name(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{}MiB", s >> 20),
        s if s >= 1 << 10 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

fn frames_per_stream(size: usize) -> usize {
    match size {
        s if s <= 1 << 10 => 100,
        s if s <= 16 << 10 => 16,
        _ => 2,
    }
}

fn payload(size: usize) -> Bytes {
    (0..size).map(|i| (i * 31 + 7) as u8).collect()
}

/// `count` binary frames of `size` bytes, masked with `KEY` when `masked`.
fn wire(size: usize, count: usize, masked: bool) -> Bytes {
    let data = payload(size);
    let mut out = BytesMut::new();
    for _ in 0..count {
        encode_frame(&mut out, OpCode::Binary, true, &data, masked.then_some(KEY));
    }
    out.freeze()
}

/// Polls a future that cannot be pending (every stream here is always ready).
fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(noop_waker_ref());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-memory stream never blocks"),
    }
}

/// An in-memory socket: reads come from `input` (as much as the reader asks for), repeated
/// endlessly when `cyclic`; writes are counted and discarded, like a socket whose kernel copy
/// is the same for every contender.
#[derive(Default)]
struct MemStream {
    input: Bytes,
    pos: usize,
    cyclic: bool,
    written: usize,
}

impl MemStream {
    fn reading(input: Bytes, cyclic: bool) -> Self {
        Self {
            input,
            cyclic,
            ..Self::default()
        }
    }

    /// The next at most `max` bytes of the stream.
    fn next_chunk(&mut self, max: usize) -> &[u8] {
        if self.cyclic && self.pos == self.input.len() {
            self.pos = 0;
        }
        let start = self.pos;
        let n = max.min(self.input.len() - start);
        self.pos += n;
        &self.input[start..start + n]
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        while filled < buf.len() {
            let chunk = self.next_chunk(buf.len() - filled);
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            buf[filled..filled + n].copy_from_slice(chunk);
            filled += n;
        }
        filled
    }
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += black_box(buf).len();
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|buf| black_box(buf).len()).sum();
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while buf.remaining() > 0 {
            let chunk = this.next_chunk(buf.remaining());
            if chunk.is_empty() {
                break;
            }
            buf.put_slice(chunk);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(self.get_mut(), buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write_vectored(self.get_mut(), bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ----- decoders ---------------------------------------------------------------------------

/// Our receiving role for a stream that is masked (client to server) or not.
fn our_role(masked: bool) -> Role {
    if masked {
        Role::Server
    } else {
        Role::Client
    }
}

/// One of the contenders, ready to decode `count` frames from its own in-memory stream.
enum Decoder {
    Wschat(FrameDecoder, BytesMut, MemStream),
    Connection(Box<Connection>, MemStream),
    Tungstenite(tungstenite::protocol::frame::FrameSocket<MemStream>),
    TungsteniteWebSocket(Box<tungstenite::WebSocket<MemStream>>),
    Fastwebsockets(Box<fastwebsockets::WebSocket<MemStream>>),
    TokioWebsockets(Box<tokio_websockets::WebSocketStream<MemStream>>),
}

const DECODERS: [&str; 6] = [
    "wschat",
    "wschat-connection",
    "tungstenite",
    "tungstenite-websocket",
    "fastwebsockets",
    "tokio-websockets",
];

impl Decoder {
    fn new(name: &str, input: &Bytes, masked: bool, cyclic: bool) -> Self {
        let stream = MemStream::reading(input.clone(), cyclic);
        match name {
            "wschat" => Self::Wschat(
                FrameDecoder::new(our_role(masked), LIMIT),
                BytesMut::with_capacity(READ_SIZE),
                stream,
            ),
            "wschat-connection" => {
                let config = Config::default()
                    .with_max_frame_size(LIMIT)
                    .with_max_message_size(LIMIT);
                Self::Connection(
                    Box::new(Connection::new(our_role(masked), config, Instant::now())),
                    stream,
                )
            }
            "tungstenite" => {
                Self::Tungstenite(tungstenite::protocol::frame::FrameSocket::new(stream))
            }
            "tungstenite-websocket" => {
                let role = if masked {
                    tungstenite::protocol::Role::Server
                } else {
                    tungstenite::protocol::Role::Client
                };
                Self::TungsteniteWebSocket(Box::new(tungstenite::WebSocket::from_raw_socket(
                    stream, role, None,
                )))
            }
            "fastwebsockets" => {
                let role = if masked {
                    fastwebsockets::Role::Server
                } else {
                    fastwebsockets::Role::Client
                };
                Self::Fastwebsockets(Box::new(fastwebsockets::WebSocket::after_handshake(
                    stream, role,
                )))
            }
            "tokio-websockets" => Self::TokioWebsockets(Box::new(if masked {
                tokio_websockets::ServerBuilder::new().serve(stream)
            } else {
                tokio_websockets::ClientBuilder::new().take_over(stream)
            })),
            other => unreachable!("unknown decoder {other}"),
        }
    }

    /// Decodes `count` frames; returns the total payload length (checked by the caller).
    fn decode(&mut self, count: usize) -> usize {
        let mut total = 0;
        match self {
            Self::Wschat(decoder, buf, stream) => {
                for _ in 0..count {
                    loop {
                        match decoder.decode(buf) {
                            Ok(Some(frame)) => {
                                total += black_box(frame).payload.len();
                                break;
                            }
                            Ok(None) => read_some(buf, stream),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            }
            Self::Connection(conn, stream) => {
                for _ in 0..count {
                    loop {
                        match conn.poll_message() {
                            Ok(Some(message)) => {
                                total += black_box(message).into_payload().len();
                                break;
                            }
                            Ok(None) => read_some(conn.read_buffer(), stream),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            }
            Self::Tungstenite(socket) => {
                for _ in 0..count {
                    let frame = socket.read(Some(LIMIT)).unwrap().unwrap();
                    total += black_box(frame).payload().len();
                }
            }
            Self::TungsteniteWebSocket(ws) => {
                for _ in 0..count {
                    total += black_box(ws.read().unwrap()).len();
                }
            }
            Self::Fastwebsockets(ws) => {
                for _ in 0..count {
                    let frame = ready(ws.read_frame()).unwrap();
                    total += black_box(frame).payload.len();
                }
            }
            Self::TokioWebsockets(ws) => {
                let mut cx = Context::from_waker(noop_waker_ref());
                for _ in 0..count {
                    let Poll::Ready(Some(Ok(message))) = Pin::new(&mut **ws).poll_next(&mut cx)
                    else {
                        panic!("tokio-websockets did not decode the frame");
                    };
                    total += black_box(message).as_payload().len();
                }
            }
        }
        total
    }
}

/// One read from the in-memory socket into the spare capacity of `buf` (at least a few KiB are
/// made available, as a socket read into a reserved buffer would; like `read(2)` into
/// uninitialised capacity, nothing is zeroed first).
fn read_some(buf: &mut BytesMut, stream: &mut MemStream) {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_SIZE);
    }
    let spare = (buf.capacity() - buf.len()).min(READ_SIZE);
    let mut read = 0;
    while read < spare {
        let chunk = stream.next_chunk(spare - read);
        if chunk.is_empty() {
            break;
        }
        read += chunk.len();
        buf.extend_from_slice(chunk);
    }
    assert!(read > 0, "stream ended before the frames did");
}

fn bench_decode(c: &mut Criterion, group_name: &str, steady_state: bool) {
    let mut group = c.benchmark_group(group_name);
    for masked in [true, false] {
        for size in SIZES {
            let count = if steady_state {
                1
            } else {
                frames_per_stream(size)
            };
            // The endless stream repeats at least 64 KiB of frames, so that a read is one copy.
            let repeats = if steady_state {
                (READ_SIZE / (size + 14)).max(1)
            } else {
                count
            };
            let input = wire(size, repeats, masked);
            let id = format!(
                "{}/{}",
                if masked { "masked" } else { "unmasked" },
                size_name(size)
            );
            group.throughput(Throughput::Elements(count as u64));
            let batch = if size >= 16 << 10 {
                BatchSize::LargeInput
            } else {
                BatchSize::SmallInput
            };
            for name in DECODERS {
                let total = Decoder::new(name, &input, masked, steady_state).decode(count);
                assert_eq!(total, size * count, "{name} decoded the wrong payload");
                group.bench_function(BenchmarkId::new(name, &id), |b| {
                    if steady_state {
                        let mut decoder = Decoder::new(name, &input, masked, true);
                        b.iter(|| decoder.decode(1));
                    } else {
                        b.iter_batched(
                            || Decoder::new(name, &input, masked, false),
                            |mut decoder| {
                                decoder.decode(count);
                                decoder
                            },
                            batch,
                        );
                    }
                });
            }
        }
    }
    group.finish();
}

fn decode_frame(c: &mut Criterion) {
    bench_decode(c, "decode_frame", true);
}

fn decode_stream(c: &mut Criterion) {
    bench_decode(c, "decode_stream", false);
}

// ----- encoders ---------------------------------------------------------------------------

fn encode_frame_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_frame");
    for masked in [true, false] {
        for size in SIZES {
            let data = payload(size);
            let id = format!(
                "{}/{}",
                if masked { "masked" } else { "unmasked" },
                size_name(size)
            );
            let mask = masked.then_some(KEY);
            group.throughput(Throughput::Elements(1));

            let mut out = BytesMut::with_capacity(size + 14);
            group.bench_function(BenchmarkId::new("wschat", &id), |b| {
                b.iter(|| {
                    out.clear();
                    encode_frame(&mut out, OpCode::Binary, true, black_box(&data), mask);
                    black_box(&out);
                });
            });

            // Sending role: a client masks.
            let role = if masked { Role::Client } else { Role::Server };
            let mut conn = Connection::new(role, Config::default(), Instant::now());
            let mut sink = MemStream::default();
            group.bench_function(BenchmarkId::new("wschat-connection", &id), |b| {
                b.iter(|| {
                    conn.send(Message::Binary(black_box(&data).clone()))
                        .unwrap();
                    while let Some(bytes) = conn.poll_transmit() {
                        Write::write(&mut sink, &bytes).unwrap();
                    }
                });
            });

            let mut socket = tungstenite::protocol::frame::FrameSocket::new(MemStream::default());
            group.bench_function(BenchmarkId::new("tungstenite", &id), |b| {
                b.iter(|| {
                    let mut frame = tungstenite::protocol::frame::Frame::message(
                        black_box(&data).clone(),
                        tungstenite::protocol::frame::coding::OpCode::Data(
                            tungstenite::protocol::frame::coding::Data::Binary,
                        ),
                        true,
                    );
                    frame.header_mut().mask = mask;
                    socket.write(frame).unwrap();
                    socket.flush().unwrap();
                });
            });

            let role = if masked {
                fastwebsockets::Role::Client
            } else {
                fastwebsockets::Role::Server
            };
            let mut ws = fastwebsockets::WebSocket::after_handshake(MemStream::default(), role);
            group.bench_function(BenchmarkId::new("fastwebsockets", &id), |b| {
                b.iter(|| {
                    let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(
                        black_box(&data),
                    ));
                    ready(ws.write_frame(frame)).unwrap();
                });
            });

            let mut ws = if masked {
                tokio_websockets::ClientBuilder::new().take_over(MemStream::default())
            } else {
                tokio_websockets::ServerBuilder::new().serve(MemStream::default())
            };
            group.bench_function(BenchmarkId::new("tokio-websockets", &id), |b| {
                let mut cx = Context::from_waker(noop_waker_ref());
                b.iter(|| {
                    let mut ws = Pin::new(&mut ws);
                    assert!(ws.as_mut().poll_ready(&mut cx).is_ready());
                    ws.as_mut()
                        .start_send(tokio_websockets::Message::binary(black_box(&data).clone()))
                        .unwrap();
                    assert!(ws.as_mut().poll_flush(&mut cx).is_ready());
                });
            });
        }
    }
    group.finish();
}

// ----- masking and UTF-8 --------------------------------------------------------------------

const BULK_SIZES: [usize; 5] = [20, 125, 1 << 10, 16 << 10, 1 << 20];

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for size in BULK_SIZES {
        let id = size_name(size);
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = payload(size).to_vec();
        group.bench_function(BenchmarkId::new("wschat", &id), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), 0));
        });
        group.bench_function(BenchmarkId::new("fastwebsockets", &id), |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf), black_box(KEY)));
        });
        let src = payload(size).to_vec();
        group.bench_function(BenchmarkId::new("memcpy", &id), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)));
        });
    }
    group.finish();
}

fn text(size: usize, mixed: bool) -> Vec<u8> {
    let sample = if mixed {
        // About one non-ASCII character in eight, of every width.
        "The quick brown fox jumps over the lazy dog. Grüße, κόσμε, 你好, 🦀! "
    } else {
        "The quick brown fox jumps over the lazy dog. 0123456789 {\"key\": [1, 2]} "
    };
    let mut out: Vec<u8> = Vec::with_capacity(size + 8);
    for c in sample.chars().cycle() {
        if out.len() + c.len_utf8() > size {
            break;
        }
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    while out.len() < size {
        out.push(b' ');
    }
    out
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for mixed in [false, true] {
        for size in BULK_SIZES {
            let input = text(size, mixed);
            assert!(std::str::from_utf8(&input).is_ok());
            let id = format!(
                "{}/{}",
                if mixed { "mixed" } else { "ascii" },
                size_name(size)
            );
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("wschat", &id), |b| {
                b.iter(|| {
                    let mut validator = Utf8Validator::new();
                    validator.feed(black_box(&input)).unwrap();
                    validator.finish().unwrap();
                });
            });
            if size > 1460 {
                // As a message arrives over TCP: one feed per 1460-byte segment.
                group.bench_function(BenchmarkId::new("wschat-1460B-pieces", &id), |b| {
                    b.iter(|| {
                        let mut validator = Utf8Validator::new();
                        for piece in black_box(&input).chunks(1460) {
                            validator.feed(piece).unwrap();
                        }
                        validator.finish().unwrap();
                    });
                });
            }
            group.bench_function(BenchmarkId::new("std", &id), |b| {
                b.iter(|| std::str::from_utf8(black_box(&input)).is_ok());
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = decode_frame, decode_stream, encode_frame_group, unmask, utf8
}
criterion_main!(benches);
