//! Peer echo server on tokio-tungstenite, for the load test (`examples/load-test`): built like
//! `echo-server` (tokio current-thread runtime by default, TCP_NODELAY, prints
//! `listening on ADDR`), with tokio-tungstenite's own echo idiom: split the stream and `forward`
//! the data messages into the sink, which flushes only when the stream has nothing ready.
//!
//! `cargo run --release --example peer-echo-tungstenite -- --addr 127.0.0.1:0 [--threads N]`

use std::net::SocketAddr;

use clap::Parser;
#[path = "shared/peer_runtime.rs"]
mod peer_runtime;
use futures_util::{future, StreamExt, TryStreamExt};
use peer_runtime::runtime;
use tokio::net::{TcpListener, TcpStream};

/// tokio-tungstenite echo server.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9002")]
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
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|message| future::ready(message.is_text() || message.is_binary()))
        .forward(write)
        .await;
}
