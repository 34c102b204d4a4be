//! The chat server: `cargo run --release --bin chat-server -- [--addr 127.0.0.1:8080] ...`.
//!
//! Prints one line when ready, `listening on ws://ADDR/chat (web client at http://ADDR/)`, with
//! the address actually bound, then logs to stderr (`RUST_LOG` sets the level, default info).
//! SIGINT or SIGTERM: stop accepting, close every connection with 1001, wait up to 5 s for the
//! clients' close frames, exit 0.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wschat::chat::{banner, ChatServer, ServerOptions};

fn main() -> ExitCode {
    let options = ServerOptions::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chat-server: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: &ServerOptions) -> std::io::Result<()> {
    let server = ChatServer::bind(options).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot listen on {}: {error}", options.addr),
        )
    })?;
    println!("{}", banner(server.local_addr()?));
    server.run(shutdown_signal()).await
}

/// Resolves on Ctrl-C; never, if that signal cannot be watched.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    () = ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => ctrl_c().await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c().await;
    tracing::info!("signal received");
}
