//! A server under test: a child process pinned to one CPU, started fresh for each measurement.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a server may take to print its start line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What to start: a name for the tables and the command line.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ServerSpec {
    /// `name=path [args..]`, e.g. `wschat=target/release/examples/echo-server`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, command) = spec
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=PATH, got {spec:?}"))?;
        let mut words = command.split_whitespace();
        let program = words.next().ok_or("empty server command")?;
        Ok(Self {
            name: name.to_owned(),
            program: program.into(),
            args: words.map(str::to_owned).collect(),
        })
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// A chat server: its start line names the `/chat` endpoint (`chat-server` and the
    /// `peer-chat-*` examples); echo servers print a bare address.
    pub chat: bool,
}

impl Server {
    /// Starts `spec` on `cpu` (via `taskset`), listening on an ephemeral loopback port, and
    /// waits for its `listening on ADDR` line (`ws://ADDR/...` is accepted too; `ws://ADDR/chat`
    /// marks a chat server).
    pub fn start(spec: &ServerSpec, cpu: Option<usize>) -> io::Result<Self> {
        let mut command = match cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(&spec.program);
                command
            }
            None => Command::new(&spec.program),
        };
        command
            .args(&spec.args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start {}: {e}", spec.program.display()),
            )
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        // The first line arrives through a thread (bounded wait), which then keeps draining
        // stdout so that a chatty server never blocks on a full pipe.
        let (first, line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut text = String::new();
            let _ = lines.read_line(&mut text);
            let _ = first.send(text);
            let mut sink = [0u8; 4096];
            while matches!(lines.read(&mut sink), Ok(n) if n > 0) {}
        });
        let line = line.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let (addr, chat) = parse_listening_line(&line).ok_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            io::Error::other(format!(
                "{}: no start line within {START_TIMEOUT:?} (got {line:?})",
                spec.name
            ))
        })?;
        Ok(Self { child, addr, chat })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address, and whether the line names a `/chat` endpoint.
fn parse_listening_line(line: &str) -> Option<(SocketAddr, bool)> {
    let rest = line.trim().strip_prefix("listening on ")?;
    let rest = rest.strip_prefix("ws://").unwrap_or(rest);
    let end = rest.find(['/', ' ']).unwrap_or(rest.len());
    let chat = rest[end..].starts_with("/chat");
    Some((rest[..end].parse().ok()?, chat))
}

#[cfg(test)]
mod tests {
    use super::parse_listening_line;

    #[test]
    fn both_banner_styles_parse() {
        assert_eq!(
            parse_listening_line("listening on 127.0.0.1:4000\n"),
            Some(("127.0.0.1:4000".parse().unwrap(), false))
        );
        assert_eq!(
            parse_listening_line("listening on ws://127.0.0.1:80/chat (web client at ...)"),
            Some(("127.0.0.1:80".parse().unwrap(), true))
        );
    }
}
