//! The run's phases: probe the server, start the clients, let them chat for the run's length,
//! stop the senders, drain (wait until every connected client has everything up to the last seq
//! anyone saw), tell everyone to account and close, and finally check that every message that
//! had to reach the room did.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use wschat::CloseCode;

use crate::client::{self, Phase, Shared};
use crate::connector::{CLOSE_TIMEOUT, CONNECT_TIMEOUT};
use crate::stats::Problem;

/// Bound on the drain after the senders stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The drain also waits until the room has been quiet this long (late `left` events).
const DRAIN_QUIET: Duration = Duration::from_millis(300);

/// Slack on top of the run's length for connecting, draining and closing.
const RUN_SLACK: Duration = Duration::from_secs(30);

/// What the run found beyond the stats.
pub struct Outcome {
    /// The clients did not all finish within the run's length + [`RUN_SLACK`].
    pub timed_out: bool,
    /// Clients that had not caught up when the drain gave up.
    pub behind_after_drain: usize,
    /// Soak messages that should have reached the room and did not.
    pub unpublished: u64,
}

/// Runs the soak; `Err` only for a setup problem (the server cannot be reached at all).
pub async fn soak(shared: Arc<Shared>) -> Result<Outcome, String> {
    let run = shared.plan.run;
    let deadline = Instant::now() + run + RUN_SLACK;
    probe(&shared).await?;

    let (phase, phase_rx) = watch::channel(Phase::Running);
    let started = Instant::now();
    let progress = tokio::spawn(progress(Arc::clone(&shared), started));
    let mut clients: Vec<_> = (0..shared.clients.len() as u32)
        .map(|id| tokio::spawn(client::run(id, Arc::clone(&shared), phase_rx.clone())))
        .collect();

    tokio::time::sleep_until(started + run).await;
    phase.send_replace(Phase::Stopping);
    let (last_seq, behind_after_drain) = drain(&shared).await;
    phase.send_replace(Phase::Finish { last_seq });

    let mut timed_out = false;
    for client in &mut clients {
        match tokio::time::timeout_at(deadline, client).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => shared
                .stats
                .problem(Problem::Error, || format!("a client task failed: {error}")),
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        let stuck = clients.iter().filter(|c| !c.is_finished()).count();
        eprintln!(
            "soak: {stuck} clients did not finish within {:?} (the run's length + {RUN_SLACK:?}); \
             their open connections are not in the totals",
            run + RUN_SLACK
        );
    }
    for client in clients {
        client.abort();
    }
    progress.abort();
    let unpublished = check_published(&shared);
    Ok(Outcome {
        timed_out,
        behind_after_drain,
        unpublished,
    })
}

/// One connection and a clean close before the clients start: turns an unreachable server or
/// a wrong URL into a setup error instead of hundreds of connect failures.
async fn probe(shared: &Shared) -> Result<(), String> {
    let url = shared.connector.url();
    let mut ws = tokio::time::timeout(CONNECT_TIMEOUT, shared.connector.connect(None))
        .await
        .map_err(|_| format!("connecting to {url} timed out"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(CloseCode::NORMAL, "soak probe")).await;
    Ok(())
}

/// Waits until the room is quiet and every connected client has received everything up to the
/// last seq anyone saw (and its own last message). Returns that seq and how many clients were
/// still behind if the wait timed out.
async fn drain(shared: &Shared) -> (u64, usize) {
    let give_up = Instant::now() + DRAIN_TIMEOUT;
    let mut last_seq = shared.room.last_seq();
    let mut quiet_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = Instant::now();
        let seq = shared.room.last_seq();
        if seq != last_seq {
            last_seq = seq;
            quiet_since = now;
        }
        let behind = shared
            .clients
            .iter()
            .filter(|client| !client.caught_up(last_seq))
            .count();
        if behind == 0 && now - quiet_since >= DRAIN_QUIET {
            return (last_seq, 0);
        }
        if now >= give_up {
            eprintln!(
                "soak: drain timed out after {DRAIN_TIMEOUT:?}: {behind} clients have not \
                 received everything up to seq {last_seq}"
            );
            return (last_seq, behind);
        }
    }
}

/// Counts the soak messages that had to reach the room (see `client.rs`) and were never seen.
fn check_published(shared: &Shared) -> u64 {
    let published = shared.room.published();
    let mut missing: Vec<_> = shared
        .stats
        .take_must_publish()
        .into_iter()
        .filter(|id| !published.contains(id))
        .collect();
    missing.sort_unstable_by_key(|id| (id.client, id.n));
    for id in &missing {
        shared.stats.problem(Problem::Unpublished, || {
            format!(
                "message c{}#{} was sent but never appeared in the room",
                id.client, id.n
            )
        });
    }
    missing.len() as u64
}

/// Prints a progress line to stderr every few seconds.
async fn progress(shared: Arc<Shared>, started: Instant) {
    let every = if shared.plan.run <= Duration::from_secs(30) {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(5)
    };
    let stats = &shared.stats;
    let mut last_delivered = 0;
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let now = Instant::now();
        let delivered = stats.delivered_live.load(Ordering::Relaxed);
        let per_second = (delivered - last_delivered) as f64 / (now - last).as_secs_f64();
        (last_delivered, last) = (delivered, now);
        let (_, problems) = stats.described_problems();
        eprintln!(
            "soak: t={:>3.0}s connected={}/{} sent={} deliveries/s={:.0} reconnects={} problems={}",
            (now - started).as_secs_f64(),
            stats.connected.load(Ordering::Relaxed),
            shared.clients.len(),
            stats.sent.load(Ordering::Relaxed),
            per_second,
            stats.reconnects.load(Ordering::Relaxed),
            problems
        );
    }
}
