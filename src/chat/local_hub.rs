//! The in-process [`Hub`]: one mutex around the roster, the members and the history.
//!
//! Everything that orders events happens under the lock: the sequence number is assigned and
//! the frame pushed into every recipient's outbox before the next event can start, so all
//! recipients see one order. Pushing never blocks (a full outbox is closed instead), so the lock
//! is held for a bounded time, proportional to the number of recipients.
//!
//! Each event is encoded at most once per wire format, lazily, the first time a recipient of
//! that format needs it; history keeps the encodings, so replaying history encodes nothing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use super::event::{now_millis, Event, EventKind};
use super::hub::{Hub, HubError, MemberId, Membership, Post, Subscriber};
use super::names::Roster;
use super::wire::{self, WireFormat};
use crate::protocol::EncodedFrame;

/// An event with its encodings, shared by every recipient and by history.
#[derive(Debug)]
struct Published {
    event: Event,
    /// When it was stamped: the start of its recipients' delivery latency.
    at: std::time::Instant,
    plain: OnceLock<EncodedFrame>,
    json: OnceLock<EncodedFrame>,
}

impl Published {
    fn new(event: Event) -> Arc<Self> {
        Arc::new(Self {
            event,
            at: std::time::Instant::now(),
            plain: OnceLock::new(),
            json: OnceLock::new(),
        })
    }

    /// The frame for `format`, encoded on first use.
    fn frame(&self, format: WireFormat) -> EncodedFrame {
        let cell = match format {
            WireFormat::Plain => &self.plain,
            WireFormat::Json => &self.json,
        };
        cell.get_or_init(|| EncodedFrame::text(&wire::encode(&self.event, format)))
            .clone()
    }
}

#[derive(Debug)]
struct Member {
    name: String,
    subscriber: Subscriber,
}

impl Member {
    /// Queues a newly published event (its delivery latency counts from its publication).
    fn deliver(&self, published: &Published) {
        // An overflow closes this member's connection; its session then unsubscribes it.
        let _ = self
            .subscriber
            .outbox
            .push_published(published.frame(self.subscriber.format), Some(published.at));
    }

    /// Queues an event from history (its latency counts from now, not from when it was said).
    fn replay(&self, published: &Published) {
        let _ = self
            .subscriber
            .outbox
            .push(published.frame(self.subscriber.format));
    }
}

#[derive(Debug, Default)]
struct Room {
    roster: Roster<MemberId>,
    members: BTreeMap<MemberId, Member>,
    history: VecDeque<Arc<Published>>,
    next_member: u64,
    last_seq: u64,
    last_ts: u64,
}

impl Room {
    /// Stamps `kind` with the next sequence number and a timestamp that never goes backwards.
    fn stamp(&mut self, kind: EventKind) -> Arc<Published> {
        self.last_seq += 1;
        self.last_ts = self.last_ts.max(now_millis());
        Published::new(Event {
            seq: Some(self.last_seq),
            ts: self.last_ts,
            kind,
        })
    }

    /// Where the history replay for `subscriber` starts: the most recent entries that fill at
    /// most half of its outbox, so that however history and queue limits are configured, a
    /// newcomer is never disconnected by its own replay.
    fn replayable(&self, subscriber: &Subscriber) -> usize {
        let limits = subscriber.outbox.limits();
        let (max_frames, max_bytes) = (limits.max_messages / 2, limits.max_bytes / 2);
        let mut start = self.history.len();
        let mut bytes = 0;
        while start > 0 && self.history.len() - start < max_frames {
            let len = self.history[start - 1].frame(subscriber.format).len();
            if bytes + len > max_bytes {
                break;
            }
            bytes += len;
            start -= 1;
        }
        start
    }

    fn broadcast(&self, published: &Published, except: Option<MemberId>) {
        for (id, member) in &self.members {
            if Some(*id) != except {
                member.deliver(published);
            }
        }
    }
}

/// The in-process hub. See the module documentation.
#[derive(Debug)]
pub struct LocalHub {
    room: Mutex<Room>,
    history_len: usize,
}

impl LocalHub {
    /// A hub that replays the last `history_len` messages to newcomers (0: none).
    #[must_use]
    pub fn new(history_len: usize) -> Self {
        Self {
            room: Mutex::new(Room::default()),
            history_len,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Room> {
        // Every update leaves the room consistent before the next can panic.
        self.room.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Hub for LocalHub {
    fn subscribe(&self, subscriber: Subscriber) -> Membership {
        let mut room = self.lock();
        let id = MemberId(room.next_member);
        room.next_member += 1;
        let name = room.roster.allocate(id);
        let member = Member { name, subscriber };
        let replay = room.replayable(&member.subscriber);
        for published in room.history.range(replay..) {
            member.replay(published);
        }
        let joined = room.stamp(EventKind::Join {
            name: member.name.clone(),
        });
        room.broadcast(&joined, None);
        let welcome = Published::new(Event {
            seq: joined.event.seq,
            ts: joined.event.ts,
            kind: EventKind::Welcome {
                you: member.name.clone(),
                users: room.roster.names(),
            },
        });
        member.deliver(&welcome);
        let membership = Membership {
            id,
            name: member.name.clone(),
        };
        room.members.insert(id, member);
        membership
    }

    fn unsubscribe(&self, member: MemberId) {
        let mut room = self.lock();
        let Some(gone) = room.members.remove(&member) else {
            return;
        };
        room.roster.release(&gone.name);
        let left = room.stamp(EventKind::Leave { name: gone.name });
        room.broadcast(&left, None);
    }

    fn publish(&self, from: MemberId, post: Post<'_>) -> Result<(), HubError> {
        let mut room = self.lock();
        let sender = room
            .members
            .get(&from)
            .map(|member| member.name.clone())
            .ok_or(HubError::NotSubscribed)?;
        match post {
            Post::Message(text) => {
                let published = room.stamp(EventKind::Message {
                    from: sender,
                    text: text.to_owned(),
                });
                room.broadcast(&published, None);
                if self.history_len > 0 {
                    if room.history.len() == self.history_len {
                        room.history.pop_front();
                    }
                    room.history.push_back(published);
                }
            }
            Post::Whisper { to, text } => {
                let (to_name, to_id) = room
                    .roster
                    .lookup(to)
                    .map(|(name, id)| (name.to_owned(), id))
                    .ok_or_else(|| HubError::NoSuchUser(to.to_owned()))?;
                let published = room.stamp(EventKind::Whisper {
                    from: sender,
                    to: to_name,
                    text: text.to_owned(),
                });
                for id in [from, to_id] {
                    if let Some(member) = room.members.get(&id) {
                        member.deliver(&published);
                    }
                    if to_id == from {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn rename(&self, member: MemberId, name: &str) -> Result<String, HubError> {
        let mut room = self.lock();
        let old = room
            .members
            .get(&member)
            .map(|member| member.name.clone())
            .ok_or(HubError::NotSubscribed)?;
        if old == name {
            return Ok(old);
        }
        room.roster.rename(member, &old, name)?;
        if let Some(entry) = room.members.get_mut(&member) {
            name.clone_into(&mut entry.name);
        }
        let renamed = room.stamp(EventKind::Nick {
            old: old.clone(),
            new: name.to_owned(),
        });
        room.broadcast(&renamed, None);
        Ok(old)
    }

    fn users(&self) -> Vec<String> {
        self.lock().roster.names()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::names::NameError;
    use crate::chat::outbox::{Next, Outbox, OutboxLimits};

    fn subscriber(format: WireFormat) -> Subscriber {
        Subscriber {
            outbox: Arc::new(Outbox::new(OutboxLimits::default())),
            format,
        }
    }

    /// Every line queued in `subscriber`'s outbox so far.
    fn drain(subscriber: &Subscriber) -> Vec<String> {
        let mut lines = Vec::new();
        while !subscriber.outbox.is_empty() {
            let next = futures_now(subscriber.outbox.next(1024));
            let Next::Frames(frames) = next else { break };
            for frame in frames {
                // A small unmasked text frame: two header bytes, then the payload.
                let payload = &frame.as_bytes()[frame_header_len(&frame)..];
                lines.push(String::from_utf8(payload.to_vec()).unwrap());
            }
        }
        lines
    }

    fn frame_header_len(frame: &EncodedFrame) -> usize {
        match frame.as_bytes()[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    fn futures_now<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn newcomers_get_history_then_greeting_and_others_see_the_join() {
        let hub = LocalHub::new(2);
        let a = subscriber(WireFormat::Plain);
        let alice = hub.subscribe(a.clone());
        for text in ["one", "two", "three"] {
            hub.publish(alice.id, Post::Message(text)).unwrap();
        }
        let b = subscriber(WireFormat::Plain);
        let bob = hub.subscribe(b.clone());
        assert_eq!(bob.name, "user1");
        assert_eq!(
            drain(&b),
            [
                "[user0]: two",
                "[user0]: three",
                "You are connected! There are 2 users here."
            ]
        );
        assert_eq!(
            drain(&a),
            [
                "You are connected! There are 1 users here.",
                "[user0]: one",
                "[user0]: two",
                "[user0]: three",
                "user1 joined"
            ]
        );
        hub.unsubscribe(bob.id);
        assert_eq!(drain(&a), ["user1 left"]);
        assert_eq!(hub.users(), ["user0"]);
    }

    #[test]
    fn history_replay_fits_in_half_the_newcomers_queue() {
        let hub = LocalHub::new(50);
        let talker = hub.subscribe(subscriber(WireFormat::Plain));
        for n in 0..10 {
            hub.publish(talker.id, Post::Message(&format!("m{n}")))
                .unwrap();
        }
        let small = Subscriber {
            outbox: Arc::new(Outbox::new(OutboxLimits {
                max_messages: 6,
                max_bytes: 1 << 20,
            })),
            format: WireFormat::Plain,
        };
        hub.subscribe(small.clone());
        assert_eq!(
            drain(&small),
            [
                "[user0]: m7",
                "[user0]: m8",
                "[user0]: m9",
                "You are connected! There are 2 users here."
            ]
        );
        assert!(!small.outbox.is_closing());
    }

    #[test]
    fn whispers_reach_only_sender_and_recipient_and_skip_history() {
        let hub = LocalHub::new(50);
        let (a, b, c) = (
            subscriber(WireFormat::Plain),
            subscriber(WireFormat::Plain),
            subscriber(WireFormat::Plain),
        );
        let alice = hub.subscribe(a.clone());
        hub.subscribe(b.clone());
        hub.subscribe(c.clone());
        for s in [&a, &b, &c] {
            drain(s);
        }
        hub.publish(
            alice.id,
            Post::Whisper {
                to: "USER1",
                text: "psst",
            },
        )
        .unwrap();
        assert_eq!(drain(&a), ["[user0 -> user1] (private): psst"]);
        assert_eq!(drain(&b), ["[user0 -> user1] (private): psst"]);
        assert!(drain(&c).is_empty());
        assert_eq!(
            hub.publish(
                alice.id,
                Post::Whisper {
                    to: "zed",
                    text: "x"
                }
            ),
            Err(HubError::NoSuchUser("zed".into()))
        );
        let d = subscriber(WireFormat::Plain);
        hub.subscribe(d.clone());
        assert_eq!(drain(&d), ["You are connected! There are 4 users here."]);
    }

    #[test]
    fn renames_are_announced_and_conflicts_refused() {
        let hub = LocalHub::new(0);
        let (a, b) = (subscriber(WireFormat::Plain), subscriber(WireFormat::Json));
        let alice = hub.subscribe(a.clone());
        let bob = hub.subscribe(b.clone());
        drain(&a);
        drain(&b);
        assert_eq!(hub.rename(alice.id, "alice"), Ok("user0".into()));
        assert_eq!(drain(&a), ["user0 is now known as alice"]);
        let json: serde_json::Value = serde_json::from_str(&drain(&b)[0]).unwrap();
        assert_eq!(json["type"], "nick");
        assert_eq!(json["to"], "alice");
        assert_eq!(
            hub.rename(bob.id, "Alice"),
            Err(HubError::Name(NameError::Taken("alice".into())))
        );
        assert!(matches!(
            hub.rename(bob.id, "a b"),
            Err(HubError::Name(NameError::InvalidChar(' ')))
        ));
        assert_eq!(hub.rename(alice.id, "alice"), Ok("alice".into()));
        assert!(drain(&a).is_empty(), "renaming to one's own name is silent");
    }

    #[test]
    fn each_event_is_encoded_once_per_format_and_shared() {
        let hub = LocalHub::new(10);
        let subscribers: Vec<Subscriber> = (0..4)
            .map(|i| {
                subscriber(if i % 2 == 0 {
                    WireFormat::Plain
                } else {
                    WireFormat::Json
                })
            })
            .collect();
        let ids: Vec<Membership> = subscribers
            .iter()
            .map(|s| hub.subscribe(s.clone()))
            .collect();
        for s in &subscribers {
            drain(s);
        }
        hub.publish(ids[0].id, Post::Message("shared")).unwrap();
        let frames: Vec<EncodedFrame> = subscribers
            .iter()
            .map(|s| match futures_now(s.outbox.next(8)) {
                Next::Frames(mut frames) => frames.remove(0),
                Next::Close(_) => panic!("closed"),
            })
            .collect();
        // Same format: the very same buffer, not an equal copy.
        assert_eq!(frames[0].as_bytes().as_ptr(), frames[2].as_bytes().as_ptr());
        assert_eq!(frames[1].as_bytes().as_ptr(), frames[3].as_bytes().as_ptr());
        assert_ne!(frames[0], frames[1]);
    }
}
