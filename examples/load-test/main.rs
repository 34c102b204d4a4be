//! Load generator for the echo servers and the chat server, after uWebSockets' `load_test` (the
//! tool behind fastwebsockets' and tokio-websockets' published charts). No WebSocket library on
//! this side: frames are encoded and masked by hand (`wire.rs`), so the generator costs the same
//! whichever server it drives, and it prints its own CPU use to show it is not the bottleneck.
//!
//! Build everything, then run pinned: servers on CPU 0 (started by this tool through `taskset`,
//! one fresh process per measurement), the generator on CPU 1:
//!
//! ```text
//! cargo build --release --examples --bin chat-server
//! taskset -c 1 target/release/examples/load-test echo        # throughput, all servers
//! taskset -c 1 target/release/examples/load-test memory      # idle memory per connection
//! taskset -c 1 target/release/examples/load-test fanout      # chat fan-out
//! ```
//!
//! `echo` runs every case against every server in interleaved rounds (the server order rotates
//! each round) and prints, per case, the median messages/s and messages per server-CPU-second
//! (echoes divided by the server's utime+stime over the window, from /proc/PID/stat) and the
//! ratios of ours to each peer.

mod echo;
mod fanout;
mod memory;
mod proc_stat;
mod server;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use echo::{Case, Sample};
use server::{Server, ServerSpec};

#[derive(Parser, Debug)]
#[command(about = "WebSocket load generator (uWebSockets load_test method)")]
struct Args {
    /// CPU the servers are pinned to (taskset); -1 leaves them unpinned.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        global = true
    )]
    server_cpu: i64,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Echo throughput of every server, interleaved rounds.
    Echo {
        /// Servers as NAME=PATH; default: ours and the three peers, next to this binary.
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        /// Cases as CxBxN (connections x payload bytes x messages in flight).
        #[arg(long, value_delimiter = ',', default_value = echo::DEFAULT_CASES)]
        cases: Vec<String>,
        /// Rounds; each measures every case on every server once.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Warm-up before each window, in seconds.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Measurement window, in seconds.
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
    },
    /// Resident memory per idle connection (VmRSS growth / connections).
    Memory {
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Handshakes in progress at once.
        #[arg(long, default_value_t = 100)]
        parallel: usize,
        /// Exchange one 20-byte message on each connection before it goes idle.
        #[arg(long)]
        echo_first: bool,
        /// Idle time before VmRSS is read, in seconds.
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
    },
    /// Chat fan-out: deliveries/s and latency for 1, 100 and 1000 clients.
    Fanout {
        /// The chat server binary; default: chat-server next to this binary's directory.
        #[arg(long)]
        server: Option<PathBuf>,
        #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
        clients: Vec<usize>,
        /// Messages sent per run.
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        /// Messages the sender may be ahead of the slowest receiver.
        #[arg(long, default_value_t = 16)]
        window: u64,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cpu = usize::try_from(args.server_cpu).ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.mode {
        Mode::Echo {
            servers,
            cases,
            rounds,
            warmup,
            secs,
        } => {
            let servers = server_specs(&servers)?;
            let cases = cases
                .iter()
                .map(|c| Case::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            let window = Duration::from_secs_f64(secs);
            let warmup = Duration::from_secs_f64(warmup);
            runtime.block_on(run_echo(&servers, &cases, rounds, warmup, window, cpu))
        }
        Mode::Memory {
            servers,
            connections,
            parallel,
            echo_first,
            settle,
        } => {
            let servers = server_specs(&servers)?;
            println!("| server | connections | VmRSS before | VmRSS after | per connection |");
            println!("|---|---:|---:|---:|---:|");
            for spec in &servers {
                let server = Server::start(spec, cpu)?;
                let sample = runtime.block_on(memory::measure(
                    &server,
                    connections,
                    parallel,
                    echo_first,
                    Duration::from_secs_f64(settle),
                ))?;
                // Kill the server before the generator closes its side, so TIME_WAIT stays there.
                drop(server);
                println!(
                    "| {} | {} | {} KiB | {} KiB | {:.2} KiB |",
                    spec.name,
                    sample.connections,
                    sample.before_kib,
                    sample.after_kib,
                    sample.bytes_per_connection() / 1024.0
                );
            }
            Ok(())
        }
        Mode::Fanout {
            server,
            clients,
            messages,
            window,
        } => {
            let program = server.unwrap_or_else(|| sibling("../chat-server"));
            let spec = ServerSpec {
                name: "chat-server".into(),
                program,
                // The generator is one host sending as fast as it can: lift the per-address cap
                // and flood control, which would otherwise (rightly) refuse it.
                args: ["--max-connections-per-ip", "0", "--rate", "0"]
                    .map(String::from)
                    .to_vec(),
            };
            println!(
                "| clients | messages | deliveries/s | p50 | p99 | max | server CPU s | generator CPU s |"
            );
            println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
            for n in clients {
                let server = Server::start(&spec, cpu)?;
                let result = runtime.block_on(fanout::measure(&server, n, messages, window))?;
                drop(server);
                println!(
                    "| {} | {} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs | {:.2} | {:.2} |",
                    result.clients,
                    result.messages,
                    result.deliveries_per_second,
                    result.p50.as_secs_f64() * 1e6,
                    result.p99.as_secs_f64() * 1e6,
                    result.max.as_secs_f64() * 1e6,
                    result.server_cpu_seconds,
                    result.generator_cpu_seconds
                );
            }
            Ok(())
        }
    }
}

/// A path next to this executable (examples live in target/release/examples/).
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent().map(|dir| dir.join(name)).unwrap_or_default()
}

fn server_specs(given: &[String]) -> Result<Vec<ServerSpec>, String> {
    if !given.is_empty() {
        return given.iter().map(|s| ServerSpec::parse(s)).collect();
    }
    Ok([
        ("wschat", "echo-server"),
        ("tokio-tungstenite", "peer-echo-tungstenite"),
        ("fastwebsockets", "peer-echo-fastwebsockets"),
        ("tokio-websockets", "peer-echo-tokio-websockets"),
    ]
    .into_iter()
    .map(|(name, binary)| ServerSpec {
        name: name.into(),
        program: sibling(binary),
        args: Vec::new(),
    })
    .collect())
}

async fn run_echo(
    servers: &[ServerSpec],
    cases: &[Case],
    rounds: usize,
    warmup: Duration,
    window: Duration,
    cpu: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut samples: BTreeMap<(usize, usize), Vec<Sample>> = BTreeMap::new();
    for round in 0..rounds {
        for (c, case) in cases.iter().enumerate() {
            for k in 0..servers.len() {
                let s = (k + round + c) % servers.len();
                let server = Server::start(&servers[s], cpu)?;
                let sample = echo::measure(&server, *case, warmup, window).await?;
                drop(server);
                eprintln!(
                    "round {} | {:<34} | {:<18} | {:>9.0} msg/s | {:>9.0} msg/CPU-s | server {:>3.0}% ({:>2.0}% user) | generator {:>3.0}%",
                    round + 1,
                    case.label(),
                    servers[s].name,
                    sample.messages_per_second,
                    sample.messages_per_cpu_second,
                    sample.server_cpu * 100.0,
                    sample.server_user_share * 100.0,
                    sample.generator_cpu * 100.0
                );
                samples.entry((c, s)).or_default().push(sample);
            }
        }
    }
    print_echo_tables(servers, cases, &samples, rounds);
    Ok(())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn print_echo_tables(
    servers: &[ServerSpec],
    cases: &[Case],
    samples: &BTreeMap<(usize, usize), Vec<Sample>>,
    rounds: usize,
) {
    println!(
        "Medians of {rounds} interleaved rounds; server and generator CPU in % of one core; \
         user = the share of the server's CPU time spent in user space.\n"
    );
    println!(
        "| case | server | msg/s | msg per server-CPU-s | server CPU | user | generator CPU |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let med = |c: usize, s: usize, f: fn(&Sample) -> f64| {
        median(samples.get(&(c, s)).into_iter().flatten().map(f))
    };
    for (c, case) in cases.iter().enumerate() {
        for (s, spec) in servers.iter().enumerate() {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.0}% | {:.0}% | {:.0}% |",
                case.label(),
                spec.name,
                med(c, s, |x| x.messages_per_second),
                med(c, s, |x| x.messages_per_cpu_second),
                med(c, s, |x| x.server_cpu) * 100.0,
                med(c, s, |x| x.server_user_share) * 100.0,
                med(c, s, |x| x.generator_cpu) * 100.0
            );
        }
    }
    let Some(ours) = servers.first() else {
        return;
    };
    println!(
        "\nRatios of {} (first server) to each peer, medians; `best` is the best peer.\n",
        ours.name
    );
    let mut header = String::from("| case | metric |");
    let mut rule = String::from("|---|---|");
    for spec in &servers[1..] {
        header += &format!(" vs {} |", spec.name);
        rule += "---:|";
    }
    println!("{header} vs best |\n{rule}---:|");
    for (c, case) in cases.iter().enumerate() {
        for (metric, f) in [
            (
                "msg/s",
                (|x: &Sample| x.messages_per_second) as fn(&Sample) -> f64,
            ),
            ("msg/CPU-s", |x: &Sample| x.messages_per_cpu_second),
        ] {
            let our = med(c, 0, f);
            let mut row = format!("| {} | {metric} |", case.label());
            let mut best = f64::NAN;
            for s in 1..servers.len() {
                let peer = med(c, s, f);
                best = best.max(peer);
                row += &format!(" {:.2}x |", our / peer);
            }
            println!("{row} {:.2}x |", our / best);
        }
    }
}
