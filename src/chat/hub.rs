//! The room: who is here, and who receives what, behind a small interface.
//!
//! Sessions only talk to a [`Hub`]: they subscribe a [`Subscriber`] (an outbox and a wire
//! format), publish what their user says, and ask about presence. Delivery is a push of
//! pre-encoded frames into subscribers' outboxes, which never blocks, so a hub backed by an
//! external pub/sub system can implement the same trait and deliver the events it receives from
//! other servers the same way, without any change to sessions. [`LocalHub`](super::LocalHub) is
//! the in-process implementation.
//!
//! Every hub guarantees:
//! - one global order: events get increasing sequence numbers, and every subscriber receives
//!   the events addressed to it in that order, with none missing while it stays subscribed
//!   (unless its outbox overflows, which ends its connection);
//! - history: a new subscriber receives the most recent messages (never whispers) before its
//!   greeting, and nothing twice;
//! - unique names: concurrent subscriptions and renames never produce two users with the same
//!   name (ignoring case).

use std::fmt;
use std::sync::Arc;

use super::names::NameError;
use super::outbox::Outbox;
use super::wire::WireFormat;

/// A subscription handle, unique for the lifetime of the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

/// Where a member's events go, and how to encode them.
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// The member's outbound queue.
    pub outbox: Arc<Outbox>,
    /// The member's wire format.
    pub format: WireFormat,
}

/// A subscribed member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The handle for later calls.
    pub id: MemberId,
    /// The name the member was given.
    pub name: String,
}

/// What a member says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Post<'a> {
    /// To everyone, kept in history.
    Message(&'a str),
    /// To one user (and the sender); never kept in history.
    Whisper {
        /// Recipient's name (ignoring case).
        to: &'a str,
        /// The message.
        text: &'a str,
    },
}

/// A request the hub refused; its text is meant for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubError {
    /// The requested name is invalid or taken.
    Name(NameError),
    /// Nobody here has that name.
    NoSuchUser(String),
    /// The member is not (or no longer) subscribed.
    NotSubscribed,
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(e) => e.fmt(f),
            Self::NoSuchUser(name) => write!(f, "nobody called {name} is here; try /users"),
            Self::NotSubscribed => f.write_str("you are not in the room"),
        }
    }
}

impl std::error::Error for HubError {}

impl From<NameError> for HubError {
    fn from(e: NameError) -> Self {
        Self::Name(e)
    }
}

/// The room's interface; see the module documentation for the guarantees.
pub trait Hub: Send + Sync + 'static {
    /// Subscribes a new member under a fresh `userN` name: delivers the history, then the
    /// greeting (with the number of users, the newcomer included), then announces the join to
    /// everyone else.
    fn subscribe(&self, subscriber: Subscriber) -> Membership;

    /// Removes a member and announces that it left. Unknown ids are ignored.
    fn unsubscribe(&self, member: MemberId);

    /// Delivers what a member said.
    ///
    /// # Errors
    /// [`HubError::NoSuchUser`] for a whisper to an unknown name; [`HubError::NotSubscribed`].
    fn publish(&self, from: MemberId, post: Post<'_>) -> Result<(), HubError>;

    /// Renames a member and announces it (a request for one's current name does nothing).
    /// Returns the previous name.
    ///
    /// # Errors
    /// [`HubError::Name`] for an invalid or taken name; [`HubError::NotSubscribed`].
    fn rename(&self, member: MemberId, name: &str) -> Result<String, HubError>;

    /// Everyone here, sorted ignoring case.
    fn users(&self) -> Vec<String>;
}
