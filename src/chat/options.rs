//! The chat server's command-line options (also how tests configure a server).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::handshake::{Origin, OriginPolicy};

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
    #[arg(long, env = "CHAT_HISTORY", default_value_t = 50, value_name = "N")]
    pub history: usize,

    /// Longest chat message in bytes; a longer one is refused with an error line. Messages
    /// beyond max(64 KiB, 8 x this) are not even read: the connection is closed with 1009.
    #[arg(long, env = "CHAT_MAX_MESSAGE", default_value_t = 4096, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_message: u32,

    /// Time between keepalive pings (e.g. 30s, 500ms, 2m); 0 disables keepalive.
    #[arg(long, env = "CHAT_PING_INTERVAL", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Duration,

    /// A connection that sent nothing (not even a pong) for this long is closed.
    #[arg(long, env = "CHAT_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,

    /// Messages queued for one client before it is disconnected with 1008 (too slow).
    #[arg(long, env = "CHAT_QUEUE_MESSAGES", default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_messages: u32,

    /// Bytes queued for one client before it is disconnected with 1008 (too slow).
    #[arg(long, env = "CHAT_QUEUE_BYTES", default_value_t = 1 << 20, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_bytes: u32,

    /// Most chat connections at once. Past it, upgrades get 503 with Retry-After and everyone
    /// connected goes on undisturbed. Each connection is a file descriptor: the server raises its
    /// open-file limit to the hard limit at start and warns if that is below this plus
    /// --max-pending-handshakes plus 64.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 10_000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most chat connections from one IPv4 address or IPv6 /64 (503 past it); 0 for no cap. The
    /// default leaves room for an office or a school sharing one NAT address (a user with a
    /// few tabs open holds a few connections), while no single host can take more than 1% of
    /// the default --max-connections. Raise it if many users reach you through one proxy.
    #[arg(
        long,
        env = "CHAT_MAX_CONNECTIONS_PER_IP",
        default_value_t = 100,
        value_name = "N"
    )]
    pub max_connections_per_ip: u32,

    /// Flood control: messages (commands included) one connection may send per second on
    /// average; one over the limit is dropped and its sender gets `error: slow down: ...`.
    /// 0 turns flood control off.
    #[arg(
        long,
        env = "CHAT_RATE",
        default_value_t = 20,
        value_name = "PER_SECOND"
    )]
    pub rate: u32,

    /// Flood control: messages one connection may send at once after a pause.
    #[arg(long, env = "CHAT_BURST", default_value_t = 40, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: u32,

    /// A connection that keeps sending over the limit this long (refusals less than 1 s apart)
    /// is closed with 1008.
    #[arg(long, env = "CHAT_FLOOD_DISCONNECT_AFTER", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub flood_disconnect_after: Duration,

    /// Browser pages allowed to connect, as scheme://host[:port] (repeatable, or comma-separated
    /// in CHAT_ALLOWED_ORIGINS); others get 403. Without it, a page may connect only if its
    /// origin names the host and port it connects to (the page this server serves works,
    /// other sites' pages are refused). Clients that send no Origin (not browsers) are always
    /// allowed. `*` allows any origin (no protection against cross-site WebSocket hijacking).
    #[arg(long = "allowed-origin", env = "CHAT_ALLOWED_ORIGINS", value_delimiter = ',', value_name = "ORIGIN", value_parser = parse_allowed_origin)]
    pub allowed_origins: Vec<String>,

    /// Most connections still in their handshake (sending the request, being answered) at
    /// once; past it, new TCP connections are closed at once. Bounds the descriptors that
    /// clients who never finish (slowloris) can pin, together with --handshake-timeout.
    #[arg(long, env = "CHAT_MAX_PENDING_HANDSHAKES", default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_pending_handshakes: u32,

    /// Most handshakes in progress from one IPv4 address or IPv6 /64; 0 for no cap. A browser
    /// opens two at most (the page and the WebSocket), so one host cannot take every
    /// --max-pending-handshakes slot.
    #[arg(
        long,
        env = "CHAT_MAX_PENDING_HANDSHAKES_PER_IP",
        default_value_t = 16,
        value_name = "N"
    )]
    pub max_pending_handshakes_per_ip: u32,

    /// Serve TLS (https:// and wss://) with this certificate chain (PEM, leaf first). Needs
    /// --tls-key. SIGHUP reloads both files: new connections get the new certificate, open ones
    /// keep theirs, and a reload that fails keeps the old one (the log says why).
    #[arg(long, env = "CHAT_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key for --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "CHAT_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve /metrics (Prometheus), /healthz and /readyz over plain HTTP on this address, apart
    /// from the public port so that metrics are not exposed to the world; off by default.
    #[arg(long, env = "CHAT_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<String>,

    /// A client that has not completed its request (HTTP head or WebSocket upgrade) within this
    /// is disconnected. Heads over 8 KiB get 431.
    #[arg(long, env = "CHAT_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub handshake_timeout: Duration,
}

/// Checks an `--allowed-origin` value: `*` or an origin.
fn parse_allowed_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "*" {
        return Ok(text.to_owned());
    }
    text.parse::<Origin>()
        .map(|origin| origin.to_string())
        .map_err(|error| error.to_string())
}

impl ServerOptions {
    /// The Origin policy these options describe.
    #[must_use]
    pub fn origin_policy(&self) -> OriginPolicy {
        if self.allowed_origins.is_empty() {
            return OriginPolicy::SameHost;
        }
        if self.allowed_origins.iter().any(|origin| origin == "*") {
            return OriginPolicy::Any;
        }
        OriginPolicy::AllowList(
            self.allowed_origins
                .iter()
                .filter_map(|origin| origin.parse().ok())
                .collect(),
        )
    }
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
            max_connections: 10_000,
            max_connections_per_ip: 100,
            rate: 20,
            burst: 40,
            flood_disconnect_after: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            max_pending_handshakes: 1024,
            max_pending_handshakes_per_ip: 16,
            handshake_timeout: Duration::from_secs(10),
            tls_cert: None,
            tls_key: None,
            metrics_addr: None,
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
            "--max-connections",
            "7",
            "--max-connections-per-ip",
            "0",
            "--rate",
            "3",
            "--burst",
            "4",
            "--flood-disconnect-after",
            "2s",
            "--allowed-origin",
            "https://Chat.Example.com",
            "--allowed-origin",
            "http://localhost:3000,http://[::1]:3000",
            "--handshake-timeout",
            "500ms",
            "--max-pending-handshakes",
            "9",
            "--max-pending-handshakes-per-ip",
            "3",
        ])
        .unwrap();
        assert_eq!(options.addr, "127.0.0.1:0");
        assert_eq!(options.history, 0);
        assert_eq!(options.max_message, 10);
        assert_eq!(options.ping_interval, Duration::from_secs(1));
        assert_eq!(options.idle_timeout, Duration::from_secs(2));
        assert_eq!((options.queue_messages, options.queue_bytes), (5, 1000));
        assert_eq!(
            (options.max_connections, options.max_connections_per_ip),
            (7, 0)
        );
        assert_eq!((options.rate, options.burst), (3, 4));
        assert_eq!(options.flood_disconnect_after, Duration::from_secs(2));
        assert_eq!(options.handshake_timeout, Duration::from_millis(500));
        assert_eq!(
            (
                options.max_pending_handshakes,
                options.max_pending_handshakes_per_ip
            ),
            (9, 3)
        );
        let OriginPolicy::AllowList(origins) = options.origin_policy() else {
            panic!("an allow-list");
        };
        let origins: Vec<String> = origins.iter().map(ToString::to_string).collect();
        assert_eq!(
            origins,
            [
                "https://chat.example.com",
                "http://localhost:3000",
                "http://[::1]:3000"
            ]
        );
        assert!(ServerOptions::try_parse_from(["chat-server", "--max-message", "0"]).is_err());
    }

    #[test]
    fn origins_are_checked_when_parsed_and_star_allows_any() {
        for bad in ["null", "example.com", "http://a/path"] {
            let parsed = ServerOptions::try_parse_from(["chat-server", "--allowed-origin", bad]);
            assert!(parsed.is_err(), "{bad}");
        }
        let any = ServerOptions::try_parse_from(["chat-server", "--allowed-origin", "*"]).unwrap();
        assert_eq!(any.origin_policy(), OriginPolicy::Any);
        assert_eq!(
            ServerOptions::default().origin_policy(),
            OriginPolicy::SameHost
        );
    }
}
