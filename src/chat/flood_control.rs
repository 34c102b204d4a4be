//! Per-connection flood control: a token bucket, and the rule for cutting off a flooder.
//!
//! Each connection may send `rate` messages per second on average, with bursts of up to `burst`
//! (a bucket of `burst` tokens, refilled at `rate` per second; every message, commands included,
//! takes one). A message that finds the bucket empty is refused: not broadcast, and its sender
//! is told. A connection *floods* while its refusals keep coming with less than
//! [`QUIET_GAP`] between them; once it has flooded for `disconnect_after` it is disconnected.
//! A client that merely bumps into the limit now and then is throttled, never disconnected.
//!
//! Pure: the caller passes "now", so tests need no clock.

use std::time::{Duration, Instant};

/// A pause in refusals at least this long ends a flood.
pub const QUIET_GAP: Duration = Duration::from_secs(1);

/// The flood-control settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloodLimits {
    /// Messages per second, on average.
    pub rate: f64,
    /// Messages that may be sent at once after a quiet period.
    pub burst: f64,
    /// How long a flood may go on before the connection is closed.
    pub disconnect_after: Duration,
}

/// What to do with one incoming message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: act on it.
    Allowed,
    /// Over the limit: drop it and tell the sender.
    Refused,
    /// Over the limit for `disconnect_after`: drop it and close the connection.
    Disconnect,
}

/// One connection's bucket and flood state.
#[derive(Clone, Debug)]
pub struct FloodControl {
    limits: FloodLimits,
    tokens: f64,
    refilled_at: Instant,
    flooding_since: Option<Instant>,
    last_refusal: Option<Instant>,
}

impl FloodControl {
    /// A full bucket at `now`.
    #[must_use]
    pub fn new(limits: FloodLimits, now: Instant) -> Self {
        Self {
            limits,
            tokens: limits.burst,
            refilled_at: now,
            flooding_since: None,
            last_refusal: None,
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> FloodLimits {
        self.limits
    }

    /// Takes a token for a message arriving at `now`, and says what to do with the message.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limits.rate).min(self.limits.burst);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allowed;
        }
        let continues = self
            .last_refusal
            .is_some_and(|last| now.saturating_duration_since(last) < QUIET_GAP);
        if !continues {
            self.flooding_since = Some(now);
        }
        self.last_refusal = Some(now);
        let flooding_for = self
            .flooding_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        if flooding_for >= self.limits.disconnect_after {
            Verdict::Disconnect
        } else {
            Verdict::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FloodLimits = FloodLimits {
        rate: 20.0,
        burst: 40.0,
        disconnect_after: Duration::from_secs(10),
    };

    /// Sends at `per_second` for `seconds` starting at `start`; returns the verdicts.
    fn send_steadily(
        control: &mut FloodControl,
        start: Instant,
        per_second: u32,
        seconds: u32,
    ) -> Vec<Verdict> {
        (0..per_second * seconds)
            .map(|i| control.check(start + Duration::from_secs(1) * i / per_second))
            .collect()
    }

    #[test]
    fn a_burst_passes_and_the_next_message_is_refused() {
        let now = Instant::now();
        let mut control = FloodControl::new(LIMITS, now);
        for _ in 0..40 {
            assert_eq!(control.check(now), Verdict::Allowed);
        }
        assert_eq!(control.check(now), Verdict::Refused);
        assert_eq!(
            control.check(now + Duration::from_millis(50)),
            Verdict::Allowed,
            "one token back after 1/rate"
        );
    }

    #[test]
    fn a_steady_sender_at_the_rate_or_below_is_never_refused() {
        let start = Instant::now();
        for per_second in [5, 10, 20] {
            let mut control = FloodControl::new(LIMITS, start);
            let verdicts = send_steadily(&mut control, start, per_second, 120);
            assert!(
                verdicts.iter().all(|v| *v == Verdict::Allowed),
                "{per_second}/s"
            );
        }
    }

    #[test]
    fn a_sustained_flood_is_disconnected_after_ten_seconds_and_not_before() {
        let start = Instant::now();
        let mut control = FloodControl::new(LIMITS, start);
        let verdicts = send_steadily(&mut control, start, 100, 12);
        let first_refusal = verdicts
            .iter()
            .position(|v| *v == Verdict::Refused)
            .unwrap();
        let disconnect = verdicts
            .iter()
            .position(|v| *v == Verdict::Disconnect)
            .unwrap();
        let flooded = Duration::from_millis(10) * (disconnect - first_refusal) as u32;
        assert!(
            (Duration::from_secs(10)..Duration::from_millis(10_100)).contains(&flooded),
            "{flooded:?}"
        );
        let allowed = verdicts[..disconnect]
            .iter()
            .filter(|v| **v == Verdict::Allowed)
            .count();
        assert!(
            (230..=255).contains(&allowed),
            "burst + rate x time: {allowed}"
        );
    }

    #[test]
    fn pauses_between_bursts_end_the_flood() {
        let start = Instant::now();
        let mut control = FloodControl::new(LIMITS, start);
        // 60 messages at once every 3 s for a minute: each burst overflows, never for long.
        for burst in 0..20 {
            let at = start + Duration::from_secs(3) * burst;
            for _ in 0..60 {
                assert_ne!(control.check(at), Verdict::Disconnect, "burst {burst}");
            }
        }
    }
}
