//! Loss-free soak test of the chat server: hundreds of JSON clients chat at a steady rate for a
//! while, some of them dropping their connections abruptly and reconnecting, and every event
//! every client receives is checked: exactly once, in the room's order, with the same content
//! everywhere, and every message sent must reach the room.
//!
//! ```text
//! cargo run --release --example soak -- --clients 500 --seconds 60 --rate 200
//! ```
//!
//! All traffic stays on 127.0.0.1 (clients are spread over source addresses in 127.0.0.0/8,
//! see `connector.rs`). Progress goes to stderr every few seconds; the single verdict line on
//! stdout ends the run. Exit status: 0 PASS, 1 FAIL, 2 setup error.
//!
//! The pieces, one concept each:
//! - `coordinator`: the run's phases (probe, run, stop, drain, finish, publication check);
//! - `client`: one client task (connect, receive and check, send, churn);
//! - `connector`: TCP from a chosen source address and the WebSocket handshake;
//! - `sequence`: one connection's exactly-once, in-order accounting;
//! - `checker`: the room as everyone saw it (seq -> content, last seq, published messages);
//! - `stats`: counters, totals and problem descriptions shared by the clients;
//! - `wire`: the server's JSON events and the text of the soak's own messages;
//! - `server_process`: the chat server child process and its /proc figures;
//! - `report`: the verdict line and latency percentiles.

mod checker;
mod client;
mod connector;
mod coordinator;
mod report;
mod sequence;
mod server_process;
mod stats;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use client::{Plan, Shared};
use connector::Connector;
use report::{Latency, Verdict};
use server_process::ServerProcess;

/// Messages per second one client may send: half of what the server tolerates per connection
/// (20/s with a burst of 40), so that the ±50% jitter never comes near its throttle.
const MAX_PER_CLIENT_RATE: f64 = 10.0;

/// How long the server gets after the last client closed to be back at its starting fd count.
const FD_SETTLE: Duration = Duration::from_secs(5);

/// Loss-free soak test of the chat server.
///
/// Starts chat-server on an ephemeral loopback port (or uses --url), connects --clients JSON
/// clients and lets them chat at --rate messages per second in total for --seconds, while a
/// --churn share of them drops the connection abruptly (half with FIN, half with RST) and
/// reconnects. Every event with a seq must reach every connected client exactly once and in
/// order, with the same content everywhere; every message sent must reach the room; error
/// events and closes the soak did not cause are failures. After the senders stop, the still
/// connected clients must catch up with the last seq anyone saw (within 10 s), then close with
/// 1000.
///
/// Progress goes to stderr; one verdict line goes to stdout, `soak: PASS ...` or
/// `soak: FAIL ...`, with the counts, delivery latency and the server's peak RSS and fd counts.
/// Exit status: 0 PASS, 1 FAIL, 2 setup error.
#[derive(Parser, Debug)]
#[command(name = "soak")]
struct Args {
    /// Number of clients connected at once (each is one WebSocket connection, replaced by a new
    /// one when a churning client reconnects).
    #[arg(long, default_value_t = 500, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    clients: u32,

    /// How long the clients send, in seconds (draining and closing take a few seconds more; the
    /// whole run is bounded by this + 30 s).
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    seconds: f64,

    /// Chat messages per second over all clients together. Each client sends RATE/CLIENTS per
    /// second at intervals jittered uniformly by ±50%; at most 10 per second per client (the
    /// server throttles a connection above 20/s), so RATE may not exceed 10 x CLIENTS.
    #[arg(long, default_value_t = 200.0, value_name = "R")]
    rate: f64,

    /// Share of clients (0 to 1) that churn: each drops its connection abruptly at random
    /// moments (no close frame; every other drop sends an RST via SO_LINGER 0), waits 100-1000
    /// ms and reconnects as a new user, possibly several times during the run.
    #[arg(long, default_value_t = 0.1, value_name = "FRACTION")]
    churn: f64,

    /// Soak a server that is already running, e.g. ws://127.0.0.1:8080/chat, instead of
    /// starting one (its peak RSS and fd counts are then reported as n/a).
    #[arg(long, value_name = "URL", conflicts_with_all = ["server_bin", "server_args"])]
    url: Option<String>,

    /// The chat-server binary to start with `--addr 127.0.0.1:0`. Default: chat-server in the
    /// target directory this example was built into, built with cargo first if missing.
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,

    /// An extra argument for the started server; repeat for several, e.g.
    /// `--server-arg=--history --server-arg=0`.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,

    /// Show the started server's log on stderr (by default it goes to a file in the temporary
    /// directory, whose path is printed).
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("soak: setup error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Validates the arguments and derives each client's mean interval between messages.
fn plan(args: &Args) -> Result<Plan, String> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err(format!("--seconds must be positive, got {}", args.seconds));
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err(format!("--rate must be positive, got {}", args.rate));
    }
    if !(0.0..=1.0).contains(&args.churn) {
        return Err(format!(
            "--churn must be between 0 and 1, got {}",
            args.churn
        ));
    }
    let per_client = args.rate / f64::from(args.clients);
    if per_client > MAX_PER_CLIENT_RATE {
        return Err(format!(
            "--rate {} over --clients {} is {per_client:.1} messages/s per client; the limit is \
             {MAX_PER_CLIENT_RATE} (the server throttles a connection above 20/s): raise \
             --clients to at least {} or lower --rate",
            args.rate,
            args.clients,
            (args.rate / MAX_PER_CLIENT_RATE).ceil()
        ));
    }
    Ok(Plan {
        mean_interval: Duration::from_secs_f64(1.0 / per_client),
        churners: (f64::from(args.clients) * args.churn).round() as u32,
        run: Duration::from_secs_f64(args.seconds),
    })
}

/// Runs the soak; `Ok(pass)`, or `Err` for a setup error.
fn run(args: &Args) -> Result<bool, String> {
    let plan = plan(args)?;
    let server = match &args.url {
        Some(_) => None,
        None => {
            let program = match &args.server_bin {
                Some(path) => path.clone(),
                None => server_process::default_server_bin()?,
            };
            let server = ServerProcess::start(&program, &args.server_args, args.verbose)?;
            if let Some(log) = &server.log {
                eprintln!("soak: server log: {}", log.display());
            }
            Some(server)
        }
    };
    let url = match (&args.url, &server) {
        (Some(url), _) => url.clone(),
        (None, Some(server)) => format!("ws://{}/chat", server.addr),
        (None, None) => unreachable!("a server is started when no --url is given"),
    };
    let fds_start = server.as_ref().and_then(ServerProcess::fd_count);
    eprintln!(
        "soak: {} clients, {} s, {} messages/s ({:.2}/s per client), {} churning, against {url}",
        args.clients,
        args.seconds,
        args.rate,
        args.rate / f64::from(args.clients),
        plan.churners
    );

    let shared = Arc::new(Shared::new(
        args.clients,
        Connector::new(&url, args.clients)?,
        plan,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let outcome = runtime.block_on(coordinator::soak(Arc::clone(&shared)))?;
    runtime.shutdown_timeout(Duration::from_secs(1));

    let mut verdict = verdict(args, &shared, &outcome);
    let log = server.as_ref().and_then(|server| server.log.clone());
    if let Some(mut server) = server {
        verdict.server_fds_start = fds_start;
        verdict.server_fds_end = server.settled_fd_count(fds_start, FD_SETTLE);
        verdict.server_peak_rss_kib = server.peak_rss_kib();
        if let Some(status) = server.exited() {
            eprintln!("soak: the server exited during the run ({status})");
            verdict.errors += 1;
        }
        match server.stop() {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("soak: the server exited with {status} after SIGTERM"),
            Err(message) => eprintln!("soak: {message}"),
        }
        if let (Some(start), Some(end)) = (verdict.server_fds_start, verdict.server_fds_end) {
            if end > start {
                eprintln!(
                    "soak: warning: the server holds {end} fds after every client closed, \
                     {start} at start"
                );
            }
        }
    }
    print_problems(&shared, &outcome);
    if let (false, Some(log)) = (verdict.pass(), log) {
        eprintln!("soak: the server's side of it is in {}", log.display());
    }
    println!("{verdict}");
    Ok(verdict.pass())
}

fn verdict(args: &Args, shared: &Shared, outcome: &coordinator::Outcome) -> Verdict {
    let stats = &shared.stats;
    let totals = stats.totals();
    Verdict {
        clients: args.clients,
        seconds: args.seconds,
        rate: args.rate,
        sent: stats.sent.load(Ordering::Relaxed),
        delivered: totals.delivered,
        expected: totals.expected,
        // Messages that never reached the room are lost too.
        lost: totals.lost + outcome.unpublished,
        duplicated: totals.duplicated,
        out_of_order: totals.out_of_order,
        mismatched: stats.mismatched.load(Ordering::Relaxed),
        errors: stats.errors.load(Ordering::Relaxed),
        unexpected_closes: stats.unexpected_closes.load(Ordering::Relaxed),
        connect_failures: stats.connect_failures.load(Ordering::Relaxed),
        reconnects: stats.reconnects.load(Ordering::Relaxed),
        timed_out: outcome.timed_out,
        latency: Latency::from_micros(stats.take_latencies()),
        server_peak_rss_kib: None,
        server_fds_start: None,
        server_fds_end: None,
    }
}

/// The problems in words (the first few), on stderr, before the verdict.
fn print_problems(shared: &Shared, outcome: &coordinator::Outcome) {
    let stats = &shared.stats;
    eprintln!(
        "soak: drops: {} with FIN, {} with RST",
        stats.dropped_fin.load(Ordering::Relaxed),
        stats.dropped_rst.load(Ordering::Relaxed)
    );
    let (described, total) = stats.described_problems();
    if total == 0 {
        return;
    }
    eprintln!("soak: {total} problems; the first {}:", described.len());
    for line in &described {
        eprintln!("  {line}");
    }
    let codes = stats.close_codes();
    if !codes.is_empty() {
        let codes: Vec<String> = codes
            .iter()
            .map(|(code, count)| format!("{code} x{count}"))
            .collect();
        eprintln!("soak: unexpected closes by code: {}", codes.join(", "));
    }
    if outcome.unpublished > 0 {
        eprintln!(
            "soak: {} sent messages never reached the room (counted in lost)",
            outcome.unpublished
        );
    }
    if outcome.behind_after_drain > 0 {
        eprintln!(
            "soak: {} clients were still behind when the drain gave up",
            outcome.behind_after_drain
        );
    }
}
