//! Load generator for the echo servers and the chat servers, after uWebSockets' `load_test` (the
//! tool behind fastwebsockets' and tokio-websockets' published charts). No WebSocket library on
//! this side: frames are encoded and masked by hand (`wire.rs`), so the generator costs the same
//! whichever server it drives, and it prints its own CPU use to show it is not the bottleneck.
//!
//! Build everything, then run pinned: servers on CPU 0 (started by this tool through `taskset`,
//! one fresh process per measurement), the generator on CPU 1:
//!
//! ```text
//! cargo build --release --examples --bin chat-server
//! taskset -c 1 target/release/examples/load-test echo        # throughput, all echo servers
//! taskset -c 1 target/release/examples/load-test memory      # idle memory per connection
//! taskset -c 1 target/release/examples/load-test fanout      # chat fan-out, all chat servers
//! ```
//!
//! `echo` and `fanout` run every case against every server in interleaved rounds (the server
//! order rotates each round) and print, per case, medians: messages (or deliveries) per second
//! and per server-CPU-second (divided by the server's utime+stime over the window, from
//! /proc/PID/stat), and the ratios of ours (the first server) to each peer. `fanout` also gives
//! latencies. Every mode then writes grouped bar charts (SVG, one per metric) to `--chart DIR`.
//!
//! `--servers` takes `NAME=PATH [ARGS..]` entries and the presets `echo` (ours and the three
//! peers' echo servers, the default of `echo` and `memory`) and `chat` (`chat-server` and the
//! three `peer-chat-*` examples, the default of `fanout`). A `chat-server` given without
//! arguments gets [`CHAT_SERVER_ARGS`]: one generator host opening thousands of connections and
//! sending at full speed is exactly what its per-address caps and flood control refuse.
//!
//! The generator raises its own open-file limit to the hard limit (the servers inherit it;
//! chat-server raises its own too); thousands of connections need it.

mod chart;
mod echo;
mod fanout;
mod memory;
mod proc_stat;
mod server;
mod wire;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};

use chart::Chart;
use echo::{Case, Sample};
use server::{Server, ServerSpec};

/// What `chat-server` is started with when given without arguments (and in the `chat` preset).
pub const CHAT_SERVER_ARGS: [&str; 8] = [
    "--max-connections-per-ip",
    "0",
    "--max-pending-handshakes-per-ip",
    "0",
    "--rate",
    "0",
    "--max-connections",
    "20000",
];

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
    /// Directory for the SVG charts written after the run.
    #[arg(long, default_value = "target/load-test-charts", global = true)]
    chart: PathBuf,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Echo throughput of every server, interleaved rounds.
    Echo {
        /// Servers as NAME=PATH [ARGS], or the presets `echo` (default) and `chat`.
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
    /// Resident memory per idle connection (VmRSS growth / connections). Chat servers (start
    /// line naming /chat) are connected on /chat and their connections drained until the room
    /// is quiet.
    Memory {
        /// Servers as NAME=PATH [ARGS], or the presets `echo` (default) and `chat`.
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Handshakes in progress at once.
        #[arg(long, default_value_t = 100)]
        parallel: usize,
        /// Exchange one 20-byte message on each connection before it goes idle (echo servers).
        #[arg(long)]
        echo_first: bool,
        /// Idle time before VmRSS is read, in seconds.
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
    },
    /// Chat fan-out of every chat server: deliveries/s, per server-CPU-second, and latency, for
    /// each room size, interleaved rounds.
    Fanout {
        /// Servers as NAME=PATH [ARGS], or the presets `chat` (default) and `echo`.
        #[arg(long, value_delimiter = ',')]
        servers: Vec<String>,
        /// Room sizes: clients connected (senders included).
        #[arg(long, value_delimiter = ',', default_value = fanout::DEFAULT_CLIENTS)]
        clients: Vec<usize>,
        /// Clients that send (at most all of them); the messages are split among them.
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Messages sent per run, in all; each is delivered to every client.
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        /// Messages each sender may be ahead of the slowest client.
        #[arg(long, default_value_t = 16)]
        window: u64,
        /// Rounds; each measures every room size on every server once.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Handshakes in progress at once while a room fills.
        #[arg(long, default_value_t = 100)]
        parallel: usize,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cpu = usize::try_from(args.server_cpu).ok();
    raise_fd_limit();
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
            let servers = server_specs(&servers, "echo")?;
            let cases = cases
                .iter()
                .map(|c| Case::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            let window = Duration::from_secs_f64(secs);
            let warmup = Duration::from_secs_f64(warmup);
            let samples =
                runtime.block_on(run_echo(&servers, &cases, rounds, warmup, window, cpu))?;
            print_echo_tables(&servers, &cases, &samples, rounds);
            write_charts(
                &args.chart,
                &echo_charts(&servers, &cases, &samples, rounds),
            );
            Ok(())
        }
        Mode::Memory {
            servers,
            connections,
            parallel,
            echo_first,
            settle,
        } => {
            let servers = server_specs(&servers, "echo")?;
            let settle = Duration::from_secs_f64(settle);
            let samples = runtime.block_on(run_memory(
                &servers,
                connections,
                parallel,
                echo_first,
                settle,
                cpu,
            ));
            println!(
                "| server | connections | VmRSS before | VmRSS after (total) | per connection |"
            );
            println!("|---|---:|---:|---:|---:|");
            for (spec, sample) in servers.iter().zip(&samples) {
                match sample {
                    Some(sample) => println!(
                        "| {} | {} | {} KiB | {} KiB | {:.2} KiB |",
                        spec.name,
                        sample.connections,
                        sample.before_kib,
                        sample.after_kib,
                        sample.bytes_per_connection() / 1024.0
                    ),
                    None => println!("| {} | failed | | | |", spec.name),
                }
            }
            write_charts(&args.chart, &memory_charts(&servers, &samples, connections));
            Ok(())
        }
        Mode::Fanout {
            servers,
            clients,
            senders,
            messages,
            window,
            rounds,
            parallel,
        } => {
            let servers = server_specs(&servers, "chat")?;
            let cases: Vec<fanout::Params> = clients
                .iter()
                .map(|&clients| fanout::Params {
                    clients,
                    senders,
                    messages,
                    window,
                    parallel,
                })
                .collect();
            let samples = runtime.block_on(run_fanout(&servers, &cases, rounds, cpu));
            print_fanout_tables(&servers, &cases, &samples, rounds);
            write_charts(
                &args.chart,
                &fanout_charts(&servers, &cases, &samples, rounds),
            );
            Ok(())
        }
    }
}

/// Raises this process's soft open-file limit to the hard limit; servers started from here
/// inherit it.
fn raise_fd_limit() {
    #[cfg(unix)]
    {
        use rlimit::Resource;
        match Resource::NOFILE.get() {
            Ok((soft, hard)) if soft < hard => match Resource::NOFILE.set(hard, hard) {
                Ok(()) => eprintln!("open-file limit raised from {soft} to {hard}"),
                Err(e) => eprintln!("cannot raise the open-file limit ({soft}) to {hard}: {e}"),
            },
            Ok(_) => {}
            Err(e) => eprintln!("cannot read the open-file limit: {e}"),
        }
    }
}

/// A path next to this executable (examples live in target/release/examples/).
fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent().map(|dir| dir.join(name)).unwrap_or_default()
}

/// The servers of a preset: ours first, then the peers.
fn preset(name: &str) -> Option<Vec<ServerSpec>> {
    let servers = match name {
        "echo" => [
            ("wschat", "echo-server"),
            ("tokio-tungstenite", "peer-echo-tungstenite"),
            ("fastwebsockets", "peer-echo-fastwebsockets"),
            ("tokio-websockets", "peer-echo-tokio-websockets"),
        ],
        "chat" => [
            ("wschat", "../chat-server"),
            ("tokio-tungstenite", "peer-chat-tungstenite"),
            ("fastwebsockets", "peer-chat-fastwebsockets"),
            ("tokio-websockets", "peer-chat-tokio-websockets"),
        ],
        _ => return None,
    };
    Some(
        servers
            .into_iter()
            .map(|(name, binary)| {
                with_chat_server_args(ServerSpec {
                    name: name.into(),
                    program: sibling(binary),
                    args: Vec::new(),
                })
            })
            .collect(),
    )
}

/// `chat-server` without arguments gets [`CHAT_SERVER_ARGS`].
fn with_chat_server_args(mut spec: ServerSpec) -> ServerSpec {
    let is_chat_server = spec.program.file_name().is_some_and(|f| f == "chat-server");
    if is_chat_server && spec.args.is_empty() {
        spec.args = CHAT_SERVER_ARGS.map(String::from).to_vec();
    }
    spec
}

fn server_specs(given: &[String], default: &str) -> Result<Vec<ServerSpec>, String> {
    let default = [default.to_owned()];
    let given = if given.is_empty() {
        &default[..]
    } else {
        given
    };
    let mut servers = Vec::new();
    for entry in given {
        match preset(entry.trim()) {
            Some(specs) => servers.extend(specs),
            None => servers.push(with_chat_server_args(ServerSpec::parse(entry)?)),
        }
    }
    Ok(servers)
}

/// Writes every chart, printing the paths written (and any failure) as it goes.
fn write_charts(dir: &Path, charts: &[Chart]) {
    println!();
    for chart in charts {
        match chart::write(dir, chart) {
            Ok(path) => println!("chart: {}", path.display()),
            Err(e) => eprintln!("chart {}: {e}", chart.file),
        }
    }
}

async fn run_echo(
    servers: &[ServerSpec],
    cases: &[Case],
    rounds: usize,
    warmup: Duration,
    window: Duration,
    cpu: Option<usize>,
) -> Result<Samples<Sample>, Box<dyn std::error::Error>> {
    let mut samples: Samples<Sample> = BTreeMap::new();
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
    Ok(samples)
}

/// Samples by (case, server) index.
type Samples<T> = BTreeMap<(usize, usize), Vec<T>>;

/// The median of `f` over the samples of case `c` on server `s`.
fn med<T>(samples: &Samples<T>, c: usize, s: usize, f: impl Fn(&T) -> f64) -> f64 {
    median(samples.get(&(c, s)).into_iter().flatten().map(f))
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
    samples: &Samples<Sample>,
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

/// A charted metric: file name, title, y-axis label, and the value of a sample.
type Metric<T> = (&'static str, &'static str, &'static str, fn(&T) -> f64);

fn echo_charts<'a>(
    servers: &[ServerSpec],
    cases: &[Case],
    samples: &Samples<Sample>,
    rounds: usize,
) -> Vec<Chart<'a>> {
    let metrics: [Metric<Sample>; 2] = [
        (
            "echo-msgs-per-s.svg",
            "Echo throughput",
            "messages per second",
            |x| x.messages_per_second,
        ),
        (
            "echo-msgs-per-cpu-s.svg",
            "Echo efficiency",
            "messages per server-CPU-second",
            |x| x.messages_per_cpu_second,
        ),
    ];
    metrics
        .into_iter()
        .map(|(file, title, y_label, f)| Chart {
            file,
            title: format!("{title} (median of {rounds} rounds, server on one core)"),
            x_label: "connections x payload, messages in flight",
            y_label,
            groups: cases.iter().map(Case::label).collect(),
            servers: servers.iter().map(|s| s.name.clone()).collect(),
            values: (0..servers.len())
                .map(|s| (0..cases.len()).map(|c| med(samples, c, s, f)).collect())
                .collect(),
            log_scale: false,
        })
        .collect()
}

/// One memory measurement per server; a failure is reported and leaves `None`.
async fn run_memory(
    servers: &[ServerSpec],
    connections: usize,
    parallel: usize,
    echo_first: bool,
    settle: Duration,
    cpu: Option<usize>,
) -> Vec<Option<memory::MemorySample>> {
    let mut samples = Vec::with_capacity(servers.len());
    for spec in servers {
        let progress = format!("memory | {} | {connections} connections", spec.name);
        let result = match Server::start(spec, cpu) {
            Ok(server) => {
                let result = memory::measure(
                    &server,
                    connections,
                    parallel,
                    echo_first,
                    settle,
                    &progress,
                )
                .await;
                // Kill the server before the generator closes its side.
                drop(server);
                result.map(|(sample, connections)| {
                    drop(connections);
                    sample
                })
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(sample) => {
                eprintln!(
                    "{progress}: {:.2} KiB per connection, VmRSS {} KiB",
                    sample.bytes_per_connection() / 1024.0,
                    sample.after_kib
                );
                samples.push(Some(sample));
            }
            Err(e) => {
                eprintln!("{progress}: FAILED: {e}");
                samples.push(None);
            }
        }
    }
    samples
}

fn memory_charts<'a>(
    servers: &[ServerSpec],
    samples: &[Option<memory::MemorySample>],
    connections: usize,
) -> Vec<Chart<'a>> {
    let metrics: [Metric<memory::MemorySample>; 2] = [
        (
            "memory-kib-per-connection.svg",
            "Idle memory per connection (VmRSS growth / connections)",
            "KiB per connection",
            |x| x.bytes_per_connection() / 1024.0,
        ),
        (
            "memory-total-rss.svg",
            "Server VmRSS with every connection open",
            "VmRSS (MiB)",
            |x| x.after_kib as f64 / 1024.0,
        ),
    ];
    metrics
        .into_iter()
        .map(|(file, title, y_label, f)| Chart {
            file,
            title: title.to_owned(),
            x_label: "idle connections",
            y_label,
            groups: vec![format!("{connections} connections")],
            servers: servers.iter().map(|s| s.name.clone()).collect(),
            values: samples
                .iter()
                .map(|sample| vec![sample.as_ref().map_or(f64::NAN, f)])
                .collect(),
            log_scale: false,
        })
        .collect()
}

/// Every room size on every server, `rounds` times, the server order rotating each round. A run
/// that fails is reported and leaves no sample.
async fn run_fanout(
    servers: &[ServerSpec],
    cases: &[fanout::Params],
    rounds: usize,
    cpu: Option<usize>,
) -> Samples<fanout::Sample> {
    let mut samples: Samples<fanout::Sample> = BTreeMap::new();
    for round in 0..rounds {
        for (c, case) in cases.iter().enumerate() {
            for k in 0..servers.len() {
                let s = (k + round + c) % servers.len();
                let progress = format!(
                    "round {} | {:<25} | {:<17}",
                    round + 1,
                    case.label(),
                    servers[s].name
                );
                let result = match Server::start(&servers[s], cpu) {
                    Ok(server) => {
                        let result = fanout::measure(&server, case, &progress).await;
                        // Kill the server before the clients go, or it would announce every
                        // departure to everyone still there.
                        drop(server);
                        result.map(|(sample, connections)| {
                            drop(connections);
                            sample
                        })
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(sample) => {
                        eprintln!(
                            "{progress} | {:>9.0} deliveries/s | {:>9.0} per CPU-s | p50 {:>7.0} µs | p99 {:>7.0} µs | max {:>7.0} µs | server {:.2} s | generator {:.2} s | room filled in {:.1} s{}",
                            sample.deliveries_per_second,
                            sample.deliveries_per_cpu_second,
                            sample.p50_us,
                            sample.p99_us,
                            sample.max_us,
                            sample.server_cpu_seconds,
                            sample.generator_cpu_seconds,
                            sample.fill_seconds,
                            if sample.out_of_order > 0 {
                                format!(" | {} OUT OF ORDER", sample.out_of_order)
                            } else {
                                String::new()
                            }
                        );
                        samples.entry((c, s)).or_default().push(sample);
                    }
                    Err(e) => eprintln!("{progress} | FAILED: {e}"),
                }
            }
        }
    }
    samples
}

/// A fan-out metric: file, title, axis label, value, and whether lower is better.
type FanoutMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&fanout::Sample) -> f64,
    bool,
);

const FANOUT_METRICS: [FanoutMetric; 4] = [
    (
        "fanout-deliveries-per-s.svg",
        "deliveries/s",
        "deliveries per second",
        |x| x.deliveries_per_second,
        false,
    ),
    (
        "fanout-deliveries-per-cpu-s.svg",
        "deliveries/CPU-s",
        "deliveries per server-CPU-second",
        |x| x.deliveries_per_cpu_second,
        false,
    ),
    (
        "fanout-p50.svg",
        "p50 latency",
        "p50 latency (ms, log scale)",
        |x| x.p50_us / 1e3,
        true,
    ),
    (
        "fanout-p99.svg",
        "p99 latency",
        "p99 latency (ms, log scale)",
        |x| x.p99_us / 1e3,
        true,
    ),
];

fn print_fanout_tables(
    servers: &[ServerSpec],
    cases: &[fanout::Params],
    samples: &Samples<fanout::Sample>,
    rounds: usize,
) {
    let Some(first) = cases.first() else {
        return;
    };
    println!(
        "Medians of {rounds} interleaved rounds (`runs`: rounds that completed). {} messages per \
         run, split among {} senders (fewer in a smaller room), each at most {} messages ahead \
         of the slowest client; every message is delivered to every client, senders included. \
         Latency: from the sender's write to a client's read of the broadcast. CPU: the server's \
         and the generator's CPU time from the first send to the last delivery \
         (/proc/PID/task/*/schedstat).\n",
        first.messages, first.senders, first.window
    );
    println!(
        "| clients | server | runs | deliveries/s | deliveries per server-CPU-s | p50 | p99 | max | server CPU s | generator CPU s |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (c, case) in cases.iter().enumerate() {
        for (s, spec) in servers.iter().enumerate() {
            let m = |f: fn(&fanout::Sample) -> f64| med(samples, c, s, f);
            println!(
                "| {} | {} | {}/{rounds} | {:.0} | {:.0} | {:.0} µs | {:.0} µs | {:.0} µs | {:.2} | {:.2} |",
                case.clients,
                spec.name,
                samples.get(&(c, s)).map_or(0, Vec::len),
                m(|x| x.deliveries_per_second),
                m(|x| x.deliveries_per_cpu_second),
                m(|x| x.p50_us),
                m(|x| x.p99_us),
                m(|x| x.max_us),
                m(|x| x.server_cpu_seconds),
                m(|x| x.generator_cpu_seconds),
            );
        }
    }
    let Some(ours) = servers.first() else {
        return;
    };
    if servers.len() < 2 {
        return;
    }
    println!(
        "\nRatios of {} (first server) to each peer, medians; `best` is the best peer (highest \
         rate, lowest latency). For latencies, below 1.00x means ours is faster.\n",
        ours.name
    );
    let mut header = String::from("| clients | metric |");
    let mut rule = String::from("|---:|---|");
    for spec in &servers[1..] {
        header += &format!(" vs {} |", spec.name);
        rule += "---:|";
    }
    println!("{header} vs best |\n{rule}---:|");
    for (c, case) in cases.iter().enumerate() {
        for (_, metric, _, f, lower_is_better) in FANOUT_METRICS {
            let our = med(samples, c, 0, f);
            let mut row = format!("| {} | {metric} |", case.clients);
            let mut best = f64::NAN;
            for s in 1..servers.len() {
                let peer = med(samples, c, s, f);
                best = if lower_is_better {
                    best.min(peer)
                } else {
                    best.max(peer)
                };
                row += &format!(" {:.2}x |", our / peer);
            }
            println!("{row} {:.2}x |", our / best);
        }
    }
}

fn fanout_charts<'a>(
    servers: &[ServerSpec],
    cases: &[fanout::Params],
    samples: &Samples<fanout::Sample>,
    rounds: usize,
) -> Vec<Chart<'a>> {
    let Some(first) = cases.first() else {
        return Vec::new();
    };
    FANOUT_METRICS
        .into_iter()
        .map(|(file, metric, y_label, f, log_scale)| Chart {
            file,
            title: format!(
                "Chat fan-out, {metric} (up to {} senders, {} messages; median of {rounds} rounds)",
                first.senders, first.messages
            ),
            x_label: "clients in the room (each message goes to all)",
            y_label,
            groups: cases
                .iter()
                .map(|c| format!("{} clients", c.clients))
                .collect(),
            servers: servers.iter().map(|s| s.name.clone()).collect(),
            values: (0..servers.len())
                .map(|s| (0..cases.len()).map(|c| med(samples, c, s, f)).collect())
                .collect(),
            log_scale,
        })
        .collect()
}
