//! A module as the loader tracks it: Erlang's two versions (current and old), its processes
//! and which version each runs, its dynamic supervisor, and the locks of the upgrade protocol.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp_runtime::supervisor::{DynamicSupervisor, DynamicSupervisorFlags};
use ferrotp_runtime::{process, Pid};
use parking_lot::Mutex;

use crate::version::{StateHandle, Version};

/// A hot process's module state, shared by the process and the upgrade protocol. The process
/// locks it for each callback; an upgrade takes the handle out only while the process is
/// suspended, and puts a handle back before resuming it.
pub(crate) type SharedState = Arc<Mutex<StateSlot>>;

/// What a hot process holds of its module.
pub(crate) struct StateSlot {
    /// The state; `None` while an upgrade migrates it, and for good if the upgrade had to
    /// abandon it (the process is then stopped).
    pub(crate) handle: Option<StateHandle>,
    /// The version the process runs, for `sys` statistics.
    pub(crate) vsn: Arc<str>,
}

impl StateSlot {
    pub(crate) fn new(handle: StateHandle) -> SharedState {
        let vsn = Arc::from(handle.version().vsn.as_str());
        Arc::new(Mutex::new(StateSlot {
            handle: Some(handle),
            vsn,
        }))
    }

    /// Install `handle` (of a new version) as the state.
    pub(crate) fn install(&mut self, handle: StateHandle) -> Option<StateHandle> {
        self.vsn = Arc::from(handle.version().vsn.as_str());
        self.handle.replace(handle)
    }
}

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
    /// Whether `old` is the newer of the two (after a downgrade): then it is no downgrade
    /// target.
    pub(crate) old_is_newer: bool,
}

/// Timeouts of the upgrade protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub(crate) suspend: Duration,
    pub(crate) migration: Duration,
}

pub(crate) struct ModuleSlot {
    pub(crate) name: String,
    pub(crate) versions: Mutex<Versions>,
    /// Live processes, the id of the version each runs, and their states.
    processes: Mutex<HashMap<Pid, Member>>,
    /// Held for reading by every starting process, for writing by an upgrade: starts wait
    /// while processes are being migrated, then run the new current version.
    pub(crate) gate: tokio::sync::RwLock<()>,
    /// Set for the whole of an upgrade or load: a second one is refused, not queued.
    changing: AtomicBool,
    pub(crate) deadlines: Deadlines,
    /// How many times its processes were suspended for a code change.
    pub(crate) suspensions: AtomicU64,
    /// Where the module's own spawns (`Host::spawn`) run: started on first use, and again
    /// if it gave up.
    supervisor: tokio::sync::Mutex<Option<DynamicSupervisor>>,
}

/// Held while a module's code changes; clears the flag when dropped.
pub(crate) struct Changing(Arc<ModuleSlot>);

impl Drop for Changing {
    fn drop(&mut self) {
        self.0.changing.store(false, Ordering::Release);
    }
}

impl ModuleSlot {
    pub(crate) fn new(first: Arc<Version>, deadlines: Deadlines) -> Self {
        ModuleSlot {
            name: first.name.clone(),
            versions: Mutex::new(Versions {
                current: first,
                old: None,
                old_is_newer: false,
            }),
            processes: Mutex::new(HashMap::new()),
            gate: tokio::sync::RwLock::new(()),
            changing: AtomicBool::new(false),
            deadlines,
            suspensions: AtomicU64::new(0),
            supervisor: tokio::sync::Mutex::new(None),
        }
    }

    /// Start changing the module's code, or `None` if a change is already running.
    pub(crate) fn begin_change(self: &Arc<Self>) -> Option<Changing> {
        self.changing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Changing(self.clone()))
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

    /// The module's dynamic supervisor, started now if there is none running.
    pub(crate) async fn supervisor(&self) -> Option<DynamicSupervisor> {
        let mut sup = self.supervisor.lock().await;
        if let Some(s) = sup
            .as_ref()
            .filter(|s| s.pid().is_some_and(process::is_alive))
        {
            return Some(s.clone());
        }
        match DynamicSupervisor::start(DynamicSupervisorFlags::new()).await {
            Ok(s) => {
                *sup = Some(s.clone());
                Some(s)
            }
            Err(e) => {
                tracing::error!(module = %self.name, error = %e, "could not start the module's supervisor");
                None
            }
        }
    }
}
