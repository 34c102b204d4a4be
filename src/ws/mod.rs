//! The async layer: a thin shell that moves bytes between a tokio stream and the sans-IO
//! [`crate::protocol::Connection`], plus the opening handshake over a stream.

mod accept;
mod connect;
mod split;
mod transport;
mod websocket;

pub use accept::{accept, accept_with, IncomingRequest};
pub use connect::{client_with_stream, connect, connect_with};
pub use split::{WsReader, WsWriter};
pub use websocket::WebSocket;
