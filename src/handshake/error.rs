//! Why a client's opening handshake failed.

use std::fmt;

/// A failed client-side opening handshake: a URL this crate cannot connect to, or a server
/// response that does not complete the upgrade (RFC 6455 §4.1: the client must then
/// _Fail the WebSocket Connection_).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The URL is not a well-formed `ws://host[:port][/path][?query]`; the text says what is
    /// wrong.
    InvalidUrl(String),
    /// The URL's scheme is not `ws` or `wss` (or `wss` in a build without the `tls` feature).
    UnsupportedScheme(String),
    /// The server answered with a status other than 101.
    Rejected {
        /// The status code the server sent.
        status: u16,
        /// The reason phrase of its status line (the body is not read).
        reason: String,
    },
    /// The response head is not valid HTTP/1.1; the text says what is wrong.
    MalformedResponse(String),
    /// The response head exceeds the configured [`HeadLimits`](super::HeadLimits).
    HeadTooLarge,
    /// The 101 response lacks `Upgrade: websocket`.
    MissingUpgrade,
    /// The 101 response lacks a `Connection` header listing `Upgrade`.
    MissingConnectionUpgrade,
    /// The 101 response's `Sec-WebSocket-Accept` is missing or does not match our key.
    BadAccept,
    /// The server chose a subprotocol the client did not offer.
    UnofferedProtocol(String),
    /// The server enabled an extension the client did not offer (this client offers none).
    UnofferedExtension(String),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(detail) => write!(f, "invalid WebSocket URL: {detail}"),
            Self::UnsupportedScheme(scheme) if scheme.eq_ignore_ascii_case("wss") => write!(
                f,
                "wss:// needs TLS, which this build of wschat leaves out (the `tls` feature); \
                 use ws://, or build with the default features"
            ),
            Self::UnsupportedScheme(scheme) => {
                write!(f, "unsupported URL scheme `{scheme}`; use ws://")
            }
            Self::Rejected { status, reason } => write!(
                f,
                "the server refused the WebSocket upgrade with HTTP {status} {reason}"
            ),
            Self::MalformedResponse(detail) => {
                write!(
                    f,
                    "the server's handshake response is not valid HTTP: {detail}"
                )
            }
            Self::HeadTooLarge => write!(
                f,
                "the server's handshake response head exceeds the configured size or header limit"
            ),
            Self::MissingUpgrade => write!(
                f,
                "the server answered 101 without `Upgrade: websocket`; is it a WebSocket server?"
            ),
            Self::MissingConnectionUpgrade => write!(
                f,
                "the server answered 101 without `Connection: Upgrade`; a proxy may be in the way"
            ),
            Self::BadAccept => write!(
                f,
                "the server's Sec-WebSocket-Accept does not match our key; a proxy or cache may \
                 have answered instead of the server"
            ),
            Self::UnofferedProtocol(protocol) => write!(
                f,
                "the server selected subprotocol `{protocol}`, which this client did not offer"
            ),
            Self::UnofferedExtension(extension) => write!(
                f,
                "the server enabled extension `{extension}`, which this client did not offer"
            ),
        }
    }
}

impl std::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_tells_the_user_what_to_do() {
        let wss = HandshakeError::UnsupportedScheme("wss".into()).to_string();
        assert!(wss.contains("TLS") && wss.contains("ws://"), "{wss}");
        let rejected = HandshakeError::Rejected {
            status: 404,
            reason: "Not Found".into(),
        };
        assert_eq!(
            rejected.to_string(),
            "the server refused the WebSocket upgrade with HTTP 404 Not Found"
        );
    }
}
