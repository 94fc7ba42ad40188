//! A module as the loader tracks it: Erlang's two versions (current and old), its processes
//! and which version each runs, and the locks of the upgrade protocol.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_runtime::{process, Pid};
use parking_lot::Mutex;

use crate::version::Version;

/// What happens to processes still running the old version when a third version is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PurgePolicy {
    /// Refuse the load ([`UpgradeError::OldCodeInUse`](crate::UpgradeError::OldCodeInUse)),
    /// as `code:soft_purge/1` does.
    #[default]
    Soft,
    /// Kill those processes (their supervisors restart them on the current version), as
    /// `code:purge/1` does.
    Brutal,
}

pub(crate) struct Versions {
    pub(crate) current: Arc<Version>,
    pub(crate) old: Option<Arc<Version>>,
}

pub(crate) struct ModuleSlot {
    pub(crate) name: String,
    pub(crate) versions: Mutex<Versions>,
    /// Live processes and the id of the version each runs.
    processes: Mutex<HashMap<Pid, u64>>,
    /// Held for reading by every starting process, for writing by an upgrade: starts wait
    /// while processes are being migrated, then run the new current version.
    pub(crate) gate: tokio::sync::RwLock<()>,
    /// Held for the whole of an upgrade or load: a second one is refused, not queued.
    pub(crate) changing: tokio::sync::Mutex<()>,
    pub(crate) migration_timeout: Duration,
    /// How many times its processes were suspended for a code change.
    pub(crate) suspensions: std::sync::atomic::AtomicU64,
}

impl ModuleSlot {
    pub(crate) fn new(first: Arc<Version>, migration_timeout: Duration) -> Self {
        ModuleSlot {
            name: first.name.clone(),
            versions: Mutex::new(Versions {
                current: first,
                old: None,
            }),
            processes: Mutex::new(HashMap::new()),
            gate: tokio::sync::RwLock::new(()),
            changing: tokio::sync::Mutex::new(()),
            migration_timeout,
            suspensions: Default::default(),
        }
    }

    pub(crate) fn current(&self) -> Arc<Version> {
        self.versions.lock().current.clone()
    }

    pub(crate) fn enter(&self, pid: Pid, version: u64) {
        self.processes.lock().insert(pid, version);
    }

    pub(crate) fn leave(&self, pid: Pid) {
        self.processes.lock().remove(&pid);
    }

    /// Live processes, with the version each runs. A process that died without its state
    /// being dropped yet is left out.
    pub(crate) fn processes(&self) -> Vec<(Pid, u64)> {
        let mut procs: Vec<_> = self
            .processes
            .lock()
            .iter()
            .filter(|(pid, _)| process::is_alive(**pid))
            .map(|(p, v)| (*p, *v))
            .collect();
        procs.sort();
        procs
    }
}
