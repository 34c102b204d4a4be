//! Echo client: connects, sends back every message it receives until the server closes,
//! answers the close, and exits 0 after a clean closing handshake. A failed handshake or a
//! protocol error is reported on stderr with a non-zero exit.
//!
//! `cargo run --release --example echo-client -- ws://127.0.0.1:9002/any/path`
//! (`wss://` too; `--ca FILE` trusts a CA or self-signed certificate of your own).

use std::process::ExitCode;

use clap::Parser;
use wschat::handshake::ClientRequest;
use wschat::{Config, Message};

/// WebSocket echo client.
#[derive(Parser, Debug)]
struct Args {
    /// Server URL, `ws[s]://host[:port]/path?query`.
    url: String,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_message: usize,
    /// For wss://: also trust the certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), wschat::Error> {
    let config = Config::default()
        .with_max_message_size(args.max_message)
        .with_max_frame_size(args.max_message);
    let request = ClientRequest::from_url(&args.url)?;
    let (mut ws, _) = match &args.ca {
        None => wschat::ws::connect_with(request, config).await?,
        Some(ca) => {
            let tls = wschat::ws::tls::client_config_with_extra_roots(&std::fs::read(ca)?)?;
            wschat::ws::connect_tls_with(request, config, tls).await?
        }
    };
    let mut closed_cleanly = false;
    let mut failure = None;
    // Keep receiving after an error: `recv` then sends the close and closes TCP in order before
    // returning `None`, so the server sees why we failed instead of a reset.
    while let Some(message) = ws.recv().await {
        match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if let Err(e) = ws.feed(message).await {
                    failure.get_or_insert(e);
                }
            }
            Ok(Message::Close(frame)) => {
                closed_cleanly = true;
                if let Some(frame) = frame {
                    eprintln!("server closed: {frame}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None if closed_cleanly => Ok(()),
        None => Err(wschat::Error::AbnormalClosure),
    }
}
