//! One soak client: a single task that connects, checks everything it receives, sends at its
//! jittered rate and, if it is a churning client, drops its connection abruptly now and then
//! and reconnects as a new user.
//!
//! Each connection is one loop over `select!`: the run's phase, the send timer, the churn timer,
//! the greeting deadline and `recv` (cancel-safe), so no task is split and no lock is held
//! across an await. Per delivery the work is one JSON parse into borrowed fields, the sequence
//! check, one sharded-map lookup and a few relaxed atomics.

use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use wschat::ws::ClientStream;
use wschat::{CloseCode, Message, WebSocket};

use crate::checker::RoomRecord;
use crate::connector::{Connector, CLOSE_TIMEOUT, CONNECT_TIMEOUT};
use crate::sequence::{Arrival, SequenceTracker};
use crate::stats::{ClientState, ClientStatus, Problem, Stats};
use crate::wire::{message_json, message_text, parse_message_text, SentId, ServerEvent};

/// A message sent this long before its connection ended must have reached the room.
const PUBLISH_GRACE_MICROS: u64 = 2_000_000;

/// Pause before reconnecting after a failure (connect error, unexpected close).
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The shape of the run, the same for every client.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Mean time between two messages of one client.
    pub mean_interval: Duration,
    /// Clients `0..churners` churn.
    pub churners: u32,
    /// Length of the sending phase.
    pub run: Duration,
}

/// Everything the clients share.
pub struct Shared {
    /// The time base of the send times in message texts.
    pub base: std::time::Instant,
    pub room: RoomRecord,
    pub stats: Stats,
    pub clients: Box<[ClientStatus]>,
    pub connector: Connector,
    pub plan: Plan,
}

impl Shared {
    pub fn new(clients: u32, connector: Connector, plan: Plan) -> Self {
        Self {
            base: std::time::Instant::now(),
            room: RoomRecord::new(),
            stats: Stats::default(),
            clients: (0..clients).map(|_| ClientStatus::new()).collect(),
            connector,
            plan,
        }
    }

    /// Microseconds since the soak started.
    pub fn micros(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }
}

/// The run's phase, broadcast by the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Send, churn, reconnect.
    Running,
    /// Stop sending and churning; keep receiving (the coordinator drains).
    Stopping,
    /// Account for everything up to the room's `last_seq`, then close with 1000.
    Finish { last_seq: u64 },
}

/// How a connection ended.
enum End {
    /// The soak dropped it on purpose (churn).
    Dropped,
    /// The server closed it, or it failed.
    Unexpected,
    /// Closed normally at the end of the run.
    Finished,
}

/// Runs client `id` until the run finishes.
pub async fn run(id: u32, shared: Arc<Shared>, mut phase: watch::Receiver<Phase>) {
    let mut client = Client {
        id,
        shared: &shared,
        status: &shared.clients[id as usize],
        rng: StdRng::from_entropy(),
        counter: 0,
        connections: 0,
        drops: 0,
    };
    while *phase.borrow_and_update() == Phase::Running {
        client.status.set_state(ClientState::Connecting);
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, shared.connector.connect(Some(id))).await;
        let ws = match connected {
            Ok(Ok(ws)) => ws,
            failed => {
                let error = failed.unwrap_or_else(|_| Err("timed out".into())).err();
                shared.stats.problem(Problem::ConnectFailure, || {
                    format!(
                        "client {id}: cannot connect to {}: {}",
                        shared.connector.url(),
                        error.unwrap_or_default()
                    )
                });
                client.status.set_state(ClientState::Away);
                pause(RETRY_PAUSE, &mut phase).await;
                continue;
            }
        };
        if client.connections > 0 {
            shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        client.connections += 1;
        let end = client.connection(ws, &mut phase).await;
        client.status.set_state(ClientState::Away);
        match end {
            End::Finished => break,
            End::Dropped => {
                let wait = Duration::from_millis(client.rng.gen_range(100..=1000));
                pause(wait, &mut phase).await;
            }
            End::Unexpected => pause(RETRY_PAUSE, &mut phase).await,
        }
    }
    client.status.set_state(ClientState::Done);
}

/// Sleeps for `duration`, or less if the run leaves the running phase.
async fn pause(duration: Duration, phase: &mut watch::Receiver<Phase>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = phase.wait_for(|phase| *phase != Phase::Running) => {}
    }
}

struct Client<'a> {
    id: u32,
    shared: &'a Shared,
    status: &'a ClientStatus,
    rng: StdRng,
    /// Messages sent so far, over all connections (the `n` of the next message).
    counter: u64,
    connections: u64,
    drops: u64,
}

impl Client<'_> {
    /// One connection, from the handshake to its end; adds its results to the stats.
    async fn connection(
        &mut self,
        mut ws: WebSocket<ClientStream>,
        phase: &mut watch::Receiver<Phase>,
    ) -> End {
        let shared = self.shared;
        let plan = &shared.plan;
        let mut conn = Connection::new(self.id, self.connections);
        let far_future = Instant::now() + Duration::from_secs(365 * 24 * 3600);

        let initial = *phase.borrow_and_update();
        if matches!(initial, Phase::Finish { .. }) {
            // Connected only after the run finished (the drain gave up on this client).
            let _ =
                tokio::time::timeout(CLOSE_TIMEOUT, ws.close(CloseCode::NORMAL, "soak done")).await;
            return End::Finished;
        }
        let mut running = initial == Phase::Running;
        let first_send = plan.mean_interval.mul_f64(self.rng.gen_range(0.0..1.0));
        let mut send_timer = pin!(sleep_until(Instant::now() + first_send));
        let drop_at = (self.id < plan.churners).then(|| {
            let lifetime = plan.run.mul_f64(self.rng.gen_range(0.1..0.5));
            Instant::now() + lifetime.max(Duration::from_millis(300))
        });
        let mut churn_timer = pin!(sleep_until(drop_at.unwrap_or(far_future)));
        let mut greeting_timer = pin!(sleep_until(Instant::now() + CONNECT_TIMEOUT));

        let (end, last_seq) = loop {
            tokio::select! {
                biased;
                changed = phase.changed() => {
                    let current = match changed {
                        Ok(()) => *phase.borrow_and_update(),
                        // The coordinator is gone: nothing left to check against.
                        Err(_) => Phase::Finish { last_seq: 0 },
                    };
                    match current {
                        Phase::Running => {}
                        Phase::Stopping => running = false,
                        Phase::Finish { last_seq } => break (End::Finished, Some(last_seq)),
                    }
                }
                () = &mut greeting_timer, if conn.tracker.is_none() => {
                    shared.stats.unexpected_close(1006, || {
                        format!("{}: no greeting within {CONNECT_TIMEOUT:?}", conn.who())
                    });
                    break (End::Unexpected, None);
                }
                () = &mut churn_timer, if running && drop_at.is_some() => {
                    self.prepare_abrupt_drop(&ws);
                    break (End::Dropped, None);
                }
                () = &mut send_timer, if running && conn.tracker.is_some() => {
                    if let Err(error) = self.send(&mut ws, &mut conn).await {
                        shared.stats.unexpected_close(1006, || {
                            format!("{}: sending failed: {error}", conn.who())
                        });
                        break (End::Unexpected, None);
                    }
                    let jitter = self.rng.gen_range(0.5..1.5);
                    send_timer.as_mut().reset(Instant::now() + plan.mean_interval.mul_f64(jitter));
                }
                message = ws.recv() => match message {
                    Some(Ok(Message::Text(text))) => conn.on_text(text.as_str(), shared, self.status),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Binary(data))) => shared.stats.problem(Problem::Error, || {
                        format!("{}: a binary message of {} bytes from the server", conn.who(), data.len())
                    }),
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame.map_or((1005, String::new()), |f| (f.code.as_u16(), f.reason));
                        shared.stats.unexpected_close(code, || {
                            format!("{}: the server closed with {code} {reason:?}", conn.who())
                        });
                        break (End::Unexpected, None);
                    }
                    Some(Err(error)) => {
                        let code = match &error {
                            wschat::Error::Protocol(violation) => violation.close_code().as_u16(),
                            _ => 1006,
                        };
                        shared.stats.unexpected_close(code, || {
                            format!("{}: connection failed: {error}", conn.who())
                        });
                        break (End::Unexpected, None);
                    }
                    None => {
                        shared.stats.unexpected_close(1006, || {
                            format!("{}: the connection ended without a close frame", conn.who())
                        });
                        break (End::Unexpected, None);
                    }
                },
            }
        };
        let ended_micros = shared.micros();
        self.status.set_awaiting_own(false);
        if !matches!(end, End::Finished) {
            // Dropped (on purpose, or after a failure) without a close frame.
            drop(ws);
            conn.account(shared, None, ended_micros);
            return end;
        }
        conn.account(shared, last_seq, ended_micros);
        // Only the verdict's fd count depends on this; a slow close is not a soak failure.
        let closed = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(CloseCode::NORMAL, "soak done"));
        match closed.await {
            Ok(Ok(()) | Err(wschat::Error::Closed(_))) => {}
            Ok(Err(error)) => eprintln!("soak: {}: closing handshake failed: {error}", conn.who()),
            Err(_) => eprintln!("soak: {}: closing handshake timed out", conn.who()),
        }
        end
    }

    async fn send(
        &mut self,
        ws: &mut WebSocket<ClientStream>,
        conn: &mut Connection,
    ) -> Result<(), wschat::Error> {
        let n = self.counter;
        self.counter += 1;
        let sent_micros = self.shared.micros();
        let text = message_text(self.id, n, sent_micros);
        self.status.set_awaiting_own(true);
        conn.last_sent = Some(n);
        ws.send(Message::text(message_json(&text))).await?;
        conn.sent.push((n, sent_micros));
        self.shared.stats.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Prepares dropping the connection without a close frame: with a FIN, or (every other
    /// drop) with an RST by setting SO_LINGER to zero first.
    fn prepare_abrupt_drop(&mut self, ws: &WebSocket<ClientStream>) {
        let stats = &self.shared.stats;
        if (u64::from(self.id) + self.drops) % 2 == 0
            && ws.get_ref().tcp().set_zero_linger().is_ok()
        {
            stats.dropped_rst.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.dropped_fin.fetch_add(1, Ordering::Relaxed);
        }
        self.drops += 1;
    }
}

/// The state of one connection.
struct Connection {
    client: u32,
    /// 1 for the client's first connection.
    number: u64,
    /// Set by the greeting.
    tracker: Option<SequenceTracker>,
    name: String,
    /// (n, send time) of every message sent on this connection.
    sent: Vec<(u64, u64)>,
    last_sent: Option<u64>,
    latencies_us: Vec<u32>,
}

impl Connection {
    fn new(client: u32, number: u64) -> Self {
        Self {
            client,
            number,
            tracker: None,
            name: String::new(),
            sent: Vec::new(),
            last_sent: None,
            latencies_us: Vec::new(),
        }
    }

    /// Names the connection in problem descriptions.
    fn who(&self) -> String {
        format!(
            "client {} connection {} ({})",
            self.client,
            self.number,
            if self.name.is_empty() {
                "not greeted"
            } else {
                &self.name
            }
        )
    }

    fn on_text(&mut self, json: &str, shared: &Shared, status: &ClientStatus) {
        let stats = &shared.stats;
        let event = match ServerEvent::parse(json) {
            Ok(event) => event,
            Err(error) => {
                return stats.problem(Problem::Error, || {
                    format!(
                        "{}: unreadable server message {json:?}: {error}",
                        self.who()
                    )
                })
            }
        };
        if event.kind == "error" {
            // Most likely our last message was refused: do not wait for it in the drain.
            status.set_awaiting_own(false);
            return stats.problem(Problem::Error, || {
                format!(
                    "{}: the server sent an error: {:?}",
                    self.who(),
                    event.text()
                )
            });
        }
        let Some(seq) = event.seq else {
            return; // a reply to this connection only (`users`, `/help`)
        };
        let Some(tracker) = &mut self.tracker else {
            match event.greeting_name() {
                Some(you) => self.greeted(seq, you, shared, status),
                // History, replayed before the greeting: only its content is checked.
                None => self.check_content(seq, &event, shared),
            }
            return;
        };
        if event.greeting_name().is_some() {
            return stats.problem(Problem::Error, || {
                format!("{}: a second greeting (seq {seq})", self.who())
            });
        }
        let expected = tracker.contiguous() + 1;
        let arrival = tracker.observe(seq);
        if arrival.is_delivery() {
            stats.delivered_live.fetch_add(1, Ordering::Relaxed);
            status.set_progress(tracker.contiguous());
            if event.kind == "message" {
                if let Some((sender, sent_micros)) = parse_message_text(event.text()) {
                    let latency = shared.micros().saturating_sub(sent_micros);
                    self.latencies_us
                        .push(u32::try_from(latency).unwrap_or(u32::MAX));
                    if sender.client == self.client && Some(sender.n) == self.last_sent {
                        status.set_awaiting_own(false);
                    }
                }
            }
        }
        match arrival {
            Arrival::InOrder => {}
            Arrival::Skipped(skipped) => stats.problem(Problem::Gap, || {
                format!(
                    "{}: seq {seq} arrived when {expected} was expected ({skipped} skipped)",
                    self.who()
                )
            }),
            Arrival::Late | Arrival::BeforeGreeting => stats.problem(Problem::OutOfOrder, || {
                format!("{}: seq {seq} arrived after {}", self.who(), expected - 1)
            }),
            Arrival::Duplicate => stats.problem(Problem::Duplicate, || {
                format!("{}: seq {seq} arrived again", self.who())
            }),
        }
        self.check_content(seq, &event, shared);
    }

    fn greeted(&mut self, seq: u64, you: &str, shared: &Shared, status: &ClientStatus) {
        self.tracker = Some(SequenceTracker::new(seq));
        you.clone_into(&mut self.name);
        // The greeting carries the seq of our own join, which everyone else saw as a `join`.
        let joined = format!("{you} joined");
        if let Err(mismatch) = shared.room.check(seq, "join", Some(you), &joined) {
            shared.stats.problem(Problem::Mismatch, || {
                format!(
                    "{}: greeted with seq {seq}, but others saw {} there",
                    self.who(),
                    mismatch.recorded
                )
            });
        }
        status.set_progress(seq);
        status.set_state(ClientState::Connected);
        shared.stats.connected.fetch_add(1, Ordering::Relaxed);
    }

    fn check_content(&self, seq: u64, event: &ServerEvent<'_>, shared: &Shared) {
        let checked = shared
            .room
            .check(seq, &event.kind, event.from.as_deref(), event.text());
        if let Err(mismatch) = checked {
            shared.stats.problem(Problem::Mismatch, || {
                format!(
                    "{}: seq {}: first seen as {}, here as {}",
                    self.who(),
                    mismatch.seq,
                    mismatch.recorded,
                    mismatch.seen
                )
            });
        }
    }

    /// Adds this connection's results to the stats. `last_seq`: the room's last seq if the
    /// connection lasted to the end of the run.
    fn account(&mut self, shared: &Shared, last_seq: Option<u64>, ended_micros: u64) {
        let Some(tracker) = &self.tracker else {
            return;
        };
        shared.stats.connected.fetch_sub(1, Ordering::Relaxed);
        let totals = tracker.finish(last_seq);
        if last_seq.is_some() && totals.lost > tracker.lost() {
            let missing = totals.lost - tracker.lost();
            shared.stats.problem(Problem::Gap, || {
                format!(
                    "{}: at the end, {missing} events up to seq {} never arrived (got up to {})",
                    self.who(),
                    last_seq.unwrap_or_default(),
                    tracker.contiguous()
                )
            });
        }
        let finished = last_seq.is_some();
        let client = self.client;
        let must_publish = self
            .sent
            .iter()
            .filter(|&&(_, sent)| finished || sent + PUBLISH_GRACE_MICROS <= ended_micros)
            .map(|&(n, _)| SentId { client, n });
        shared
            .stats
            .connection_done(&totals, &mut self.latencies_us, must_publish);
    }
}
