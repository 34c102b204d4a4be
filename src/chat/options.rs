//! The chat server's command-line options (also how tests configure a server).

use std::time::Duration;

use clap::Parser;

/// Chat server: a WebSocket endpoint at /chat and a browser client at /.
///
/// Plain WebSocket clients (chat-client, websocat, a browser console) get plain text lines;
/// clients offering the `wschat.v1.json` subprotocol get JSON objects. Set RUST_LOG (e.g.
/// `RUST_LOG=debug`) to change the log level; logs go to stderr.
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(name = "chat-server", version)]
pub struct ServerOptions {
    /// Address to listen on; port 0 picks a free port (the line printed at start shows it).
    #[arg(long, env = "CHAT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,

    /// Number of recent messages replayed to a newcomer before the greeting (at most what fills
    /// half of its queue); 0 turns history off. Whispers are never kept.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub history: usize,

    /// Longest chat message in bytes; a longer one is refused with an error line. Messages
    /// beyond max(64 KiB, 8 x this) are not even read: the connection is closed with 1009.
    #[arg(long, default_value_t = 4096, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_message: u32,

    /// Time between keepalive pings (e.g. 30s, 500ms, 2m); 0 disables keepalive.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Duration,

    /// A connection that sent nothing (not even a pong) for this long is closed.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,

    /// Messages queued for one client before it is disconnected with 1008 (too slow).
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_messages: u32,

    /// Bytes queued for one client before it is disconnected with 1008 (too slow).
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_bytes: u32,
}

impl Default for ServerOptions {
    /// The defaults documented in `--help`, ignoring the environment.
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".to_owned(),
            history: 50,
            max_message: 4096,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            queue_messages: 1024,
            queue_bytes: 1 << 20,
        }
    }
}

/// Parses `30`, `30s`, `1.5s`, `500ms` or `2m` (a bare number is seconds).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(format!("unknown unit in {text:?}; use ms, s or m")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration like 30s or 500ms, got {text:?}"))?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("{text:?} is not a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let parsed = ServerOptions::try_parse_from(["chat-server", "--addr", "127.0.0.1:8080"]);
        assert_eq!(parsed.unwrap(), ServerOptions::default());
    }

    #[test]
    fn durations_accept_ms_s_m_and_bare_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn every_option_is_settable_from_the_command_line() {
        let options = ServerOptions::try_parse_from([
            "chat-server",
            "--addr",
            "127.0.0.1:0",
            "--history",
            "0",
            "--max-message",
            "10",
            "--ping-interval",
            "1s",
            "--idle-timeout",
            "2s",
            "--queue-messages",
            "5",
            "--queue-bytes",
            "1000",
        ])
        .unwrap();
        assert_eq!(options.addr, "127.0.0.1:0");
        assert_eq!(options.history, 0);
        assert_eq!(options.max_message, 10);
        assert_eq!(options.ping_interval, Duration::from_secs(1));
        assert_eq!(options.idle_timeout, Duration::from_secs(2));
        assert_eq!((options.queue_messages, options.queue_bytes), (5, 1000));
        assert!(ServerOptions::try_parse_from(["chat-server", "--max-message", "0"]).is_err());
    }
}
