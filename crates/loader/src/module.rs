//! A module as the loader tracks it: Erlang's two versions (current and old), its processes
//! and which version each runs, and the locks of the upgrade protocol.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_runtime::{process, Pid};
use parking_lot::Mutex;

use crate::version::{StateHandle, Version};

/// A hot process's module state, shared by the process and the upgrade protocol. The process
/// locks it for each callback; an upgrade locks it only while the process is suspended, so the
/// lock is never contended in practice, and it spares two `sys` round trips per process.
pub(crate) type SharedState = Arc<Mutex<Option<StateHandle>>>;

/// A live process of the module, as the loader tracks it.
#[derive(Clone)]
pub(crate) struct Member {
    pub(crate) pid: Pid,
    /// The id of the version its state belongs to.
    pub(crate) version: u64,
    pub(crate) state: SharedState,
}

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
    /// Live processes, the id of the version each runs, and their states.
    processes: Mutex<HashMap<Pid, Member>>,
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

    pub(crate) fn enter(&self, pid: Pid, version: u64, state: SharedState) {
        self.processes.lock().insert(
            pid,
            Member {
                pid,
                version,
                state,
            },
        );
    }

    pub(crate) fn moved(&self, pid: Pid, version: u64) {
        if let Some(m) = self.processes.lock().get_mut(&pid) {
            m.version = version;
        }
    }

    pub(crate) fn leave(&self, pid: Pid) {
        self.processes.lock().remove(&pid);
    }

    /// Live processes, with the version each runs. A process that died without its state
    /// being dropped yet is left out.
    pub(crate) fn processes(&self) -> Vec<Member> {
        let mut procs: Vec<Member> = self
            .processes
            .lock()
            .values()
            .filter(|m| process::is_alive(m.pid))
            .cloned()
            .collect();
        procs.sort_by_key(|m| m.pid);
        procs
    }
}
