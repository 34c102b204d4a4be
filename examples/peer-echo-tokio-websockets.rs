//! Peer echo server on tokio-websockets, for the load test (`examples/load-test`): built like
//! `echo-server` (tokio current-thread runtime by default, TCP_NODELAY, prints
//! `listening on ADDR`), with tokio-websockets' own echo idiom from its README: `next()` a
//! message, `send()` it back (one flush per message).
//!
//! `cargo run --release --example peer-echo-tokio-websockets -- --addr 127.0.0.1:0 [--threads N]`

use std::net::SocketAddr;

use clap::Parser;
#[path = "shared/peer_runtime.rs"]
mod peer_runtime;
use futures_util::{SinkExt, StreamExt};
use peer_runtime::runtime;
use tokio::net::{TcpListener, TcpStream};

/// tokio-websockets echo server.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9004")]
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
            tokio::spawn(echo(stream));
        }
    })
}

async fn echo(stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let Ok((_request, mut ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
