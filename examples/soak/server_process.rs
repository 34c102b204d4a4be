//! The chat server under test as a child process: finding (or building) the binary, starting it
//! on an ephemeral loopback port, reading its resources from /proc, and stopping it with
//! SIGTERM like an operator would.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the server may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take to exit after SIGTERM (it waits up to 5 s for close frames).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The default binary: `chat-server` in the profile directory this example was built into
/// (`target/<profile>/examples/soak` -> `target/<profile>/chat-server`). Cargo does not build
/// binaries for `cargo run --example`, so a missing one is built here with the same profile and
/// target directory.
pub fn default_server_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected executable location {}", exe.display()))?;
    let bin = profile_dir.join(format!("chat-server{}", std::env::consts::EXE_SUFFIX));
    if bin.exists() {
        return Ok(bin);
    }
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("debug");
    let target_dir = profile_dir.parent().unwrap_or(profile_dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(&cargo);
    build.args(["build", "--bin", "chat-server"]);
    match profile {
        "debug" => {}
        "release" => {
            build.arg("--release");
        }
        other => {
            build.args(["--profile", other]);
        }
    }
    build
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        // Keep stdout for the verdict line alone.
        .stdout(Stdio::from(std::io::stderr()));
    eprintln!(
        "soak: {} does not exist; building it: {cargo} build --bin chat-server{}",
        bin.display(),
        match profile {
            "debug" => String::new(),
            "release" => " --release".to_owned(),
            other => format!(" --profile {other}"),
        }
    );
    let status = build
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!("building chat-server failed ({status})"));
    }
    if !bin.exists() {
        return Err(format!("the build did not produce {}", bin.display()));
    }
    Ok(bin)
}

/// A running server; killed when dropped if not stopped before.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    /// Where its stderr goes, unless inherited.
    pub log: Option<PathBuf>,
}

impl ServerProcess {
    /// Starts `program --addr 127.0.0.1:0 ARGS..` and waits for its first stdout line,
    /// `listening on ws://ADDR/chat (web client at http://ADDR/)`. Stderr goes to a log file,
    /// or to ours with `verbose`.
    pub fn start(program: &Path, args: &[String], verbose: bool) -> Result<Self, String> {
        let (stderr, log) = if verbose {
            (Stdio::inherit(), None)
        } else {
            let path =
                std::env::temp_dir().join(format!("soak-chat-server-{}.log", std::process::id()));
            let file = File::create(&path)
                .map_err(|e| format!("cannot create the server log {}: {e}", path.display()))?;
            (Stdio::from(file), Some(path))
        };
        let mut child = Command::new(program)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (first_line, line_rx) = mpsc::channel();
        // Read the first line, then keep draining so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = first_line.send(line);
            let mut sink = [0u8; 4096];
            while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
        });
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let see_log = server
            .log
            .as_ref()
            .map(|log| format!(" (its log: {})", log.display()))
            .unwrap_or_default();
        let line = line_rx.recv_timeout(START_TIMEOUT).map_err(|_| {
            format!(
                "{} printed nothing within {START_TIMEOUT:?}{see_log}",
                program.display()
            )
        })?;
        server.addr = parse_listening_line(&line).ok_or_else(|| {
            format!(
                "{}: unexpected first line {line:?}{see_log}",
                program.display()
            )
        })?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Open file descriptors (entries of /proc/PID/fd).
    pub fn fd_count(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .ok()
            .map(Iterator::count)
    }

    /// Polls the fd count until it is back at `start` (or below), for at most `timeout`;
    /// returns the last count.
    pub fn settled_fd_count(&self, start: Option<usize>, timeout: Duration) -> Option<usize> {
        let give_up = Instant::now() + timeout;
        loop {
            let count = self.fd_count();
            if Instant::now() >= give_up || matches!((count, start), (Some(c), Some(s)) if c <= s) {
                return count;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server has exited already (and how).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM (through `kill`), waits for the exit, kills after [`STOP_TIMEOUT`].
    pub fn stop(mut self) -> Result<ExitStatus, String> {
        if let Some(status) = self.exited() {
            return Err(format!("the server had already exited ({status})"));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let give_up = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < give_up {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "the server did not exit within {STOP_TIMEOUT:?} of SIGTERM and was killed"
        ))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// ADDR from `listening on ws://ADDR/chat (web client at http://ADDR/)`.
fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("listening on ws://")?;
    let end = rest.find(['/', ' ']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_listening_line;

    #[test]
    fn the_banner_gives_the_address() {
        assert_eq!(
            parse_listening_line(
                "listening on ws://127.0.0.1:4321/chat (web client at http://127.0.0.1:4321/)\n"
            ),
            Some("127.0.0.1:4321".parse().unwrap())
        );
        assert_eq!(parse_listening_line("hello"), None);
    }
}
