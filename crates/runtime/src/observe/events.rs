//! The runtime's event log: crash reports, restarts, escalations and code upgrades, the last
//! [`CRASH_LOG_LEN`] of them kept in memory, and each pushed to whoever subscribed.
//!
//! Written by supervisors and the loader as things happen, whether or not anyone watches: a
//! crash log must hold the crashes from before the observer was opened. Recording is one
//! uncontended lock and no formatting; a reason is kept as the [`ExitReason`] itself.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::{ExitReason, Pid};

/// How many crash-log events are kept (crashes, restarts, escalations).
pub const CRASH_LOG_LEN: usize = 1000;

/// How many upgrade events are kept.
pub const UPGRADE_LOG_LEN: usize = 200;

/// Something that happened to the running system.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// Its place in the log: strictly increasing, never reused.
    pub seq: u64,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

/// What happened, in OTP's words.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind {
    /// A supervised child terminated abnormally (OTP's supervisor report `child_terminated`).
    Crash {
        /// The child's process.
        pid: Pid,
        /// Its supervisor.
        supervisor: Pid,
        /// Its id in the supervisor's child specs.
        child_id: Arc<str>,
        /// Why it terminated.
        reason: ExitReason,
        /// Whether the supervisor restarts it.
        restarting: bool,
    },
    /// A supervisor restarted a child.
    Restart {
        /// The supervisor.
        supervisor: Pid,
        /// The child's id.
        child_id: Arc<str>,
        /// The child's new process.
        pid: Pid,
    },
    /// A supervisor reached its restart intensity and shut down, handing the failure to its
    /// own supervisor (OTP's `reached_max_restart_intensity`).
    Escalation {
        /// The supervisor that gave up.
        supervisor: Pid,
        /// The child whose failure was one too many.
        child_id: Arc<str>,
    },
    /// A hot module's processes moved to another version, or tried to.
    Upgrade(UpgradeRecord),
}

/// One upgrade or downgrade of a hot module, as the loader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpgradeRecord {
    /// The module.
    pub module: String,
    /// The version its processes ran.
    pub from: String,
    /// The version they were moved to.
    pub to: String,
    /// Processes migrated (on a commit) or given their state back (on a rollback).
    pub processes: usize,
    /// From the first suspend to the last resume.
    pub duration: Duration,
    /// `None` when committed; why it was rolled back otherwise.
    pub rolled_back: Option<String>,
}

impl UpgradeRecord {
    /// A record of an upgrade or downgrade of `module` from `from` to `to`.
    pub fn new(
        module: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
        processes: usize,
        duration: Duration,
        rolled_back: Option<String>,
    ) -> UpgradeRecord {
        UpgradeRecord {
            module: module.into(),
            from: from.into(),
            to: to.into(),
            processes,
            duration,
            rolled_back,
        }
    }
}

struct Log {
    next_seq: u64,
    crashes: VecDeque<Event>,
    upgrades: VecDeque<Event>,
}

struct Hub {
    log: Mutex<Log>,
    tx: broadcast::Sender<Event>,
}

static HUB: LazyLock<Hub> = LazyLock::new(|| Hub {
    log: Mutex::new(Log {
        next_seq: 1,
        crashes: VecDeque::new(),
        upgrades: VecDeque::new(),
    }),
    tx: broadcast::channel(1024).0,
});

/// Append an event, and push it to the subscribers.
pub(crate) fn record(kind: EventKind) {
    let hub = &*HUB;
    let mut log = hub.log.lock();
    let event = Event {
        seq: log.next_seq,
        at: SystemTime::now(),
        kind,
    };
    log.next_seq += 1;
    let (queue, cap) = match event.kind {
        EventKind::Upgrade(_) => (&mut log.upgrades, UPGRADE_LOG_LEN),
        _ => (&mut log.crashes, CRASH_LOG_LEN),
    };
    if queue.len() == cap {
        queue.pop_front();
    }
    // Sent under the log's lock, so subscribers see events in `seq` order; a send to no
    // subscriber is a counter check. The send may wake a subscriber under this lock: none of
    // them ever takes it (they read their channel, and `crash_log` only on a lag), so a woken
    // one never spins on it.
    if hub.tx.receiver_count() > 0 {
        let _ = hub.tx.send(event.clone());
    }
    queue.push_back(event);
}

/// Record a code upgrade or downgrade: for code-loading tools (ferrotp's loader calls it after
/// every upgrade that got as far as suspending processes, committed or rolled back).
pub fn record_upgrade(record: UpgradeRecord) {
    self::record(EventKind::Upgrade(record));
}

/// The crash log: the last [`CRASH_LOG_LEN`] crashes, restarts and escalations, oldest first.
pub fn crash_log() -> Vec<Event> {
    HUB.log.lock().crashes.iter().cloned().collect()
}

/// The last [`UPGRADE_LOG_LEN`] upgrades and downgrades, oldest first.
pub fn upgrade_history() -> Vec<Event> {
    HUB.log.lock().upgrades.iter().cloned().collect()
}

/// Every event from now on, as it happens.
///
/// A subscriber that falls more than 1,024 events behind misses the oldest of them and is told
/// so ([`broadcast::error::RecvError::Lagged`]); the logs still hold them.
pub fn subscribe() -> broadcast::Receiver<Event> {
    HUB.tx.subscribe()
}
