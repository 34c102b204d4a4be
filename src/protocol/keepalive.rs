//! Keepalive timing as a pure function of "now": when to ping, when to give up on the peer.

use std::time::Instant;

use super::Keepalive;

/// What the connection must do at a timer tick.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    SendPing,
    PeerGone,
}

#[derive(Debug)]
pub(crate) struct KeepaliveTimer {
    settings: Keepalive,
    next_ping: Instant,
    last_heard: Instant,
}

impl KeepaliveTimer {
    pub(crate) fn new(settings: Keepalive, now: Instant) -> Self {
        Self {
            settings,
            next_ping: now + settings.interval,
            last_heard: now,
        }
    }

    pub(crate) fn heard_from_peer(&mut self, now: Instant) {
        self.last_heard = self.last_heard.max(now);
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        self.next_ping.min(self.last_heard + self.settings.timeout)
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> Action {
        if now >= self.last_heard + self.settings.timeout {
            return Action::PeerGone;
        }
        if now >= self.next_ping {
            self.next_ping = now + self.settings.interval;
            return Action::SendPing;
        }
        Action::None
    }
}
