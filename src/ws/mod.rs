//! The async layer: a thin shell that moves bytes between a tokio stream and the sans-IO
//! [`crate::protocol::Connection`], plus the opening handshake over a stream.

mod accept;
mod client_stream;
mod connect;
mod split;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
mod websocket;

pub use accept::{accept, accept_with, IncomingRequest};
pub use client_stream::ClientStream;
#[cfg(feature = "tls")]
pub use connect::connect_tls_with;
pub use connect::{client_with_stream, connect, connect_with};
pub use split::{WsReader, WsWriter};
pub use websocket::WebSocket;
