//! What the server tells clients: chat events, independent of how they are written on the wire.

/// One thing a client is told, with its place in the room's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the room's single global order, assigned by the hub under its lock; `None`
    /// for replies addressed to one connection only (help, user list, errors), which are not
    /// part of the shared order.
    pub seq: Option<u64>,
    /// Server time in milliseconds since the Unix epoch; never decreases along `seq`.
    pub ts: u64,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A message to everyone.
    Message {
        /// The sender's name at the time.
        from: String,
        /// The message.
        text: String,
    },
    /// A private message; only the sender and the recipient receive it, and it is never kept in
    /// history.
    Whisper {
        /// The sender.
        from: String,
        /// The recipient.
        to: String,
        /// The message.
        text: String,
    },
    /// Someone connected.
    Join {
        /// Their name.
        name: String,
    },
    /// Someone disconnected.
    Leave {
        /// Their name.
        name: String,
    },
    /// Someone changed their name.
    Nick {
        /// The name before.
        old: String,
        /// The name after.
        new: String,
    },
    /// The greeting a new connection receives after the history replay.
    Welcome {
        /// The name the connection was given.
        you: String,
        /// Everyone connected, the newcomer included.
        users: Vec<String>,
    },
    /// Who is here (the answer to `/users`).
    Users {
        /// Names, sorted ignoring case.
        users: Vec<String>,
    },
    /// Information for one user (the answer to `/help`).
    System {
        /// The text.
        text: String,
    },
    /// A refused message or command; the connection stays open.
    Error {
        /// What went wrong and what to do instead.
        text: String,
    },
}

impl Event {
    /// An event outside the shared order, stamped with the current time.
    #[must_use]
    pub fn private(kind: EventKind) -> Self {
        Self {
            seq: None,
            ts: now_millis(),
            kind,
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
#[must_use]
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
