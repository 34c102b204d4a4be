//! A connection's bounded outbound queue of pre-encoded frames.
//!
//! The hub pushes the same [`EncodedFrame`] (a reference-counted buffer) into every recipient's
//! outbox without waiting; the connection's writer task drains it. The queue is bounded both in
//! frames and in bytes: a push that would exceed either limit empties the queue and asks for the
//! connection to be closed with 1008, so one client that stops reading costs at most its limits
//! in memory and never slows anyone else.
//!
//! The outbox also carries the request to close the connection (overflow, a binary message,
//! server shutdown), so that everything that decides a connection's end reaches its writer
//! through one channel, in order after the frames queued before it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use super::metrics::ChatMetrics;
use crate::frame::CloseCode;
use crate::protocol::EncodedFrame;

/// Bounds of one outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Frames queued at most.
    pub max_messages: usize,
    /// Bytes (encoded frame lengths) queued at most.
    pub max_bytes: usize,
}

impl Default for OutboxLimits {
    /// 1024 messages or 1 MiB.
    fn default() -> Self {
        Self {
            max_messages: 1024,
            max_bytes: 1 << 20,
        }
    }
}

/// Why and how the connection is to be closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseRequest {
    /// The close code to send.
    pub code: CloseCode,
    /// The reason to send.
    pub reason: String,
}

/// Queue capacity (in frames) an emptied outbox keeps; beyond it the memory is released, so a
/// burst (everyone joining, a busy minute) does not stay with every idle connection.
const KEEP_CAPACITY: usize = 16;

/// The close reason sent to a client whose outbox overflowed.
pub const OVERFLOW_REASON: &str = "too slow: outbound queue full";

/// The push found the outbox full: it was emptied and a 1008 close requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// What the writer should do next.
#[derive(Debug)]
pub enum Next {
    /// Write these frames (they are no longer counted against the limits).
    Frames(Vec<EncodedFrame>),
    /// Send a close frame and stop; nothing more will come out of this outbox.
    Close(CloseRequest),
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<EncodedFrame>,
    bytes: usize,
    close: Option<CloseRequest>,
    /// The close request has been handed to the writer.
    close_taken: bool,
    /// With metrics: when each queued frame was pushed, in queue order.
    queued_at: VecDeque<Instant>,
    /// With metrics: when each frame of the batch being written was pushed.
    in_flight: Vec<Instant>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Outbox {
    limits: OutboxLimits,
    state: Mutex<State>,
    /// Wakes the (single) writer: frames or a close request arrived.
    ready: Notify,
    /// True once a close has been requested; any number of tasks may watch it.
    closing: watch::Sender<bool>,
    /// Deliveries, overflows and delivery latency are counted here when set.
    metrics: Option<Arc<ChatMetrics>>,
}

impl Outbox {
    /// An empty outbox with `limits`.
    #[must_use]
    pub fn new(limits: OutboxLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            closing: watch::Sender::new(false),
            metrics: None,
        }
    }

    /// An empty outbox with `limits` that counts its deliveries, overflows and delivery latency
    /// (the writer reports with [`Outbox::written`]) in `metrics`.
    #[must_use]
    pub fn with_metrics(limits: OutboxLimits, metrics: Arc<ChatMetrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..Self::new(limits)
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is updated in single steps that leave it consistent; a panic elsewhere
        // while the lock was held does not make it unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `frame`. Frames pushed after a close request are dropped (the connection is
    /// ending).
    ///
    /// # Errors
    /// [`Overflow`] when the frame would exceed the limits: the queue is emptied and a close
    /// with 1008 is requested.
    pub fn push(&self, frame: EncodedFrame) -> Result<(), Overflow> {
        self.push_published(frame, None)
    }

    /// As [`Outbox::push`], for a frame published at `published` (taken once for all the
    /// recipients of a broadcast: one clock read per message, not per recipient). The delivery
    /// latency is measured from then; `None` measures from now.
    ///
    /// # Errors
    /// As [`Outbox::push`].
    pub fn push_published(
        &self,
        frame: EncodedFrame,
        published: Option<Instant>,
    ) -> Result<(), Overflow> {
        let mut state = self.lock();
        if state.close.is_some() {
            return Ok(());
        }
        if state.frames.len() >= self.limits.max_messages
            || state.bytes + frame.len() > self.limits.max_bytes
        {
            state.frames = VecDeque::new();
            state.queued_at = VecDeque::new();
            state.bytes = 0;
            state.close = Some(CloseRequest {
                code: CloseCode::POLICY_VIOLATION,
                reason: OVERFLOW_REASON.to_owned(),
            });
            drop(state);
            if let Some(metrics) = &self.metrics {
                metrics.outbox_overflows.inc();
            }
            self.wake_for_close();
            return Err(Overflow);
        }
        state.bytes += frame.len();
        state.frames.push_back(frame);
        if let Some(metrics) = &self.metrics {
            state
                .queued_at
                .push_back(published.unwrap_or_else(Instant::now));
            metrics.frames_delivered.inc();
        }
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// The writer wrote the last batch [`Outbox::next`] gave it to the socket: records each
    /// frame's delivery latency (with metrics; otherwise nothing to do).
    pub fn written(&self) {
        let Some(metrics) = &self.metrics else { return };
        let in_flight = std::mem::take(&mut self.lock().in_flight);
        let now = Instant::now();
        for queued_at in in_flight {
            metrics.delivered_after(now.saturating_duration_since(queued_at));
        }
    }

    /// Asks for the connection to be closed with `code` and `reason` after the frames already
    /// queued. The first request wins; later ones are ignored.
    pub fn request_close(&self, code: CloseCode, reason: &str) {
        let mut state = self.lock();
        if state.close.is_some() {
            return;
        }
        state.close = Some(CloseRequest {
            code,
            reason: reason.to_owned(),
        });
        drop(state);
        self.wake_for_close();
    }

    fn wake_for_close(&self) {
        self.closing.send_replace(true);
        self.ready.notify_one();
    }

    /// True once a close has been requested.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// The bounds this outbox enforces.
    #[must_use]
    pub fn limits(&self) -> OutboxLimits {
        self.limits
    }

    /// The close requested, if any.
    #[must_use]
    pub fn close_request(&self) -> Option<CloseRequest> {
        self.lock().close.clone()
    }

    /// Resolves once a close has been requested (immediately if one already was).
    pub async fn closing(&self) {
        let mut closing = self.closing.subscribe();
        // The sender lives as long as `self`, so this cannot fail while we borrow it.
        let _ = closing.wait_for(|closing| *closing).await;
    }

    /// The next frames to write (at most `max_batch`), or the close request once every frame
    /// queued before it has been taken. For the one writer task; cancel-safe.
    pub async fn next(&self, max_batch: usize) -> Next {
        loop {
            {
                let mut state = self.lock();
                if !state.frames.is_empty() {
                    let count = state.frames.len().min(max_batch.max(1));
                    let batch: Vec<EncodedFrame> = state.frames.drain(..count).collect();
                    state.bytes -= batch.iter().map(EncodedFrame::len).sum::<usize>();
                    if self.metrics.is_some() {
                        let queued_at = state.queued_at.drain(..count).collect();
                        state.in_flight = queued_at;
                    }
                    if state.frames.is_empty() && state.frames.capacity() > KEEP_CAPACITY {
                        // A burst grew the queue; an idle connection gives that memory back.
                        state.frames = VecDeque::new();
                        state.queued_at = VecDeque::new();
                    }
                    return Next::Frames(batch);
                }
                if !state.close_taken {
                    if let Some(close) = state.close.clone() {
                        state.close_taken = true;
                        return Next::Close(close);
                    }
                }
            }
            // A notification sent between the check above and this await is kept as a permit.
            self.ready.notified().await;
        }
    }

    /// Frames and bytes queued, for tests and metrics.
    #[must_use]
    pub fn len(&self) -> (usize, usize) {
        let state = self.lock();
        (state.frames.len(), state.bytes)
    }

    /// True when nothing is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> EncodedFrame {
        EncodedFrame::text(text)
    }

    fn limits(max_messages: usize, max_bytes: usize) -> OutboxLimits {
        OutboxLimits {
            max_messages,
            max_bytes,
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_in_bounded_batches() {
        let outbox = Outbox::new(OutboxLimits::default());
        for text in ["a", "b", "c"] {
            outbox.push(frame(text)).unwrap();
        }
        assert_eq!(outbox.len(), (3, 9));
        let Next::Frames(batch) = outbox.next(2).await else {
            panic!("expected frames")
        };
        assert_eq!(batch, [frame("a"), frame("b")]);
        let Next::Frames(batch) = outbox.next(2).await else {
            panic!("expected frames")
        };
        assert_eq!(batch, [frame("c")]);
        assert!(outbox.is_empty());
    }

    #[tokio::test]
    async fn too_many_frames_overflow_and_request_1008() {
        let outbox = Outbox::new(limits(2, 1 << 20));
        outbox.push(frame("a")).unwrap();
        outbox.push(frame("b")).unwrap();
        assert_eq!(outbox.push(frame("c")), Err(Overflow));
        assert!(outbox.is_closing());
        assert_eq!(outbox.len(), (0, 0), "an overflowing queue is dropped");
        // Later pushes are dropped quietly.
        assert_eq!(outbox.push(frame("d")), Ok(()));
        let Next::Close(close) = outbox.next(8).await else {
            panic!("expected close")
        };
        assert_eq!(close.code, CloseCode::POLICY_VIOLATION);
        assert_eq!(close.reason, OVERFLOW_REASON);
    }

    #[test]
    fn too_many_bytes_overflow() {
        let outbox = Outbox::new(limits(100, 10));
        outbox.push(frame("12345678")).unwrap();
        assert_eq!(outbox.push(frame("1")), Err(Overflow));
    }

    #[tokio::test]
    async fn a_requested_close_follows_the_frames_queued_before_it() {
        let outbox = Outbox::new(OutboxLimits::default());
        outbox.push(frame("a")).unwrap();
        outbox.request_close(CloseCode::GOING_AWAY, "bye");
        outbox.request_close(CloseCode::NORMAL, "ignored");
        outbox.closing().await;
        assert!(matches!(outbox.next(8).await, Next::Frames(_)));
        let Next::Close(close) = outbox.next(8).await else {
            panic!("expected close")
        };
        assert_eq!(close.code, CloseCode::GOING_AWAY);
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), outbox.next(8));
        assert!(pending.await.is_err(), "the close is handed out once");
    }

    #[tokio::test]
    async fn a_drained_outbox_releases_what_a_burst_grew() {
        let outbox = Outbox::new(OutboxLimits::default());
        for _ in 0..500 {
            outbox.push(frame("burst")).unwrap();
        }
        assert!(outbox.lock().frames.capacity() >= 500);
        while outbox.len().0 > 0 {
            let Next::Frames(_) = outbox.next(64).await else {
                panic!("frames")
            };
        }
        assert!(outbox.lock().frames.capacity() <= KEEP_CAPACITY);
    }

    #[tokio::test]
    async fn next_waits_for_a_push() {
        let outbox = std::sync::Arc::new(Outbox::new(OutboxLimits::default()));
        let writer = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.next(8).await }
        });
        tokio::task::yield_now().await;
        outbox.push(frame("late")).unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(next, Next::Frames(batch) if batch == [frame("late")]));
    }
}
