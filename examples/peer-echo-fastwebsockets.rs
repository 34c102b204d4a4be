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
#[path = "shared/peer_runtime.rs"]
mod peer_runtime;
use peer_runtime::runtime;
#[path = "shared/raw_upgrade.rs"]
mod raw_upgrade;
use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use raw_upgrade::upgrade;
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
