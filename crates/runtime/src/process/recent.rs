//! The reasons of recent exits, for [`await_exit`](super::await_exit) on a process that has
//! already gone.
//!
//! A fixed table of [`SLOTS`] entries indexed by pid serial: each exit overwrites its slot, so
//! the table holds the reasons of roughly the last `SLOTS` exits and costs one uncontended lock
//! per exit. Pid serials are never reused within a runtime's life, so a pid whose serial was
//! never handed out, or that belongs to another node or incarnation, names no process that
//! ever lived here.

use std::sync::LazyLock;

use parking_lot::Mutex;

use crate::{ExitReason, Pid};

/// How many exits are remembered (at most; two recent pids may share a slot).
pub(crate) const SLOTS: usize = 1024;

type Table = Box<[Mutex<Option<(u64, ExitReason)>>]>;

static RECENT: LazyLock<Table> = LazyLock::new(|| (0..SLOTS).map(|_| Mutex::new(None)).collect());

fn slot(pid: Pid) -> &'static Mutex<Option<(u64, ExitReason)>> {
    &RECENT[(pid.serial() % SLOTS as u64) as usize]
}

/// Remember why `pid` exited.
pub(crate) fn record(pid: Pid, reason: &ExitReason) {
    let previous = slot(pid).lock().replace((pid.serial(), reason.clone()));
    // The reason it replaces is dropped outside the lock.
    drop(previous);
}

/// Why `pid` exited, if it did recently.
pub(crate) fn lookup(pid: Pid) -> Option<ExitReason> {
    if !pid.is_local() || pid.creation() != crate::pid::local_creation() {
        return None;
    }
    match &*slot(pid).lock() {
        Some((serial, reason)) if *serial == pid.serial() => Some(reason.clone()),
        _ => None,
    }
}
