//! One connection's view of the room's sequence numbers: every event after the greeting must
//! arrive exactly once and in order (greeting seq + 1, + 2, ...).
//!
//! - a seq that skips ahead counts the skipped ones as lost, and remembers them: if one arrives
//!   later it is out of order instead of lost;
//! - a seq below the next expected one that was already seen is a duplicate (one at or below the
//!   greeting's, which should have come before it as history, is out of order);
//! - [`SequenceTracker::finish`] counts whatever is missing up to the room's last seq as lost,
//!   for a connection that was still there at the end.

use std::collections::BTreeSet;

/// Gaps larger than this are counted as lost without remembering each missing seq (a seq that
/// far ahead is a bug anyway; this only bounds memory).
const MAX_REMEMBERED_GAP: u64 = 100_000;

/// What one arrival was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next expected seq.
    InOrder,
    /// Ahead of the next expected one: this many were skipped (lost unless they come later).
    Skipped(u64),
    /// A seq that had been skipped arrives after all: out of order, no longer lost.
    Late,
    /// Already seen.
    Duplicate,
    /// At or below the greeting's seq, after the greeting.
    BeforeGreeting,
}

impl Arrival {
    /// Whether the arrival is a (first) delivery of an event after the greeting.
    pub fn is_delivery(self) -> bool {
        matches!(self, Self::InOrder | Self::Skipped(_) | Self::Late)
    }
}

/// The outcome of one connection, summed over connections for the verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceTotals {
    /// Events this connection should have received (after its greeting, up to its end).
    pub expected: u64,
    /// Distinct events it received in that range.
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
}

impl SequenceTotals {
    pub fn add(&mut self, other: &Self) {
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
    }
}

#[derive(Debug)]
pub struct SequenceTracker {
    greeting: u64,
    next: u64,
    /// Skipped seqs that have not arrived (yet).
    missing: BTreeSet<u64>,
    /// Skipped seqs not remembered individually (gaps over [`MAX_REMEMBERED_GAP`]).
    lost_unremembered: u64,
    delivered: u64,
    duplicated: u64,
    out_of_order: u64,
}

impl SequenceTracker {
    /// Starts after the greeting, which carries the seq of the connection's own join.
    pub fn new(greeting_seq: u64) -> Self {
        Self {
            greeting: greeting_seq,
            next: greeting_seq + 1,
            missing: BTreeSet::new(),
            lost_unremembered: 0,
            delivered: 0,
            duplicated: 0,
            out_of_order: 0,
        }
    }

    /// The highest seq received or given up on: everything up to it has been accounted for.
    pub fn contiguous(&self) -> u64 {
        self.next - 1
    }

    pub fn observe(&mut self, seq: u64) -> Arrival {
        let arrival = if seq == self.next {
            self.next += 1;
            Arrival::InOrder
        } else if seq > self.next {
            let skipped = seq - self.next;
            if skipped <= MAX_REMEMBERED_GAP {
                self.missing.extend(self.next..seq);
            } else {
                self.lost_unremembered += skipped;
            }
            self.next = seq + 1;
            Arrival::Skipped(skipped)
        } else if seq <= self.greeting {
            self.out_of_order += 1;
            Arrival::BeforeGreeting
        } else if self.missing.remove(&seq) {
            self.out_of_order += 1;
            Arrival::Late
        } else {
            self.duplicated += 1;
            Arrival::Duplicate
        };
        if arrival.is_delivery() {
            self.delivered += 1;
        }
        arrival
    }

    /// Seqs lost so far (skipped and not arrived since).
    pub fn lost(&self) -> u64 {
        self.missing.len() as u64 + self.lost_unremembered
    }

    /// Ends the connection. `room_last`: the room's last seq, for a connection that was still
    /// connected at the end (everything up to it should have arrived); `None` for a connection
    /// that ended early (what it had not received yet is not counted).
    pub fn finish(&self, room_last: Option<u64>) -> SequenceTotals {
        let tail = room_last.map_or(0, |last| last.saturating_sub(self.contiguous()));
        let end = self.contiguous() + tail;
        SequenceTotals {
            expected: end - self.greeting,
            delivered: self.delivered,
            lost: self.lost() + tail,
            duplicated: self.duplicated,
            out_of_order: self.out_of_order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_events_are_all_delivered() {
        let mut tracker = SequenceTracker::new(10);
        for seq in 11..=20 {
            assert_eq!(tracker.observe(seq), Arrival::InOrder);
        }
        let totals = tracker.finish(Some(20));
        assert_eq!(
            totals,
            SequenceTotals {
                expected: 10,
                delivered: 10,
                ..SequenceTotals::default()
            }
        );
    }

    #[test]
    fn skipped_seqs_are_lost_unless_they_arrive_later() {
        let mut tracker = SequenceTracker::new(0);
        assert_eq!(tracker.observe(1), Arrival::InOrder);
        assert_eq!(tracker.observe(4), Arrival::Skipped(2));
        assert_eq!(tracker.lost(), 2);
        assert_eq!(tracker.observe(3), Arrival::Late);
        assert_eq!(tracker.observe(3), Arrival::Duplicate);
        assert_eq!(tracker.observe(4), Arrival::Duplicate);
        assert_eq!(tracker.observe(0), Arrival::BeforeGreeting);
        let totals = tracker.finish(None);
        assert_eq!(
            totals,
            SequenceTotals {
                expected: 4,
                delivered: 3,
                lost: 1,
                duplicated: 2,
                out_of_order: 2,
            }
        );
        assert_eq!(totals.delivered + totals.lost, totals.expected);
    }

    #[test]
    fn a_connection_still_there_at_the_end_misses_the_tail() {
        let mut tracker = SequenceTracker::new(5);
        tracker.observe(6);
        let totals = tracker.finish(Some(9));
        assert_eq!((totals.expected, totals.delivered, totals.lost), (4, 1, 3));
        // One that ended early is only accountable for what it saw.
        assert_eq!(tracker.finish(None).lost, 0);
        // Events past the room's last seq (leaves during the final closes) are fine.
        tracker.observe(7);
        tracker.observe(8);
        tracker.observe(9);
        tracker.observe(10);
        let totals = tracker.finish(Some(9));
        assert_eq!((totals.expected, totals.delivered, totals.lost), (5, 5, 0));
    }

    #[test]
    fn huge_gaps_are_counted_without_remembering_them() {
        let mut tracker = SequenceTracker::new(0);
        tracker.observe(MAX_REMEMBERED_GAP + 10);
        assert_eq!(tracker.lost(), MAX_REMEMBERED_GAP + 9);
        assert_eq!(tracker.observe(5), Arrival::Duplicate);
    }
}
