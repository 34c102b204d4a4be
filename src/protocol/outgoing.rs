//! The connection's outgoing byte queue.
//!
//! Three lanes, drained in this order at frame boundaries:
//! 1. pings and pongs: never wait behind data (a close, ours or the answer to the peer's, is
//!    queued as data instead, after the messages the application sent before it);
//! 2. large data frames as separate header and payload segments, so big payloads are written from
//!    the application's own `Bytes` without being copied;
//! 3. a staging buffer where small frames are coalesced, so a burst of messages leaves in one
//!    write.
//!
//! Segments are handed out whole, and a payload segment always follows its header directly, so a
//! control frame can never land inside a data frame.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::frame::{apply_mask, encode_frame, FrameHeader, OpCode, Role};

/// Payloads at least this large are queued by reference instead of copied into staging.
const COPY_THRESHOLD: usize = 16 << 10;

/// Pong bytes queued before further pongs collapse into "answer only the latest ping", as RFC
/// 6455 section 5.5.3 allows; keeps a ping flood from growing memory while writes are blocked.
const MAX_QUEUED_CONTROL: usize = 4 << 10;

#[derive(Debug)]
struct Segment {
    bytes: Bytes,
    /// The next segment is this frame's payload.
    header_only: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    /// Client role: every frame gets a fresh random masking key.
    masks: bool,
    control: BytesMut,
    latest_pong: Option<Bytes>,
    segments: VecDeque<Segment>,
    staging: BytesMut,
    /// The last segment handed out was a header; its payload must follow.
    mid_frame: bool,
    queued_data: usize,
}

impl Outgoing {
    pub(crate) fn new(role: Role) -> Self {
        Self {
            masks: role.masks_outgoing(),
            ..Self::default()
        }
    }

    fn masking_key(&self) -> Option<[u8; 4]> {
        self.masks.then(rand::random::<[u8; 4]>)
    }

    /// Queues a data frame (or a close we initiate, which must follow the data before it).
    pub(crate) fn push_frame(&mut self, opcode: OpCode, fin: bool, payload: &Bytes) {
        let mask = self.masking_key();
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        self.queued_data += header.encoded_len() + payload.len();
        if mask.is_none() && payload.len() >= COPY_THRESHOLD {
            self.flush_staging_into_segments();
            let mut head = BytesMut::with_capacity(header.encoded_len());
            header.encode(&mut head);
            self.segments.push_back(Segment {
                bytes: head.freeze(),
                header_only: true,
            });
            self.segments.push_back(Segment {
                bytes: payload.clone(),
                header_only: false,
            });
            return;
        }
        self.staging.reserve(header.encoded_len() + payload.len());
        header.encode(&mut self.staging);
        let start = self.staging.len();
        self.staging.put_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.staging[start..], key, 0);
        }
    }

    /// Queues bytes that already form whole frames (a pre-encoded broadcast frame).
    pub(crate) fn push_encoded(&mut self, frame: &Bytes) {
        self.queued_data += frame.len();
        if frame.len() >= COPY_THRESHOLD {
            self.flush_staging_into_segments();
            self.segments.push_back(Segment {
                bytes: frame.clone(),
                header_only: false,
            });
        } else {
            self.staging.extend_from_slice(frame);
        }
    }

    /// Queues a control frame ahead of all data.
    pub(crate) fn push_control(&mut self, opcode: OpCode, payload: &[u8]) {
        if opcode == OpCode::Pong && self.control.len() >= MAX_QUEUED_CONTROL {
            self.latest_pong = Some(Bytes::copy_from_slice(payload));
            return;
        }
        let mask = self.masking_key();
        encode_frame(&mut self.control, opcode, true, payload, mask);
    }

    /// The next bytes to write, whole; `None` when nothing is queued.
    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.mid_frame {
            let segment = self.segments.pop_front()?;
            self.mid_frame = segment.header_only;
            self.queued_data -= segment.bytes.len();
            return Some(segment.bytes);
        }
        if self.control.is_empty() {
            if let Some(pong) = self.latest_pong.take() {
                let mask = self.masking_key();
                encode_frame(&mut self.control, OpCode::Pong, true, &pong, mask);
            }
        }
        if !self.control.is_empty() {
            return Some(self.control.split().freeze());
        }
        if let Some(segment) = self.segments.pop_front() {
            self.mid_frame = segment.header_only;
            self.queued_data -= segment.bytes.len();
            return Some(segment.bytes);
        }
        if !self.staging.is_empty() {
            self.queued_data -= self.staging.len();
            return Some(self.staging.split().freeze());
        }
        None
    }

    /// Data bytes queued and not yet handed out (what backpressure is measured against).
    pub(crate) fn queued_data(&self) -> usize {
        self.queued_data
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.control.is_empty()
            && self.latest_pong.is_none()
            && self.segments.is_empty()
            && self.staging.is_empty()
    }

    /// Capacity held by the control and staging buffers (queued segments are the
    /// application's own `Bytes`, not counted).
    pub(crate) fn capacity(&self) -> usize {
        self.control.capacity() + self.staging.capacity()
    }

    /// Frees buffer capacity while idle, so an idle connection holds no write buffer.
    pub(crate) fn release_capacity(&mut self) {
        if self.staging.is_empty() {
            self.staging = BytesMut::new();
        }
        if self.control.is_empty() {
            self.control = BytesMut::new();
        }
        if self.segments.is_empty() {
            self.segments = VecDeque::new();
        }
    }

    fn flush_staging_into_segments(&mut self) {
        if !self.staging.is_empty() {
            self.segments.push_back(Segment {
                bytes: self.staging.split().freeze(),
                header_only: false,
            });
        }
    }
}
