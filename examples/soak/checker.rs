//! The room as all clients together saw it: seq -> (type, from, text), recorded by the first
//! client to see each seq and checked by every later one ("same text everywhere"), plus the
//! highest seq anyone saw. At the end it answers which of the soak's own messages made it into
//! the room.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::wire::{parse_message_text, SentId};

/// Shards of the seq map, so that clients on different runtime threads rarely meet on a lock.
const SHARDS: usize = 64;

#[derive(Debug, PartialEq, Eq)]
struct Content {
    kind: Box<str>,
    from: Option<Box<str>>,
    text: Box<str>,
}

impl Content {
    fn is(&self, kind: &str, from: Option<&str>, text: &str) -> bool {
        &*self.kind == kind && self.from.as_deref() == from && &*self.text == text
    }
}

/// A seq whose content differs between two observers.
#[derive(Debug)]
pub struct Mismatch {
    pub seq: u64,
    pub recorded: String,
    pub seen: String,
}

pub struct RoomRecord {
    shards: Box<[Mutex<HashMap<u64, Content>>]>,
    last_seq: AtomicU64,
}

impl RoomRecord {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            last_seq: AtomicU64::new(0),
        }
    }

    /// Records or checks the content of `seq`. Cheap when it matches: one lock, three string
    /// comparisons, no allocation.
    pub fn check(
        &self,
        seq: u64,
        kind: &str,
        from: Option<&str>,
        text: &str,
    ) -> Result<(), Mismatch> {
        self.saw_seq(seq);
        let mut shard = self.shards[(seq % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match shard.get(&seq) {
            Some(content) if content.is(kind, from, text) => Ok(()),
            Some(content) => Err(Mismatch {
                seq,
                recorded: describe(&content.kind, content.from.as_deref(), &content.text),
                seen: describe(kind, from, text),
            }),
            None => {
                shard.insert(
                    seq,
                    Content {
                        kind: kind.into(),
                        from: from.map(Into::into),
                        text: text.into(),
                    },
                );
                Ok(())
            }
        }
    }

    /// Notes that some client saw `seq` (also for greetings, which are not recorded).
    pub fn saw_seq(&self, seq: u64) {
        if seq > self.last_seq.load(Ordering::Relaxed) {
            self.last_seq.fetch_max(seq, Ordering::Relaxed);
        }
    }

    /// The highest seq any client has seen.
    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Relaxed)
    }

    /// The soak messages that were published in the room (seen by at least one client).
    pub fn published(&self) -> HashSet<SentId> {
        let mut published = HashSet::new();
        for shard in &*self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            published.extend(
                shard
                    .values()
                    .filter(|content| &*content.kind == "message")
                    .filter_map(|content| parse_message_text(&content.text))
                    .map(|(id, _)| id),
            );
        }
        published
    }
}

fn describe(kind: &str, from: Option<&str>, text: &str) -> String {
    format!("{kind} from {from:?}: {text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_observer_records_and_later_ones_compare() {
        let room = RoomRecord::new();
        assert!(room.check(3, "message", Some("user1"), "c1#0 t=5").is_ok());
        assert!(room.check(3, "message", Some("user1"), "c1#0 t=5").is_ok());
        let mismatch = room
            .check(3, "message", Some("user2"), "c1#0 t=5")
            .unwrap_err();
        assert_eq!(mismatch.seq, 3);
        assert!(room.check(1, "join", Some("user1"), "user1 joined").is_ok());
        room.saw_seq(7);
        assert_eq!(room.last_seq(), 7);
        assert_eq!(
            room.published(),
            HashSet::from([SentId { client: 1, n: 0 }])
        );
    }
}
