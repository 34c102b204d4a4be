//! Peer echo server on fastwebsockets, for the load test (`examples/load-test`): built like
//! `echo-server` (tokio current-thread runtime by default, TCP_NODELAY, prints
//! `listening on ADDR`), with fastwebsockets' own echo loop from its README: `read_frame`, then
//! `write_frame` of every text or binary frame (one write per frame), behind a
//! `FragmentCollector` so fragmented messages are reassembled.
//!
//! fastwebsockets leaves the HTTP upgrade to hyper (its `upgrade` feature, not enabled here);
//! this server answers the upgrade by hand with `wschat::handshake::accept_key` before handing
//! the stream to `WebSocket::after_handshake`. Only the steady state is measured, so the
//! handshake code does not matter.
//!
//! `cargo run --release --example peer-echo-fastwebsockets -- --addr 127.0.0.1:0 [--threads N]`

use std::net::SocketAddr;

use clap::Parser;
use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// fastwebsockets echo server.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9003")]
    addr: SocketAddr,
    /// Worker threads: 1 runs a current-thread runtime (used for benchmarks).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    runtime(args.threads)?.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = echo(stream).await;
            });
        }
    })
}

async fn echo(mut stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    stream.set_nodelay(true)?;
    upgrade(&mut stream).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

/// Reads the request head and answers 101 (the load generator sends nothing after its head
/// until it has the answer).
async fn upgrade(stream: &mut TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || head.len() > 8192 {
            return Err("bad request".into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let key = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .ok_or("no Sec-WebSocket-Key")?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wschat::handshake::accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).await?;
    Ok(())
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}
