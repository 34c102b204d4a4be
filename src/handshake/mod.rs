//! The WebSocket opening handshake (RFC 6455 §4): the HTTP/1.1 upgrade, sans-IO.
//!
//! Bytes in, values and bytes out; no sockets, no async. The IO layer reads into a reader's
//! buffer, polls it, and writes back the bytes it is handed.
//!
//! **Server side:** [`RequestReader`] reads a [`Request`] head; the application may serve plain
//! HTTP ([`http_response`]) or check `Origin` and path (refusing with its own [`Rejection`]);
//! [`Request::validate_upgrade`] applies RFC 6455 §4.2.1 and yields an [`UpgradeRequest`] whose
//! [`accept_response`](UpgradeRequest::accept_response) is the 101 to send. Every refusal is a
//! [`Rejection`] whose [`to_bytes`](Rejection::to_bytes) is the response to send before closing.
//!
//! **Client side:** [`ClientRequest`] is built from a `ws://` URL and written with
//! [`to_bytes`](ClientRequest::to_bytes); [`ResponseReader`] reads the server's answer and
//! checks it against that request (RFC 6455 §4.1), failing with a [`HandshakeError`].
//!
//! **Guarantees:** heads are capped by [`HeadLimits`] (bytes and header fields), checked as bytes
//! arrive, so a peer cannot make a reader buffer more than the limit plus one read. Each byte is
//! scanned a bounded number of times and a head is parsed once, when complete, so a head that
//! trickles in one byte at a time costs O(n), not O(n²). Bytes after the head (the first
//! WebSocket frames) are never lost: `take_remaining` hands them over. Nothing here panics on
//! peer input; functions that take application-supplied header names and values panic on ones
//! that would corrupt the response (documented under `# Panics`).

mod accept_key;
mod client_request;
mod error;
mod head_scanner;
mod header_fields;
mod limits;
mod origin;
mod rejection;
mod request;
mod request_reader;
mod response;
mod response_reader;
mod upgrade_request;
mod upgrade_response;
mod ws_uri;

pub use accept_key::{accept_key, WEBSOCKET_GUID};
pub use client_request::ClientRequest;
pub use error::HandshakeError;
pub use limits::HeadLimits;
pub use origin::{Origin, OriginParseError, OriginPolicy};
pub use rejection::Rejection;
pub use request::Request;
pub use request_reader::RequestReader;
pub use response::{http_response, reason_phrase};
pub use response_reader::ResponseReader;
pub use upgrade_request::UpgradeRequest;
pub use upgrade_response::UpgradeResponse;
