//! Opening one client connection: TCP from a chosen loopback source address, then the
//! WebSocket handshake offering the JSON subprotocol.
//!
//! The chat server caps connections per source IP, so when the server is on an IPv4 loopback
//! address the clients are spread over source addresses in 127.0.0.0/8 (Linux routes the whole
//! block to `lo`): client `i` always binds to source address number `i / PER_SOURCE`. Churn only
//! replaces a client's connection after dropping the old one, so no source address holds more
//! than `PER_SOURCE` connections, plus the odd one the server has not noticed closing yet.
//!
//! The server also caps handshakes in progress (16 per address, 1024 in all by default), so
//! handshakes are limited to [`HANDSHAKES_PER_SOURCE`] at a time per source address and
//! [`HANDSHAKES`] in all: 500 clients starting at once would otherwise be refused with 503.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use wschat::chat::JSON_PROTOCOL;
use wschat::handshake::ClientRequest;
use wschat::ws::ClientStream;
use wschat::{Config, WebSocket};

/// Clients per source address: well below the server's cap per IP (about 100), and at most 50.
pub const PER_SOURCE: u32 = 40;

/// Handshakes in progress at once from one source address.
pub const HANDSHAKES_PER_SOURCE: usize = 8;

/// Handshakes in progress at once in all.
pub const HANDSHAKES: usize = 128;

/// Bound on the TCP connect and on the opening handshake, each.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on the closing handshake at the end.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Connector {
    url: String,
    /// The server's address when it is an IPv4 loopback address (connections are spread over
    /// source addresses); `None`: connect by URL from the default source address.
    loopback_v4: Option<SocketAddr>,
    handshakes: Semaphore,
    /// Per source address, when connections are spread.
    source_handshakes: Box<[Semaphore]>,
}

impl Connector {
    /// A connector for `clients` clients (numbered from 0).
    pub fn new(url: &str, clients: u32) -> Result<Self, String> {
        let request =
            ClientRequest::from_url(url).map_err(|e| format!("bad --url {url:?}: {e}"))?;
        let loopback_v4 = match request.host().parse::<Ipv4Addr>() {
            Ok(ip) if ip.is_loopback() => Some(SocketAddr::new(IpAddr::V4(ip), request.port())),
            _ => None,
        };
        let sources = if loopback_v4.is_some() {
            clients.div_ceil(PER_SOURCE)
        } else {
            0
        };
        Ok(Self {
            url: url.to_owned(),
            loopback_v4,
            handshakes: Semaphore::new(HANDSHAKES),
            source_handshakes: (0..sources)
                .map(|_| Semaphore::new(HANDSHAKES_PER_SOURCE))
                .collect(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The source address of client `client`, if connections are spread.
    pub fn source_for(&self, client: u32) -> Option<Ipv4Addr> {
        self.loopback_v4?;
        let block = client / PER_SOURCE;
        // 127.0.X.Y with X, Y in 1..=250: room for 62 500 source addresses.
        let (x, y) = (1 + block / 250, 1 + block % 250);
        Some(Ipv4Addr::new(127, 0, u8::try_from(x).ok()?, y as u8))
    }

    /// Connects client `client` (`None`: from the default source address) and performs the
    /// handshake; checks that the server chose the JSON subprotocol.
    pub async fn connect(&self, client: Option<u32>) -> Result<WebSocket<ClientStream>, String> {
        let request = ClientRequest::from_url(&self.url)
            .map_err(|e| e.to_string())?
            .with_protocols(&[JSON_PROTOCOL]);
        let config = Config::default()
            .with_handshake_timeout(CONNECT_TIMEOUT)
            .with_close_timeout(CLOSE_TIMEOUT);
        let source = client.and_then(|client| self.source_for(client));
        let _all = self.handshakes.acquire().await;
        let _this_source =
            match client.and_then(|c| self.source_handshakes.get((c / PER_SOURCE) as usize)) {
                Some(semaphore) => Some(semaphore.acquire().await),
                None => None,
            };
        let (ws, response) = match (self.loopback_v4, source) {
            (Some(server), Some(source)) => {
                let stream = connect_from(source, server).await?;
                wschat::ws::client_with_stream(ClientStream::Plain(stream), request, config).await
            }
            _ => wschat::ws::connect_with(request, config).await,
        }
        .map_err(|e| e.to_string())?;
        match response.protocol() {
            Some(JSON_PROTOCOL) => Ok(ws),
            other => Err(format!(
                "the server chose subprotocol {other:?}, not {JSON_PROTOCOL:?}"
            )),
        }
    }
}

async fn connect_from(source: Ipv4Addr, server: SocketAddr) -> Result<TcpStream, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .map_err(|e| format!("bind to {source}: {e}"))?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(server))
        .await
        .map_err(|_| format!("TCP connect from {source} timed out"))?
        .map_err(|e| format!("TCP connect from {source}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_spread_over_loopback_sources_only_for_loopback_servers() {
        let connector = Connector::new("ws://127.0.0.1:9000/chat", 100).unwrap();
        assert_eq!(connector.source_for(0), Some(Ipv4Addr::new(127, 0, 1, 1)));
        assert_eq!(
            connector.source_for(PER_SOURCE - 1),
            Some(Ipv4Addr::new(127, 0, 1, 1))
        );
        assert_eq!(
            connector.source_for(PER_SOURCE),
            Some(Ipv4Addr::new(127, 0, 1, 2))
        );
        assert_eq!(
            connector.source_for(PER_SOURCE * 250),
            Some(Ipv4Addr::new(127, 0, 2, 1))
        );
        let remote = Connector::new("ws://localhost:9000/chat", 100).unwrap();
        assert_eq!(remote.source_for(0), None);
        assert!(Connector::new("http://x", 1).is_err());
    }
}
