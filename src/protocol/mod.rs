//! The connection state machine, sans-IO: bytes and time in; messages, bytes to write and timer
//! deadlines out. See [`Connection`].

mod config;
mod connection;
#[cfg(test)]
mod connection_tests;
mod encoded_frame;
mod keepalive;
mod message;
mod outgoing;
mod utf8;

pub use config::{Config, Keepalive};
pub use connection::Connection;
pub use encoded_frame::EncodedFrame;
pub use message::{Message, Text};
pub use utf8::Utf8Validator;
