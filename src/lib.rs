//! wschat: an RFC 6455 WebSocket stack written from scratch, with a chat application on top.
//!
//! The protocol core is sans-IO: [`frame`], [`handshake`] and [`protocol`] take bytes (and, for
//! timers, "now") and hand back bytes to write and events, so that tests, fuzzers and benchmarks
//! drive them directly. [`ws`] is the thin async layer that moves bytes between a tokio stream and
//! the core. [`chat`] is an application of the public WebSocket API.
// The one exception, with its safety argument, is the AVX2 masking path in `frame/mask.rs`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod chat;
pub mod frame;
pub mod handshake;
pub mod protocol;
pub mod ws;

mod error;

pub use error::{Error, ProtocolError};
pub use frame::{CloseCode, CloseFrame, Role};
pub use protocol::{Config, Message, Text};
pub use ws::{accept, connect, WebSocket};
