//! Per-connection limits and behaviour, with defaults that are safe to expose to the internet.

use std::time::Duration;

use crate::handshake::HeadLimits;

/// Configuration of one connection. Construct with [`Config::default`] and the `with_*` setters;
/// fields may be added in later versions.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted; a larger frame fails the connection with 1009 from its
    /// header alone. Default 64 MiB.
    pub max_frame_size: usize,
    /// Largest message accepted (all fragments together); exceeding it fails the connection with
    /// 1009 before the excess is buffered. Default 64 MiB.
    pub max_message_size: usize,
    /// Most fragments one message may have, so a flood of tiny fragments cannot pin a connection.
    /// Default 131072 (enough for 4 MiB in 64-byte fragments, Autobahn 9.3.1).
    pub max_fragments: usize,
    /// Outgoing messages larger than this are sent as several frames of at most this size.
    /// Default `None`: one frame per message.
    pub fragment_size: Option<usize>,
    /// Optional keepalive: ping at `interval`, fail the connection when nothing arrives within
    /// `timeout`. Default `None`.
    pub keepalive: Option<Keepalive>,
    /// Outgoing bytes buffered before `send` waits for the transport (backpressure). Control
    /// replies (pong, close) are never held back by it. Default 128 KiB.
    pub write_buffer_limit: usize,
    /// How long to wait for the peer's half of the closing handshake. Default 5 s.
    pub close_timeout: Duration,
    /// How long a peer may take to complete the opening handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// Caps on the opening handshake's HTTP head. Default 8 KiB and 64 headers.
    pub head_limits: HeadLimits,
}

/// Keepalive timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between pings.
    pub interval: Duration,
    /// Silence after which the peer is considered gone.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 17,
            fragment_size: None,
            keepalive: None,
            write_buffer_limit: 128 << 10,
            close_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            head_limits: HeadLimits::default(),
        }
    }
}

impl Config {
    /// Sets [`Config::max_frame_size`].
    #[must_use]
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Config::max_message_size`].
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Config::max_fragments`].
    #[must_use]
    pub fn with_max_fragments(mut self, fragments: usize) -> Self {
        self.max_fragments = fragments;
        self
    }

    /// Sets [`Config::fragment_size`]; sizes below 1 are treated as 1.
    #[must_use]
    pub fn with_fragment_size(mut self, bytes: Option<usize>) -> Self {
        self.fragment_size = bytes.map(|b| b.max(1));
        self
    }

    /// Enables keepalive pings every `interval`, failing after `timeout` of silence.
    #[must_use]
    pub fn with_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keepalive = Some(Keepalive { interval, timeout });
        self
    }

    /// Sets [`Config::write_buffer_limit`].
    #[must_use]
    pub fn with_write_buffer_limit(mut self, bytes: usize) -> Self {
        self.write_buffer_limit = bytes;
        self
    }

    /// Sets [`Config::handshake_timeout`].
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`Config::head_limits`].
    #[must_use]
    pub fn with_head_limits(mut self, limits: HeadLimits) -> Self {
        self.head_limits = limits;
        self
    }

    /// Sets [`Config::close_timeout`].
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}
