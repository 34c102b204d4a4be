//! chat-server as a child process: started with chosen arguments (and, through the shell, chosen
//! open-file limits), its start line parsed, its logs collected as it runs, its resources read
//! from /proc.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::within;

/// A running chat-server process.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Started with `--tls-cert`: the start line said wss.
    pub secure: bool,
    /// The operations listener, with `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    pub pid: u32,
    logs: Arc<Mutex<String>>,
    drain: JoinHandle<()>,
}

impl ServerProcess {
    /// Starts the binary with `args` and `env` (RUST_LOG unset unless `env` sets it), on
    /// 127.0.0.1 and a free port unless they choose an address.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with_fd_limit(None, args, env).await
    }

    /// Starts it through `sh -c 'ulimit ...; exec chat-server ...'`, so it begins with the
    /// given `(soft, hard)` open-file limits.
    pub async fn start_with_fd_limit(
        limit: Option<(u64, u64)>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let binary = env!("CARGO_BIN_EXE_chat-server");
        let mut command = match limit {
            Some((soft, hard)) => {
                let mut command = Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!(
                        "ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" \"$@\""
                    ))
                    .arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let chooses_address =
            args.contains(&"--addr") || env.iter().any(|(k, _)| *k == "CHAT_ADDR");
        if !chooses_address {
            command.args(["--addr", "127.0.0.1:0"]);
        }
        let mut child = command
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chat-server starts");
        let pid = child.id().expect("running");
        // Collect the logs as they come, so a chatty server never blocks on a full pipe.
        let logs = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&logs);
        let drain = tokio::spawn(async move {
            let mut chunk = vec![0; 16 << 10];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = within("the start line", stdout.next_line())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no start line; logs: {}", logs.lock().unwrap()));
        let (secure, rest) = match line.strip_prefix("listening on wss://") {
            Some(rest) => (true, Some(rest)),
            None => (false, line.strip_prefix("listening on ws://")),
        };
        let addr: SocketAddr = rest
            .and_then(|rest| rest.split_once("/chat"))
            .map(|(addr, _)| addr.parse().unwrap())
            .unwrap_or_else(|| panic!("unexpected start line: {line}"));
        let (ws, http) = if secure {
            ("wss", "https")
        } else {
            ("ws", "http")
        };
        assert_eq!(
            line,
            format!("listening on {ws}://{addr}/chat (web client at {http}://{addr}/)")
        );
        assert_ne!(addr.port(), 0, "the real port is printed");
        let metrics_addr = if args.contains(&"--metrics-addr") {
            let line = within("the metrics line", stdout.next_line())
                .await
                .unwrap()
                .expect("a metrics line");
            let addr = line
                .strip_prefix("metrics on http://")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .and_then(|addr| addr.parse().ok())
                .unwrap_or_else(|| panic!("unexpected metrics line: {line}"));
            Some(addr)
        } else {
            None
        };
        Self {
            child,
            addr,
            secure,
            metrics_addr,
            pid,
            logs,
            drain,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}/chat", self.addr)
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Sends a signal (`TERM`, `INT`, ...).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for exit; returns the exit code and the logs.
    pub async fn exit(mut self) -> (i32, String) {
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("the server exits in time")
            .unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.drain).await;
        (status.code().unwrap_or(-1), self.logs())
    }

    /// Open file descriptors, from /proc/PID/fd.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .expect("/proc/PID/fd")
            .count()
    }

    /// Resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// A `/proc/PID/status` field in KiB.
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// The `Max open files` soft and hard limits from /proc/PID/limits.
    pub fn fd_limits(&self) -> (u64, u64) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid)).unwrap();
        let line = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .expect("a Max open files line");
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect();
        (numbers[0], numbers[1])
    }
}
