//! Which end of the connection we are: it decides masking in both directions.

/// The endpoint's role in the connection (RFC 6455 section 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections: sends unmasked frames, requires masked ones.
    Server,
    /// Opens connections: sends masked frames with a fresh key each, requires unmasked ones.
    Client,
}

impl Role {
    /// Whether frames this role sends carry a masking key.
    #[inline]
    #[must_use]
    pub fn masks_outgoing(self) -> bool {
        self == Self::Client
    }
}
