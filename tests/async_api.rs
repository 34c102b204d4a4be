//! The async layer's promises over real TCP: `recv` is cancel-safe, the split halves work from two
//! tasks without starving control replies, the `Stream`/`Sink` implementations compose with
//! futures-util, keepalive runs on tokio's (paused) clock, and an idle connection releases its
//! buffers.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use wschat::{CloseCode, Config, Error, Message, WebSocket};

/// Accepts one connection with `config`; returns the server's socket and our client's URL.
async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/api", listener.local_addr().unwrap());
    (listener, url)
}

async fn accept_one(listener: &TcpListener, config: Config) -> WebSocket<TcpStream> {
    let (stream, _) = within(listener.accept()).await.unwrap();
    within(wschat::accept(stream, config)).await.unwrap()
}

#[tokio::test]
async fn recv_in_select_against_a_fast_interval_loses_nothing() {
    let server = spawn_cancel_heavy_receiver().await;
    let mut peer = RawPeer::connect(server.addr).await;
    // Five messages of 64 KiB in 1000-byte fragments, with pings between fragments, trickled in
    // 3000-byte writes with a pause after each, so recv is cancelled mid-frame over and over.
    let messages: Vec<Vec<u8>> = (0..5u8)
        .map(|i| {
            (0..64 << 10)
                .map(|j: usize| b'a' + ((j + usize::from(i)) % 26) as u8)
                .collect()
        })
        .collect();
    let mut bytes = Vec::new();
    for message in &messages {
        for (k, chunk) in message.chunks(1000).enumerate() {
            let opcode = if k == 0 { 1 } else { 0 };
            let fin = if (k + 1) * 1000 >= message.len() {
                0x80
            } else {
                0
            };
            bytes.extend(peer.frame(fin | opcode, chunk));
            if k % 16 == 0 {
                bytes.extend(peer.frame(PING, b"between"));
            }
        }
    }
    for piece in bytes.chunks(3000) {
        peer.send_raw(piece).await;
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    peer.send(CLOSE, &close_payload(1000, b"")).await;
    let mut pongs = 0;
    loop {
        let frame = peer.read_frame().await;
        match frame.opcode {
            0xA => pongs += 1,
            0x8 => break,
            other => panic!("unexpected opcode {other}"),
        }
    }
    assert_eq!(
        pongs,
        5 * 66usize.div_ceil(16),
        "every ping between fragments answered"
    );
    peer.expect_eof().await;
    drop(peer);
    let (received, ticks) = within(server.done).await.unwrap();
    assert_eq!(received.len(), messages.len());
    for (got, sent) in received.iter().zip(&messages) {
        assert!(got == sent, "a message was corrupted by a cancelled recv");
    }
    assert!(ticks > 20, "recv was cancelled only {ticks} times");
}

struct CancelHeavyReceiver {
    addr: std::net::SocketAddr,
    done: tokio::task::JoinHandle<(Vec<Vec<u8>>, usize)>,
}

/// A server whose only receive loop is `recv` raced against a 1 ms interval in `select!`.
async fn spawn_cancel_heavy_receiver() -> CancelHeavyReceiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let done = tokio::spawn(async move {
        let mut ws = accept_one(&listener, Config::default()).await;
        let mut interval = tokio::time::interval(Duration::from_millis(1));
        let (mut received, mut ticks) = (Vec::new(), 0);
        loop {
            tokio::select! {
                message = ws.recv() => match message {
                    Some(Ok(Message::Text(text))) => received.push(text.as_bytes().to_vec()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => panic!("{e}"),
                    None => break,
                },
                _ = interval.tick() => ticks += 1,
            }
        }
        (received, ticks)
    });
    CancelHeavyReceiver { addr, done }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_from_two_tasks_answer_pings_during_a_write_flood() {
    const FLOOD: usize = 2000;
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let ws = accept_one(&listener, Config::default()).await;
        let (mut reader, mut writer) = ws.split();
        let flood = tokio::spawn(async move {
            for i in 0..FLOOD {
                let payload = vec![(i % 256) as u8; 16 << 10];
                writer.send(Message::binary(payload)).await.unwrap();
            }
            writer
        });
        let mut pings = 0;
        let close = loop {
            match within(reader.recv()).await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(Message::Close(frame))) => break frame,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(
            within(reader.recv()).await.is_none(),
            "reader ends after close"
        );
        let _ = within(flood).await.unwrap();
        (pings, close)
    });
    let mut ws = within(wschat::connect(&url)).await.unwrap();
    let (mut data, mut pongs, mut pong_positions) = (0, 0, Vec::new());
    while data < FLOOD {
        match within(ws.recv()).await.unwrap().unwrap() {
            Message::Binary(payload) => {
                assert_eq!(payload.len(), 16 << 10);
                assert_eq!(payload[0], (data % 256) as u8, "in order");
                data += 1;
                if data % 20 == 1 && data < 200 {
                    ws.ping(format!("{data}")).await.unwrap();
                }
            }
            Message::Pong(_) => {
                pongs += 1;
                pong_positions.push(data);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    ws.close(CloseCode::new(4000).unwrap(), "enough")
        .await
        .unwrap();
    let (pings, close) = within(server).await.unwrap();
    assert_eq!(pings, 10);
    assert_eq!(pongs, 10, "every ping answered while the writer flooded");
    assert!(
        pong_positions.iter().all(|&at| at < FLOOD),
        "pongs waited for the flood: {pong_positions:?}"
    );
    assert_eq!(close.map(|f| f.code.as_u16()), Some(4000));
}

#[tokio::test]
async fn stream_and_sink_compose_with_futures_util() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let ws = accept_one(&listener, Config::default()).await;
        let (sink, stream) = StreamExt::split(ws);
        // An echo server written the tokio-tungstenite way.
        stream
            .filter(|message| std::future::ready(!matches!(message, Ok(m) if !m.is_data())))
            .forward(sink)
            .await
    });
    let mut ws = within(wschat::connect(&url)).await.unwrap();
    for i in 0..10 {
        within(SinkExt::send(
            &mut ws,
            Message::text(format!("message {i}")),
        ))
        .await
        .unwrap();
    }
    within(ws.feed(Message::binary(vec![1, 2, 3])))
        .await
        .unwrap();
    within(SinkExt::flush(&mut ws)).await.unwrap();
    for i in 0..10 {
        let echo = within(StreamExt::next(&mut ws)).await.unwrap().unwrap();
        assert_eq!(echo, Message::text(format!("message {i}")));
    }
    let echo = within(StreamExt::next(&mut ws)).await.unwrap().unwrap();
    assert_eq!(echo, Message::binary(vec![1, 2, 3]));
    within(SinkExt::close(&mut ws)).await.unwrap();
    assert!(within(StreamExt::next(&mut ws)).await.is_none());
    within(server).await.unwrap().unwrap();
}

/// Keepalive with tokio's clock paused: time jumps ahead whenever both ends are idle, so minutes
/// of keepalive run in milliseconds while the bytes still cross real TCP.
const INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(25);

#[tokio::test(start_paused = true)]
async fn keepalive_pings_an_answering_peer_without_failing() {
    let (listener, url) = listener().await;
    let config = Config::default().with_keepalive(INTERVAL, KEEPALIVE_TIMEOUT);
    let server = tokio::spawn(async move {
        let mut ws = accept_one(&listener, config).await;
        let mut pongs = 0;
        loop {
            match ws.recv().await {
                Some(Ok(Message::Pong(_))) => pongs += 1,
                other => return (other, pongs),
            }
        }
    });
    let client = tokio::spawn(async move {
        let mut ws = wschat::connect(&url).await.unwrap();
        let mut pings = 0;
        let started = tokio::time::Instant::now();
        // Our client answers pings inside recv; it sends nothing of its own for 200 s.
        while started.elapsed() < Duration::from_secs(200) {
            match tokio::time::timeout(Duration::from_secs(200), ws.recv()).await {
                Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => break,
            }
        }
        ws.send(Message::text("still here")).await.unwrap();
        pings
    });
    let pings = tokio::time::timeout(Duration::from_secs(600), client)
        .await
        .unwrap()
        .unwrap();
    assert!((19..=21).contains(&pings), "{pings} pings in 200 s");
    let (result, pongs) = tokio::time::timeout(Duration::from_secs(600), server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.unwrap().unwrap(), Message::text("still here"));
    assert_eq!(pongs, pings, "every keepalive ping was answered");
}

#[tokio::test(start_paused = true)]
async fn keepalive_fails_a_silent_peer_with_a_1001_close() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config::default().with_keepalive(INTERVAL, KEEPALIVE_TIMEOUT);
    let server = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut ws = accept_one(&listener, config).await;
        let result = ws.recv().await;
        (result, started.elapsed())
    });
    // A raw peer that reads but never answers.
    let mut peer = RawPeer::connect(addr).await;
    peer.read_limit = Duration::from_secs(600);
    let mut pings = 0;
    let code = loop {
        let frame = peer.read_frame().await;
        match frame.opcode {
            0x9 => pings += 1,
            0x8 => break frame.close_code(),
            other => panic!("unexpected opcode {other}"),
        }
    };
    assert_eq!(code, Some(1001));
    assert_eq!(pings, 2, "pings at 10 s and 20 s");
    let (result, elapsed) = tokio::time::timeout(Duration::from_secs(600), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Some(Err(Error::KeepaliveTimeout))),
        "{result:?}"
    );
    assert!(
        elapsed >= KEEPALIVE_TIMEOUT && elapsed < KEEPALIVE_TIMEOUT + Duration::from_secs(1),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn idle_connection_releases_its_buffers() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let mut ws = accept_one(&listener, Config::default()).await;
        let mut idle_capacities = Vec::new();
        let mut replied = false;
        loop {
            tokio::select! {
                message = ws.recv() => {
                    match message {
                        Some(Ok(Message::Binary(_))) => {
                            ws.send(Message::text("got it")).await.unwrap();
                            replied = true;
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
                // The client pauses after each reply, so recv has now been waiting for input
                // with nothing in flight: the connection is idle.
                () = tokio::time::sleep(Duration::from_millis(20)), if replied => {
                    idle_capacities.push(ws.connection().buffer_capacity());
                    replied = false;
                }
            }
        }
        idle_capacities
    });
    let mut ws = within(wschat::connect(&url)).await.unwrap();
    for _ in 0..2 {
        ws.send(Message::binary(pattern(4 << 20))).await.unwrap();
        assert_eq!(
            within(ws.recv()).await.unwrap().unwrap(),
            Message::text("got it")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    let idle = within(server).await.unwrap();
    assert_eq!(idle.len(), 2, "{idle:?}");
    assert!(
        idle.iter().all(|&capacity| capacity == 0),
        "an idle connection still holds buffers: {idle:?}"
    );
}

#[tokio::test]
async fn peer_vanishing_without_a_close_is_an_abnormal_closure() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let mut ws = accept_one(&listener, Config::default()).await;
        let first = within(ws.recv()).await;
        let second = within(ws.recv()).await;
        let third = within(ws.recv()).await;
        (first, second, third)
    });
    let ws = within(wschat::connect(&url)).await.unwrap();
    drop(ws);
    let (first, second, third) = within(server).await.unwrap();
    assert!(
        matches!(first, Some(Err(Error::AbnormalClosure))),
        "{first:?}"
    );
    assert!(second.is_none() && third.is_none());
}

#[tokio::test]
async fn connect_to_a_closed_port_is_an_io_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = within(wschat::connect(&format!("ws://{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
}

#[tokio::test]
async fn split_read_half_gives_up_when_the_peer_never_answers_our_close() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/silent", listener.local_addr().unwrap());
    let silent_server = tokio::spawn(async move {
        // Answers the handshake, reads our close, and then neither answers nor closes TCP.
        let (mut peer, _) = RawPeer::accept(&listener, None).await;
        assert_eq!(peer.read_frame().await.opcode, 0x8);
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(peer);
    });
    let request = wschat::handshake::ClientRequest::from_url(&url).unwrap();
    let config = Config::default().with_close_timeout(Duration::from_millis(300));
    let (ws, _) = within(wschat::ws::connect_with(request, config))
        .await
        .unwrap();
    let (mut reader, mut writer) = ws.split();
    within(writer.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    assert!(within(reader.recv()).await.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the close timeout bounds the wait"
    );
    silent_server.abort();
}

/// `feed_encoded_all` queues a batch of pre-encoded frames under one lock; with a write buffer
/// smaller than the batch it writes out as it goes (waiting for the peer to read), and every
/// frame arrives, in order.
#[tokio::test]
async fn a_batch_of_encoded_frames_arrives_whole_and_in_order_past_the_write_buffer() {
    let (listener, url) = listener().await;
    let client = tokio::spawn(async move { within(wschat::connect(&url)).await.unwrap() });
    let server = accept_one(&listener, Config::default().with_write_buffer_limit(4096)).await;
    let mut client = client.await.unwrap();
    let (_reader, mut writer) = server.split();
    let frames: Vec<wschat::protocol::EncodedFrame> = (0..200)
        .map(|n| wschat::protocol::EncodedFrame::text(&format!("{n} {}", "x".repeat(500))))
        .collect();
    let sending = tokio::spawn(async move {
        writer.feed_encoded_all(&frames).await.unwrap();
        writer.flush().await.unwrap();
        writer
    });
    for n in 0..200 {
        match within(client.recv()).await {
            Some(Ok(Message::Text(text))) => {
                assert_eq!(text.as_str(), format!("{n} {}", "x".repeat(500)));
            }
            other => panic!("frame {n}: {other:?}"),
        }
    }
    within(sending).await.unwrap();
}
