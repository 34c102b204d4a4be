//! The chat application: a room where every connected user sees every message, in one order.
//!
//! Built only on the crate's public WebSocket API ([`crate::ws`]), as any user of the library
//! would. The pieces, one concept each:
//! - [`hub`]: the room behind a small interface (subscribe, publish, presence, history), with
//!   [`LocalHub`] as the in-process implementation;
//! - [`session`]: one connection's lifecycle (reader task, writer task, closing);
//! - [`outbox`]: each connection's bounded outbound queue of pre-encoded frames;
//! - [`commands`]: parsing `/nick`, `/whisper`, `/users`, `/help` (pure);
//! - [`wire`]: the plain-text and JSON formats, in one place;
//! - [`names`]: `userN` allocation and nick rules;
//! - [`web`]: the embedded browser client and HTTP routing;
//! - [`server`]: the accept loop and graceful shutdown; [`options`]: its command line;
//! - the defences of a public server: [`admission`] (connection caps), [`flood_control`]
//!   (per-connection rate limit), the Origin check ([`crate::handshake::OriginPolicy`]),
//!   [`fd_limit`] (the open-file limit) and [`log_throttle`] (logs an attacker cannot flood).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use wschat::chat::{ChatServer, ServerOptions};
//!
//! let options = ServerOptions { addr: "127.0.0.1:0".into(), ..ServerOptions::default() };
//! let server = ChatServer::bind(&options).await?;
//! println!("{}", wschat::chat::banner(server.local_addr()?, server.is_secure()));
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod admission;
pub mod commands;
mod connection;
pub mod event;
pub mod fd_limit;
pub mod flood_control;
pub mod hub;
pub mod local_hub;
pub mod log_throttle;
pub mod metrics;
pub mod names;
pub mod ops;
pub mod options;
pub mod outbox;
pub mod server;
pub mod session;
#[cfg(feature = "tls")]
pub mod tls;
pub mod web;
pub mod wire;

pub use hub::{Hub, HubError, MemberId, Membership, Post, Subscriber};
pub use local_hub::LocalHub;
pub use options::ServerOptions;
pub use server::{banner, ChatServer, ConnectionCount, SHUTDOWN_GRACE};
pub use wire::{WireFormat, JSON_PROTOCOL};
