//! The room the peer chat servers share (`examples/peer-chat-*.rs`): naming, greeting, joins,
//! leaves and broadcasts to bounded per-client queues under one lock, generic over each crate's
//! message type, so that the three servers differ only in how they use their crate.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use clap::Parser;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::peer_runtime::runtime;

/// Messages queued for one client before it is dropped.
pub const QUEUE: usize = 1024;

/// Everyone's outgoing queue, in join order.
pub struct Room<M> {
    next_id: u64,
    clients: Vec<(u64, mpsc::Sender<M>)>,
    /// Builds the crate's message from a line of text.
    make: fn(String) -> M,
}

impl<M: Clone> Room<M> {
    /// An empty room whose messages are built with `make`.
    pub fn shared(make: fn(String) -> M) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self {
            next_id: 0,
            clients: Vec::new(),
            make,
        }))
    }

    /// Names a newcomer, queues its greeting and tells the others.
    pub fn join(&mut self) -> (u64, mpsc::Receiver<M>) {
        let id = self.next_id;
        self.next_id += 1;
        let (queue, receiver) = mpsc::channel(QUEUE);
        let greeting = format!(
            "You are connected! There are {} users here.",
            self.clients.len() + 1
        );
        // A fresh queue has room.
        let _ = queue.try_send((self.make)(greeting));
        self.broadcast((self.make)(format!("user{id} joined")));
        self.clients.push((id, queue));
        (id, receiver)
    }

    /// Broadcasts what `id` said, as `[userN]: text`, built once for everyone.
    pub fn say(&mut self, id: u64, text: &str) {
        self.broadcast((self.make)(format!("[user{id}]: {text}")));
    }

    /// Removes `id` if it is still here (it may have been dropped as too slow) and tells the rest.
    pub fn leave(&mut self, id: u64) {
        if let Some(at) = self.clients.iter().position(|(other, _)| *other == id) {
            self.clients.remove(at);
            self.broadcast((self.make)(format!("user{id} left")));
        }
    }

    /// Queues `message` to everyone; a client whose queue is full (or gone) is dropped, which
    /// closes its queue, and the others are told it left.
    fn broadcast(&mut self, message: M) {
        let mut pending = vec![message];
        while let Some(message) = pending.pop() {
            let mut dropped = Vec::new();
            self.clients.retain(|(id, queue)| {
                let kept = queue.try_send(message.clone()).is_ok();
                if !kept {
                    dropped.push(*id);
                }
                kept
            });
            let make = self.make;
            pending.extend(dropped.into_iter().map(|id| make(format!("user{id} left"))));
        }
    }
}

/// The room, even if a task panicked while holding it.
pub fn lock<M>(room: &Mutex<Room<M>>) -> MutexGuard<'_, Room<M>> {
    room.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A peer chat server's command line.
#[derive(Parser, Debug)]
#[command(about = "Peer chat server for the fan-out benchmark (load-test fanout)")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Worker threads: 1 runs a current-thread runtime (used for benchmarks).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Parses the command line, prints chat-server's start line, and serves every connection with
/// `serve` in a room whose messages `make` builds.
pub fn main_with<M, F, Fut>(make: fn(String) -> M, serve: F) -> std::io::Result<()>
where
    M: Clone + Send + 'static,
    F: Fn(TcpStream, Arc<Mutex<Room<M>>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let args = Args::parse();
    runtime(args.threads)?.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        println!("{}", wschat::chat::banner(listener.local_addr()?, false));
        let room = Room::shared(make);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream, Arc::clone(&room)));
        }
    })
}
