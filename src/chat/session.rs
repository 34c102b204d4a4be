//! One connection's life in the room, from subscription to the end of the closing handshake.
//!
//! A session is two tasks over the halves of a [`WebSocket`]:
//! - the **reader** (the session task itself) turns what the user sends into hub calls and
//!   replies, and watches for the end: the peer's close, an error, a close request in the
//!   outbox, or server shutdown;
//! - the **writer** drains the connection's [`Outbox`] with `feed_encoded_all` and flushes once per
//!   batch, and sends the close frame when one is requested.
//!
//! However it ends, the session leaves the hub as soon as its end is known (so others see
//! `name left` promptly), waits at most `close_grace` for the closing handshake to finish, and
//! never blocks the hub: a client that does not read only fills its own bounded outbox.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::commands::{self, Command, Input, HELP};
use super::event::{Event, EventKind};
use super::flood_control::{FloodControl, FloodLimits, Verdict};
use super::hub::{Hub, MemberId, Post, Subscriber};
use super::metrics::ChatMetrics;
use super::outbox::{Next, Outbox, OutboxLimits};
use super::wire::{self, Submission, WireFormat};
use crate::error::Error;
use crate::frame::{CloseCode, CloseFrame};
use crate::protocol::{EncodedFrame, Message};
use crate::ws::{WebSocket, WsWriter};

/// Frames taken from the outbox per write; bounds what sits outside the outbox's accounting.
const MAX_BATCH: usize = 256;

/// Per-connection chat limits and timings.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Longest chat text accepted, in bytes; longer ones get an error line.
    pub max_message: usize,
    /// Bounds of the outbound queue.
    pub outbox: OutboxLimits,
    /// How long to wait for the closing handshake once the end is decided.
    pub close_grace: Duration,
    /// Flood control; `None` for none.
    pub flood: Option<FloodLimits>,
    /// Where the session counts what happens.
    pub metrics: Arc<ChatMetrics>,
}

/// Runs a session over an accepted connection until it is closed. `shutdown` turning true (or
/// its sender going away) closes the connection with 1001.
pub async fn run<S>(
    ws: WebSocket<S>,
    peer: SocketAddr,
    format: WireFormat,
    hub: Arc<dyn Hub>,
    settings: SessionSettings,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, writer) = ws.split();
    let outbox = Arc::new(Outbox::with_metrics(
        settings.outbox,
        Arc::clone(&settings.metrics),
    ));
    let membership = hub.subscribe(Subscriber {
        outbox: Arc::clone(&outbox),
        format,
    });
    info!(%peer, name = %membership.name, ?format, "connected");
    let writer_task = tokio::spawn(write_loop(writer, Arc::clone(&outbox)));
    let mut session = Session {
        hub,
        member: Some(membership.id),
        name: membership.name,
        peer,
        outbox: Arc::clone(&outbox),
        format,
        max_message: settings.max_message,
        flood: settings
            .flood
            .map(|limits| FloodControl::new(limits, Instant::now().into_std())),
        metrics: Arc::clone(&settings.metrics),
    };

    let mut shutdown_seen = false;
    let mut close_deadline: Option<Instant> = None;
    let mut peer_close: Option<Option<CloseFrame>> = None;
    let mut failure: Option<Error> = None;
    loop {
        let deadline = async move {
            match close_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown), if !shutdown_seen => {
                shutdown_seen = true;
                outbox.request_close(CloseCode::GOING_AWAY, "server shutting down");
            }
            () = outbox.closing(), if close_deadline.is_none() => {
                if let Some(close) = outbox.close_request() {
                    if close.code == CloseCode::POLICY_VIOLATION {
                        warn!(%peer, name = %session.name, reason = %close.reason, "closing the connection");
                    }
                }
                session.leave();
                close_deadline = Some(Instant::now() + settings.close_grace);
            }
            () = deadline => {
                debug!(%peer, name = %session.name, "closing handshake timed out");
                break;
            }
            message = reader.recv() => match message {
                None => break,
                Some(Ok(Message::Text(text))) => {
                    if !outbox.is_closing() {
                        session.handle_text(text.as_str());
                    }
                }
                Some(Ok(Message::Binary(_))) => outbox.request_close(
                    CloseCode::UNSUPPORTED_DATA,
                    "binary messages are not supported; send text",
                ),
                Some(Ok(Message::Close(frame))) => {
                    peer_close = Some(frame);
                    session.leave();
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(error)) => {
                    session.leave();
                    failure.get_or_insert(error);
                }
            },
        }
    }
    session.leave();
    writer_task.abort();
    let code = log_end(
        peer,
        &session.name,
        outbox.close_request().map(|c| (c.code, c.reason)),
        peer_close,
        failure,
    );
    settings.metrics.disconnected(code);
}

/// Logs how the connection ended: who closed it and with which code; returns the code (1006
/// when no close frame was exchanged, 1005 for a close frame without one).
fn log_end(
    peer: SocketAddr,
    name: &str,
    ours: Option<(CloseCode, String)>,
    theirs: Option<Option<CloseFrame>>,
    failure: Option<Error>,
) -> u16 {
    if let Some(Error::Protocol(violation)) = &failure {
        let code = violation.close_code().as_u16();
        info!(%peer, name, code, reason = %violation, by = "server", "disconnected");
        return code;
    }
    if let Some((code, reason)) = ours {
        info!(%peer, name, code = code.as_u16(), reason = %reason, by = "server", "disconnected");
        return code.as_u16();
    }
    match (theirs, failure) {
        (Some(Some(frame)), _) => {
            info!(%peer, name, code = frame.code.as_u16(), reason = %frame.reason, by = "client", "disconnected");
            frame.code.as_u16()
        }
        (Some(None), _) => {
            info!(%peer, name, code = 1005, by = "client", "disconnected");
            1005
        }
        (None, Some(Error::KeepaliveTimeout)) => {
            info!(%peer, name, code = 1001, reason = "keepalive timeout", by = "server", "disconnected");
            1001
        }
        (None, Some(error)) => {
            info!(%peer, name, code = 1006, reason = %error, "disconnected");
            1006
        }
        (None, None) => {
            info!(%peer, name, code = 1006, "disconnected");
            1006
        }
    }
}

async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    // A dropped sender means the server is gone: treat it as shutdown too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Drains `outbox` into the connection until a close is requested (or writing fails).
async fn write_loop<S>(mut writer: WsWriter<S>, outbox: Arc<Outbox>) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match outbox.next(MAX_BATCH).await {
            Next::Frames(frames) => {
                // A close request interrupts a write that cannot progress (a client that stopped
                // reading), so the close frame is queued at once; frames not yet handed to the
                // connection are dropped then.
                tokio::select! {
                    biased;
                    written = write_batch(&mut writer, &frames) => {
                        written?;
                        outbox.written();
                    }
                    () = outbox.closing() => {}
                }
            }
            Next::Close(close) => return writer.close(close.code, &close.reason).await,
        }
    }
}

async fn write_batch<S>(writer: &mut WsWriter<S>, frames: &[EncodedFrame]) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    writer.feed_encoded_all(frames).await?;
    writer.flush().await
}

/// The reader's view of its member.
struct Session {
    hub: Arc<dyn Hub>,
    /// `None` once unsubscribed.
    member: Option<MemberId>,
    name: String,
    peer: SocketAddr,
    outbox: Arc<Outbox>,
    format: WireFormat,
    max_message: usize,
    flood: Option<FloodControl>,
    metrics: Arc<ChatMetrics>,
}

impl Session {
    fn leave(&mut self) {
        if let Some(member) = self.member.take() {
            self.hub.unsubscribe(member);
        }
    }

    /// Acts on one text message from the user.
    fn handle_text(&mut self, text: &str) {
        if !self.within_flood_limit() {
            return;
        }
        let submission = match wire::decode(text, self.format) {
            Ok(submission) => submission,
            Err(error) => return self.reply_error(error.to_string()),
        };
        let typed = submission.text();
        if typed.len() > self.max_message {
            return self.reply_error(format!(
                "message not sent: it has {} bytes and the limit is {}",
                typed.len(),
                self.max_message
            ));
        }
        let input = match &submission {
            Submission::Line(line) => commands::parse_line(line),
            Submission::Message(text) if text.trim().is_empty() => Ok(Input::Nothing),
            Submission::Message(text) => Ok(Input::Message(text)),
            Submission::Command(command) => commands::parse_command(command).map(Input::Command),
        };
        match input {
            Ok(Input::Nothing) => {}
            Ok(Input::Message(text)) => self.post(Post::Message(text)),
            Ok(Input::Command(command)) => self.run_command(command),
            Err(error) => self.reply_error(error.to_string()),
        }
    }

    /// Takes a flood-control token; on refusal tells the user, or closes a persistent flooder.
    fn within_flood_limit(&mut self) -> bool {
        let Some(flood) = &mut self.flood else {
            return true;
        };
        let limits = flood.limits();
        let verdict = flood.check(Instant::now().into_std());
        if verdict != Verdict::Allowed {
            self.metrics.messages_throttled.inc();
        }
        match verdict {
            Verdict::Allowed => true,
            Verdict::Refused => {
                self.reply_error(format!(
                    "slow down: you can send {} messages per second ({} at once); this one was \
                     not sent",
                    limits.rate, limits.burst
                ));
                false
            }
            Verdict::Disconnect => {
                self.outbox.request_close(
                    CloseCode::POLICY_VIOLATION,
                    &format!(
                        "flooding: over {} messages per second for {} s",
                        limits.rate,
                        limits.disconnect_after.as_secs()
                    ),
                );
                false
            }
        }
    }

    fn run_command(&mut self, command: Command<'_>) {
        match command {
            Command::Nick(name) => {
                let Some(member) = self.member else { return };
                match self.hub.rename(member, name) {
                    Ok(old) => {
                        if old != name {
                            info!(peer = %self.peer, old = %old, new = %name, "renamed");
                        }
                        name.clone_into(&mut self.name);
                    }
                    Err(error) => self.reply_error(error.to_string()),
                }
            }
            Command::Whisper { to, text } => self.post(Post::Whisper { to, text }),
            Command::Users => self.reply(EventKind::Users {
                users: self.hub.users(),
            }),
            Command::Help => self.reply(EventKind::System {
                text: HELP.to_owned(),
            }),
        }
    }

    fn post(&mut self, post: Post<'_>) {
        let Some(member) = self.member else { return };
        match self.hub.publish(member, post) {
            Ok(()) => {
                self.metrics.messages_received.inc();
            }
            Err(error) => self.reply_error(error.to_string()),
        }
    }

    fn reply_error(&mut self, text: String) {
        self.reply(EventKind::Error { text });
    }

    /// Sends an event to this user only.
    fn reply(&mut self, kind: EventKind) {
        let line = wire::encode(&Event::private(kind), self.format);
        // An overflow requests the close that ends this session.
        let _ = self.outbox.push(EncodedFrame::text(&line));
    }
}
