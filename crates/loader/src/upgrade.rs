//! The swap protocol, after Erlang's release handler: block new starts of the module, suspend
//! its processes at a message boundary (their mailboxes keep filling), export every state with
//! the code that made it, migrate each with the target version, and only if every migration
//! succeeded, install the target as current, swap every state and resume. On any failure the
//! migrated states are dropped by the target's code and every process resumes on its old code
//! with its old state. Pids, mailboxes and waiting callers belong to the host throughout:
//! nothing is lost, and each process handles its queue in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotp_runtime::gen_server::Server;
use ferrotp_runtime::sys::{self, SysError};
use ferrotp_runtime::Pid;
use tokio::task::JoinSet;

use crate::error::{ModuleFault, UpgradeError};
use crate::module::{ModuleSlot, SharedState};
use crate::process::HotProcess;
use crate::version::{StateHandle, Version};

/// Which way the code moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The target's `code_change(from_vsn, state, extra)` reads the old state.
    Up,
    /// The running (newer) version's `downgrade(to_vsn)` writes the target's format, and the
    /// target reads it as its own.
    Down,
}

/// What a finished upgrade or downgrade did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpgradeReport {
    /// The module.
    pub module: String,
    /// The version that was current before.
    pub from: String,
    /// The version now current.
    pub to: String,
    /// The SHA-256 (hex) of the library now current.
    pub sha256: String,
    /// Processes migrated (each kept its pid, its queued messages and its callers).
    pub processes: usize,
    /// How long the processes were suspended (from the first suspend to the last resume).
    pub suspended_for: Duration,
}

struct Suspended {
    pid: Pid,
    server: Server<HotProcess>,
    state: SharedState,
}

enum Suspension {
    Done(Suspended),
    /// Died before it could be suspended: its supervisor restarts it on the new code.
    Gone,
    Failed(Pid, SysError),
}

async fn resume_all(servers: impl IntoIterator<Item = Server<HotProcess>>) {
    let mut set = JoinSet::new();
    for server in servers {
        set.spawn(async move {
            // A process that died meanwhile has nothing to resume.
            let _ = sys::resume(&server).await;
        });
    }
    while set.join_next().await.is_some() {}
}

/// Move every process of `slot` to `to`. The caller holds the slot's `changing` lock.
pub(crate) async fn migrate(
    slot: &Arc<ModuleSlot>,
    to: Arc<Version>,
    direction: Direction,
    extra: Vec<u8>,
) -> Result<UpgradeReport, UpgradeError> {
    // New starts wait from here until the new code is installed.
    let gate = slot.gate.write().await;
    let began = Instant::now();
    let from_current = slot.current();
    let targets = slot.processes();
    slot.suspensions
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);

    // 1. Suspend each process between two callbacks. Its mailbox keeps filling.
    let mut set = JoinSet::new();
    for member in targets {
        set.spawn(async move {
            let Ok(server) = Server::<HotProcess>::from_pid(member.pid) else {
                return Suspension::Gone;
            };
            match sys::suspend(&server).await {
                Ok(()) => Suspension::Done(Suspended {
                    pid: member.pid,
                    server,
                    state: member.state,
                }),
                Err(SysError::NoProc | SysError::Exit(_)) => Suspension::Gone,
                Err(e) => Suspension::Failed(member.pid, e),
            }
        });
    }
    let mut ready = Vec::new();
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined.expect("an upgrade step never panics") {
            Suspension::Done(s) => ready.push(s),
            Suspension::Gone => {}
            Suspension::Failed(pid, error) => {
                failure.get_or_insert(UpgradeError::Suspend { pid, error });
            }
        }
    }
    ready.sort_by_key(|s| s.pid);
    if let Some(e) = failure {
        resume_all(ready.into_iter().map(|s| s.server)).await;
        return Err(e);
    }

    // Export each state with the code that made it. The processes are suspended, so nothing
    // else touches their states: the lock is free.
    let exported: Result<Vec<(Pid, String, Vec<u8>)>, UpgradeError> = ready
        .iter()
        .filter_map(|s| {
            let state = s.state.lock();
            let handle = state.as_ref()?;
            let from = &handle.version;
            let bytes = match direction {
                Direction::Up => from.export_state(handle),
                Direction::Down => from.downgrade(handle, &to.vsn, &extra),
            };
            Some(
                bytes
                    .map(|b| (s.pid, from.vsn.clone(), b))
                    .map_err(|fault| UpgradeError::Migration {
                        pid: s.pid,
                        from: from.vsn.clone(),
                        to: to.vsn.clone(),
                        fault,
                    }),
            )
        })
        .collect();
    let jobs = match exported {
        Ok(jobs) => jobs,
        Err(e) => {
            resume_all(ready.into_iter().map(|s| s.server)).await;
            return Err(e);
        }
    };
    let extra = Arc::new(extra);

    // 2. Migrate with the target's code, off the runtime's threads: a migration is the
    //    module's code and may take long, or hang; the timeout covers each one.
    let migrated = run_migrations(&to, direction, jobs, extra, slot.migration_timeout).await;
    let new_states = match migrated {
        Ok(states) => states,
        Err((pid, fault)) => {
            let from = ready
                .iter()
                .find(|s| s.pid == pid)
                .and_then(|s| s.state.lock().as_ref().map(|h| h.version.vsn.clone()))
                .unwrap_or_default();
            resume_all(ready.into_iter().map(|s| s.server)).await;
            return Err(UpgradeError::Migration {
                pid,
                from,
                to: to.vsn.clone(),
                fault,
            });
        }
    };

    // 3. Commit: the target is current from now on (starts waiting at the gate get it), every
    //    process swaps to its migrated state and resumes.
    {
        let mut versions = slot.versions.lock();
        let previous = std::mem::replace(&mut versions.current, to.clone());
        versions.old = Some(previous);
    }
    let processes = new_states.len();
    let mut migrated: std::collections::HashMap<Pid, StateHandle> =
        new_states.into_iter().collect();
    let mut old_states = Vec::with_capacity(processes);
    for s in &ready {
        if let Some(new) = migrated.remove(&s.pid) {
            slot.moved(s.pid, new.version.id);
            old_states.push(s.state.lock().replace(new));
        }
    }
    // The old states are dropped by their own code, outside the locks.
    drop(old_states);
    resume_all(ready.into_iter().map(|s| s.server)).await;
    drop(gate);
    Ok(UpgradeReport {
        module: slot.name.clone(),
        from: from_current.vsn.clone(),
        to: to.vsn.clone(),
        sha256: to.sha256.clone(),
        processes,
        suspended_for: began.elapsed(),
    })
}

/// Run every migration on one blocking thread, in order; stop at the first failure. A
/// migration that outlives `timeout` fails the upgrade; its thread is abandoned (Rust cannot
/// stop a running function), with the states it made so far dropped.
async fn run_migrations(
    to: &Arc<Version>,
    direction: Direction,
    jobs: Vec<(Pid, String, Vec<u8>)>,
    extra: Arc<Vec<u8>>,
    timeout: Duration,
) -> Result<Vec<(Pid, StateHandle)>, (Pid, ModuleFault)> {
    let pids: Vec<Pid> = jobs.iter().map(|j| j.0).collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let target = to.clone();
    // A blocking-pool thread, not a plain one: on tokio's paused clock (tests), a running
    // blocking task keeps virtual time from jumping past the timeout.
    tokio::task::spawn_blocking(move || {
        for (pid, from_vsn, bytes) in jobs {
            let state = match direction {
                Direction::Up => target.code_change(&from_vsn, &bytes, &extra),
                Direction::Down => target.import_state(&bytes),
            };
            let failed = state.is_err();
            if tx.send((pid, state)).is_err() || failed {
                break;
            }
        }
    });
    let mut states = Vec::with_capacity(pids.len());
    while states.len() < pids.len() {
        let waiting_for = pids[states.len()];
        match tokio::time::timeout(timeout, rx.recv()).await {
            Ok(Some((pid, Ok(state)))) => states.push((pid, state)),
            Ok(Some((pid, Err(fault)))) => return Err((pid, fault)),
            Ok(None) => {
                return Err((
                    waiting_for,
                    ModuleFault::Error("the migration thread stopped".into()),
                ))
            }
            Err(_) => {
                tracing::error!(pid = %waiting_for, ?timeout, "a code_change did not return; its thread is abandoned");
                return Err((waiting_for, ModuleFault::Timeout(timeout)));
            }
        }
    }
    Ok(states)
}
