//! The chat server: `cargo run --release --bin chat-server -- [--addr 127.0.0.1:8080] ...`.
//!
//! Prints one line when ready, `listening on ws://ADDR/chat (web client at http://ADDR/)` (`wss`
//! and `https` with `--tls-cert`), with the address actually bound, and `metrics on
//! http://ADDR/metrics` with `--metrics-addr`; then logs to stderr (`RUST_LOG` sets the level,
//! default info). SIGINT or SIGTERM: stop accepting, close every connection with 1001, wait up
//! to 5 s for the clients' close frames, exit 0. SIGHUP: reload the TLS certificate and key.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wschat::chat::fd_limit::{raise_fd_limit, FD_HEADROOM};
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
    check_fd_limit(&options);
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

/// Raises the open-file limit as far as allowed, and says whether it is enough.
fn check_fd_limit(options: &ServerOptions) {
    let sockets = u64::from(options.max_connections) + u64::from(options.max_pending_handshakes);
    let wanted = sockets + FD_HEADROOM;
    match raise_fd_limit() {
        Ok(limit) if limit.fits(sockets) => tracing::info!(
            before = limit.before,
            now = limit.soft,
            hard = limit.hard,
            "open-file limit"
        ),
        Ok(limit) => tracing::warn!(
            before = limit.before,
            now = limit.soft,
            hard = limit.hard,
            wanted,
            "the open-file limit is below --max-connections plus --max-pending-handshakes plus \
             {FD_HEADROOM}: connections will fail with 'too many open files' before the caps \
             are reached; raise the hard limit (ulimit -Hn, LimitNOFILE= in a systemd unit) or \
             lower --max-connections"
        ),
        Err(error) => tracing::warn!(%error, "cannot read or raise the open-file limit"),
    }
}

async fn serve(options: &ServerOptions) -> std::io::Result<()> {
    let server = ChatServer::bind(options).await?;
    // Watch the signals before announcing readiness: a signal sent right after the start line
    // must shut down gracefully, not kill the process.
    let shutdown = shutdown_signal()?;
    #[cfg(all(unix, feature = "tls"))]
    if let Some(tls) = server.tls() {
        reload_on_sighup(tls)?;
    }
    println!("{}", banner(server.local_addr()?, server.is_secure()));
    if let Some(metrics) = server.metrics_addr()? {
        println!("metrics on http://{metrics}/metrics");
    }
    server.run(shutdown).await
}

/// Reloads the certificate and key on every SIGHUP, keeping the old ones when that fails.
#[cfg(all(unix, feature = "tls"))]
fn reload_on_sighup(tls: std::sync::Arc<wschat::chat::tls::ServerTls>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!(
                    cert = %tls.cert_path().display(),
                    "SIGHUP: reloaded the TLS certificate and key; new connections use them"
                ),
                Err(error) => tracing::error!(
                    %error,
                    "SIGHUP: could not reload the TLS certificate; keeping the one in use"
                ),
            }
        }
    });
    Ok(())
}

/// Installs the SIGINT (Ctrl-C) and SIGTERM handlers now; the future resolves on either.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "signal received");
    })
}

/// Ctrl-C only, where Unix signals do not exist.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received");
    })
}
