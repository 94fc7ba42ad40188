//! The table of live local processes, keyed by serial.
//!
//! Sharded (`dashmap`), so spawns and exits on different cores rarely meet on a lock. Typed
//! sends never touch it: an [`Addr`](crate::Addr) points at its process directly. Only
//! pid-addressed operations (links, monitors, exit signals, `process_info`) look pids up here.

use std::hash::BuildHasherDefault;
use std::sync::{Arc, LazyLock};

use dashmap::DashMap;
use rustc_hash::FxHasher;

use super::cell::AnyProcess;
use crate::Pid;

type Table = DashMap<u64, Arc<dyn AnyProcess>, BuildHasherDefault<FxHasher>>;

static TABLE: LazyLock<Table> = LazyLock::new(Table::default);

pub(crate) fn insert(pid: Pid, p: Arc<dyn AnyProcess>) {
    TABLE.insert(pid.serial(), p);
}

pub(crate) fn remove(pid: Pid) {
    TABLE.remove(&pid.serial());
}

pub(crate) fn get(pid: Pid) -> Option<Arc<dyn AnyProcess>> {
    if !pid.is_local() {
        return None;
    }
    let p = TABLE.get(&pid.serial())?.value().clone();
    // A serial from another incarnation of this node never names a live process.
    (p.core().pid == pid).then_some(p)
}

pub(crate) fn pids() -> Vec<Pid> {
    TABLE.iter().map(|e| e.value().core().pid).collect()
}

/// Every live process, for a snapshot: the shards are read one at a time, never all locked.
pub(crate) fn all() -> Vec<Arc<dyn AnyProcess>> {
    let mut all = Vec::with_capacity(TABLE.len());
    all.extend(TABLE.iter().map(|e| e.value().clone()));
    all
}

pub(crate) fn len() -> usize {
    TABLE.len()
}
