//! The nodes this node knows: an index for each name (the `node` of a [`Pid`]), and the state
//! of the connection to each.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::connection::Connection;
use crate::term::Atom;

/// Work waiting for a connection being set up: run with it once it is up, or with the reason
/// it failed. Runs in order, so that signals keep the order they were made in.
pub(crate) type Deferred = Box<dyn FnOnce(Result<&Arc<Connection>, &str>) + Send>;

/// The outcome of a connection attempt, for those waiting on it.
pub(crate) type Outcome = Option<Result<(), String>>;

pub(crate) enum Slot {
    /// A connection is being set up, by attempt `attempt` (ours, or an incoming handshake).
    Connecting {
        attempt: u64,
        deferred: Vec<Deferred>,
        done: watch::Sender<Outcome>,
    },
    Up(Arc<Connection>),
}

#[derive(Default)]
pub(crate) struct NodeTable {
    /// Index - 1 → name. Indexes are never reused: a pid's node always means the same name.
    names: Vec<Atom>,
    by_name: HashMap<Atom, u32>,
    pub(crate) slots: HashMap<u32, Slot>,
    next_attempt: u64,
}

impl NodeTable {
    /// The index of `name`, allocated on first sight.
    pub(crate) fn index(&mut self, name: &Atom) -> u32 {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        self.names.push(name.clone());
        let i = self.names.len() as u32;
        self.by_name.insert(name.clone(), i);
        i
    }

    /// The name of index `i`.
    pub(crate) fn name(&self, i: u32) -> Option<&Atom> {
        self.names.get((i as usize).checked_sub(1)?)
    }

    pub(crate) fn index_of(&self, name: &str) -> Option<u32> {
        self.by_name.get(&Atom::new(name)).copied()
    }

    pub(crate) fn new_attempt(&mut self) -> u64 {
        self.next_attempt += 1;
        self.next_attempt
    }

    /// The live connection to `i`.
    pub(crate) fn up(&self, i: u32) -> Option<&Arc<Connection>> {
        match self.slots.get(&i) {
            Some(Slot::Up(c)) if !c.is_closed() => Some(c),
            _ => None,
        }
    }

    /// The connected nodes.
    pub(crate) fn connected(&self) -> Vec<String> {
        self.slots
            .values()
            .filter_map(|s| match s {
                Slot::Up(c) if !c.is_closed() => Some(c.peer.name.clone()),
                _ => None,
            })
            .collect()
    }
}
