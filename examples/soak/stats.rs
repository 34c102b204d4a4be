//! What the clients report while they run: live counters for the progress lines, the totals
//! of every finished connection, latencies, the messages that must reach the room, the first
//! few problems in words, and each client's state for the final drain.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::sequence::SequenceTotals;
use crate::wire::SentId;

/// Problems described on stderr in full; later ones are only counted.
const MAX_DESCRIBED: usize = 20;

/// A failure category of the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A seq skipped (lost unless it arrives later).
    Gap,
    Duplicate,
    OutOfOrder,
    Mismatch,
    /// An `error` event, or a server message the soak could not understand.
    Error,
    UnexpectedClose,
    ConnectFailure,
    /// A soak message that should have reached the room and did not.
    Unpublished,
}

#[derive(Default)]
pub struct Stats {
    pub sent: AtomicU64,
    /// Deliveries so far (for the progress lines; the verdict uses the totals).
    pub delivered_live: AtomicU64,
    pub connected: AtomicUsize,
    pub reconnects: AtomicU64,
    pub dropped_fin: AtomicU64,
    pub dropped_rst: AtomicU64,
    pub mismatched: AtomicU64,
    pub errors: AtomicU64,
    pub unexpected_closes: AtomicU64,
    pub connect_failures: AtomicU64,
    totals: Mutex<SequenceTotals>,
    latencies_us: Mutex<Vec<u32>>,
    must_publish: Mutex<Vec<SentId>>,
    close_codes: Mutex<BTreeMap<u16, u64>>,
    described: Mutex<Vec<String>>,
    problems: AtomicU64,
}

impl Stats {
    /// Counts a problem of kind `problem` and keeps its description if it is among the first.
    pub fn problem(&self, problem: Problem, description: impl FnOnce() -> String) {
        let counter = match problem {
            Problem::Mismatch => Some(&self.mismatched),
            Problem::Error => Some(&self.errors),
            Problem::UnexpectedClose => Some(&self.unexpected_closes),
            Problem::ConnectFailure => Some(&self.connect_failures),
            // Counted per connection in the sequence totals, or at the end.
            Problem::Gap | Problem::Duplicate | Problem::OutOfOrder | Problem::Unpublished => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if (self.problems.fetch_add(1, Ordering::Relaxed) as usize) < MAX_DESCRIBED {
            let line = format!("{problem:?}: {}", description());
            self.described
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
        }
    }

    pub fn unexpected_close(&self, code: u16, description: impl FnOnce() -> String) {
        *self
            .close_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code)
            .or_default() += 1;
        self.problem(Problem::UnexpectedClose, description);
    }

    /// Adds a finished connection's results.
    pub fn connection_done(
        &self,
        totals: &SequenceTotals,
        latencies_us: &mut Vec<u32>,
        must_publish: impl IntoIterator<Item = SentId>,
    ) {
        self.totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(totals);
        self.latencies_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(latencies_us);
        self.must_publish
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(must_publish);
    }

    pub fn totals(&self) -> SequenceTotals {
        *self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn take_latencies(&self) -> Vec<u32> {
        std::mem::take(&mut *self.latencies_us.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn take_must_publish(&self) -> Vec<SentId> {
        std::mem::take(&mut *self.must_publish.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Unexpected close codes and how often each was seen.
    pub fn close_codes(&self) -> BTreeMap<u16, u64> {
        self.close_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The first problems in words, and how many there were in all.
    pub fn described_problems(&self) -> (Vec<String>, u64) {
        let described = self
            .described
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (described, self.problems.load(Ordering::Relaxed))
    }
}

/// Where a client is, for the final drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientState {
    /// Connecting, or connected and waiting for the greeting.
    Connecting = 0,
    /// Greeted: in the room.
    Connected = 1,
    /// Between connections.
    Away = 2,
    /// Finished.
    Done = 3,
}

/// One client's state, shared with the coordinator.
pub struct ClientStatus {
    state: AtomicU8,
    /// The current connection's contiguous seq (see `SequenceTracker::contiguous`).
    progress: AtomicU64,
    /// The client has sent a message it has not seen come back yet.
    awaiting_own: AtomicBool,
}

impl ClientStatus {
    pub fn new() -> Self {
        Self {
            state: AtomicU8::new(ClientState::Away as u8),
            progress: AtomicU64::new(0),
            awaiting_own: AtomicBool::new(false),
        }
    }

    pub fn set_state(&self, state: ClientState) {
        self.state.store(state as u8, Ordering::Release);
    }

    pub fn state(&self) -> ClientState {
        match self.state.load(Ordering::Acquire) {
            0 => ClientState::Connecting,
            1 => ClientState::Connected,
            2 => ClientState::Away,
            _ => ClientState::Done,
        }
    }

    pub fn set_progress(&self, contiguous: u64) {
        self.progress.store(contiguous, Ordering::Release);
    }

    pub fn set_awaiting_own(&self, awaiting: bool) {
        self.awaiting_own.store(awaiting, Ordering::Release);
    }

    /// Whether this client has received everything up to `last_seq` and its own last message
    /// (or is not connected, so there is nothing to wait for).
    pub fn caught_up(&self, last_seq: u64) -> bool {
        match self.state() {
            ClientState::Connecting => false,
            ClientState::Connected => {
                self.progress.load(Ordering::Acquire) >= last_seq
                    && !self.awaiting_own.load(Ordering::Acquire)
            }
            ClientState::Away | ClientState::Done => true,
        }
    }
}
