//! Keeping logs useful under attack: events that an attacker can repeat at will (accept errors,
//! refused upgrades) are logged at most once per interval with a count of the ones left out, or
//! once per distinct value.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most one log line per interval.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    /// Lets one line through per `interval`.
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// For an event at `now`: `Some(n)` when it should be logged, `n` being how many were left
    /// out since the last line; `None` when it should not.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, suppressed) = &mut *state;
        if last.is_some_and(|last| now.saturating_duration_since(last) < self.interval) {
            *suppressed += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(suppressed))
    }
}

/// Remembers which values were logged, up to a bound (past it, nothing new is remembered and
/// every further value counts as seen, so an attacker cannot grow it).
#[derive(Debug)]
pub struct FirstSeen {
    capacity: usize,
    seen: Mutex<HashSet<String>>,
}

impl FirstSeen {
    /// Remembers up to `capacity` values.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// True the first time `value` is seen (while there is room to remember it).
    pub fn first(&self, value: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(value) || seen.len() >= self.capacity {
            return false;
        }
        seen.insert(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_left_out() {
        let throttle = LogThrottle::new(Duration::from_secs(5));
        let start = Instant::now();
        assert_eq!(throttle.admit(start), Some(0));
        for i in 1..=9 {
            assert_eq!(throttle.admit(start + Duration::from_millis(i * 100)), None);
        }
        assert_eq!(throttle.admit(start + Duration::from_secs(5)), Some(9));
        assert_eq!(throttle.admit(start + Duration::from_secs(6)), None);
    }

    #[test]
    fn first_seen_is_bounded() {
        let seen = FirstSeen::new(2);
        assert!(seen.first("a"));
        assert!(!seen.first("a"));
        assert!(seen.first("b"));
        assert!(!seen.first("c"), "full: nothing new is remembered");
    }
}
