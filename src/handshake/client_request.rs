//! The client's opening handshake request (RFC 6455 §4.1).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::response::{assert_header, is_token, write_header};
use super::ws_uri::WsUri;
use super::HandshakeError;

/// The upgrade request a client sends, built from a `ws://` URL.
///
/// Each request carries a fresh random `Sec-WebSocket-Key`, so build a new one per connection
/// attempt. Keep it until the response arrives: [`ResponseReader`](super::ResponseReader)
/// checks the server's answer against it.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    uri: WsUri,
    key: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// A request for `url`, `ws[s]://host[:port][/path][?query]`: port 80 (`ws`) or 443 (`wss`)
    /// and path `/` by default, IPv6 literals in brackets (`ws://[::1]:9001/x`).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnsupportedScheme`] for a scheme other than `ws` and `wss`;
    /// [`HandshakeError::InvalidUrl`] for a malformed URL.
    pub fn from_url(url: &str) -> Result<Self, HandshakeError> {
        Ok(Self {
            uri: WsUri::parse(url)?,
            key: STANDARD.encode(rand::random::<[u8; 16]>()),
            protocols: Vec::new(),
            headers: Vec::new(),
        })
    }

    /// Offers `protocols` as `Sec-WebSocket-Protocol: a, b`, most preferred first; replaces any
    /// earlier offer.
    ///
    /// # Panics
    ///
    /// If a protocol is not an HTTP token (empty, or with spaces, commas or controls).
    #[must_use]
    pub fn with_protocols(mut self, protocols: &[&str]) -> Self {
        for protocol in protocols {
            assert!(is_token(protocol), "invalid subprotocol name {protocol:?}");
        }
        self.protocols = protocols
            .iter()
            .map(|&protocol| protocol.to_owned())
            .collect();
        self
    }

    /// Adds a header field, e.g. `Origin` or `Authorization`. The handshake's own fields (`Host`,
    /// `Upgrade`, `Connection`, `Sec-WebSocket-*`) are written already; repeating them makes the
    /// server refuse the request.
    ///
    /// # Panics
    ///
    /// If `name` is not an HTTP token or `value` contains a control character other than tab.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        assert_header(name, value);
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The host to connect to: a name or IP address, IPv6 without brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.uri.host
    }

    /// Whether the URL was `wss://`: the connection must run over TLS, verifying
    /// [`host`](Self::host).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.uri.secure
    }

    /// The port to connect to.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.uri.port
    }

    /// The path and query sent in the request line, e.g. `/chat?room=1`.
    #[must_use]
    pub fn resource_name(&self) -> &str {
        &self.uri.resource_name
    }

    /// The `Sec-WebSocket-Key` sent: base64 of 16 random bytes.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols offered, most preferred first.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.protocols.iter().map(String::as_str)
    }

    /// The request head to write to the server.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.uri.resource_name.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_header(&mut out, "Host", &self.uri.host_header);
        write_header(&mut out, "Upgrade", "websocket");
        write_header(&mut out, "Connection", "Upgrade");
        write_header(&mut out, "Sec-WebSocket-Key", &self.key);
        write_header(&mut out, "Sec-WebSocket-Version", "13");
        if !self.protocols.is_empty() {
            write_header(
                &mut out,
                "Sec-WebSocket-Protocol",
                &self.protocols.join(", "),
            );
        }
        for (name, value) in &self.headers {
            write_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Replaces the random key, for tests that need a known accept value.
    #[cfg(test)]
    pub(crate) fn with_key(mut self, key: &str) -> Self {
        self.key = key.to_owned();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{HeadLimits, RequestReader};

    #[test]
    fn request_bytes_match_rfc_shape() {
        let request = ClientRequest::from_url("ws://server.example.com:9001/chat?x=1")
            .unwrap()
            .with_key("dGhlIHNhbXBsZSBub25jZQ==")
            .with_protocols(&["chat", "superchat"])
            .with_header("Origin", "http://example.com");
        assert_eq!(
            String::from_utf8(request.to_bytes()).unwrap(),
            "GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com:9001\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
             Origin: http://example.com\r\n\r\n"
        );
    }

    #[test]
    fn connection_target_comes_from_url() {
        let request = ClientRequest::from_url("ws://[::1]:9001/x").unwrap();
        assert_eq!((request.host(), request.port()), ("::1", 9001));
        assert_eq!(request.resource_name(), "/x");
    }

    #[test]
    fn each_request_has_a_fresh_16_byte_key() {
        let first = ClientRequest::from_url("ws://h/").unwrap();
        let second = ClientRequest::from_url("ws://h/").unwrap();
        assert_ne!(first.key(), second.key());
        assert_eq!(STANDARD.decode(first.key()).unwrap().len(), 16);
    }

    #[test]
    fn wss_is_secure_and_other_schemes_unsupported() {
        let request = ClientRequest::from_url("wss://example.com/").unwrap();
        assert!(request.is_secure());
        assert_eq!(request.port(), 443);
        assert!(!ClientRequest::from_url("ws://example.com/")
            .unwrap()
            .is_secure());
        assert!(matches!(
            ClientRequest::from_url("https://example.com/"),
            Err(HandshakeError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn client_request_round_trips_through_server_validation() {
        let client = ClientRequest::from_url("ws://example.com:8080/chat?room=1")
            .unwrap()
            .with_protocols(&["v1", "v2"])
            .with_header("Origin", "http://example.com");
        let request = RequestReader::new(HeadLimits::default())
            .feed(&client.to_bytes())
            .unwrap()
            .unwrap();
        let upgrade = request.validate_upgrade().unwrap();
        assert_eq!(upgrade.key(), client.key());
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("room=1"));
        assert_eq!(request.header_str("Host"), Some("example.com:8080"));
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(
            request.offered_protocols().collect::<Vec<_>>(),
            ["v1", "v2"]
        );
    }

    #[test]
    #[should_panic(expected = "invalid subprotocol name")]
    fn protocol_with_comma_is_refused() {
        let _ = ClientRequest::from_url("ws://h/")
            .unwrap()
            .with_protocols(&["a,b"]);
    }
}
