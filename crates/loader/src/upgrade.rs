//! The swap protocol, after Erlang's release handler: block new starts of the module, suspend
//! its processes at a message boundary (their mailboxes keep filling), take every state, export
//! each with the code that made it and migrate it with the target version, and only if every
//! migration succeeded, install the target as current, give every process its new state and
//! resume it. On any failure every process gets its own state back and resumes on its old
//! code. Pids, mailboxes and waiting callers belong to the host throughout: nothing is lost,
//! and each process handles its queue in order.
//!
//! # It never wedges
//!
//! * Every wait has a deadline: each suspend (`suspend_timeout`), and each state's export plus
//!   migration (`migration_timeout`), which run on a thread of their own, one state at a time.
//! * A suspend that times out does not take effect later: a process suspends only if the
//!   upgrade still waits for its answer (see `sys::suspend`).
//! * A state whose export or migration did not return is the only thing lost: the thread
//!   still holds it, so its process cannot be given it back. That process is stopped, and its
//!   supervisor restarts it on the current code. Every other process resumes with its state.
//! * The states let go of (the old ones after a commit, the new ones after a rollback) are
//!   dropped on a detached thread after the processes resumed: a destructor that hangs holds
//!   up nothing.
//! * The protocol runs in a task of its own: a caller that stops waiting for it (a dropped
//!   future) does not leave it half done.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ferrotp_runtime::gen_server::Server;
use ferrotp_runtime::observe::{self, UpgradeRecord};
use ferrotp_runtime::sys::{self, SysError};
use ferrotp_runtime::{process, ExitReason, Pid};
use parking_lot::Mutex;
use tokio::task::JoinSet;

use crate::deadline;
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

/// Resume every process; each either answers or is gone. A process whose state was lost
/// is not resumed: it is being stopped.
async fn resume_all(servers: impl IntoIterator<Item = Server<HotProcess>>, timeout: Duration) {
    let mut set = JoinSet::new();
    for server in servers {
        set.spawn(async move {
            if let Some(pid) = server.pid() {
                observe::set_upgrading(pid, false);
            }
            let _ = sys::resume(&server, Some(timeout)).await;
        });
    }
    while set.join_next().await.is_some() {}
}

/// One state to move, taken from its (suspended) process.
struct Job {
    pid: Pid,
    old: StateHandle,
}

/// A state migrated, or not.
struct Moved {
    pid: Pid,
    new: Result<StateHandle, ModuleFault>,
}

/// The states still to move, shared by the upgrade and the thread that runs module code.
///
/// The thread takes one job at a time under this lock, marks whose state it reads
/// (`exporting`), and hands the old state back (`returned`) as soon as it has been written out,
/// before the target version's code runs; results are sent under the lock too. So when the
/// upgrade gives up (sets `abandoned` under the lock), every old state is either still queued,
/// handed back, or the one being exported: only that one can still be in use by module code.
struct Queue {
    jobs: VecDeque<Job>,
    returned: Vec<Job>,
    abandoned: bool,
    /// The job the thread is on, and since when: its deadline runs from its own start.
    current: Option<(Pid, Instant)>,
    /// Whether the thread is still reading the current job's old state.
    exporting: bool,
}

/// Write `old` out with its own code: its export, or (downgrading) its downgrade to `to_vsn`.
fn write_out(
    old: &mut StateHandle,
    to_vsn: &str,
    direction: Direction,
    extra: &[u8],
) -> Result<Vec<u8>, ModuleFault> {
    match direction {
        Direction::Up => old.export(),
        Direction::Down => old.downgrade(to_vsn, extra),
    }
}

/// Build the target's state from what the old version wrote out.
fn read_in(
    to: &Arc<Version>,
    from_vsn: &str,
    bytes: &[u8],
    direction: Direction,
    extra: &[u8],
) -> Result<StateHandle, ModuleFault> {
    match direction {
        Direction::Up => to.code_change(from_vsn, bytes, extra),
        Direction::Down => to.import_state(bytes),
    }
}

fn worker(
    queue: Arc<Mutex<Queue>>,
    to: Arc<Version>,
    direction: Direction,
    extra: Vec<u8>,
    results: mpsc::Sender<Moved>,
) {
    loop {
        let mut job = {
            let mut q = queue.lock();
            if q.abandoned {
                return;
            }
            let Some(job) = q.jobs.pop_front() else {
                return;
            };
            q.current = Some((job.pid, Instant::now()));
            q.exporting = true;
            job
        };
        let from_vsn = job.old.version().vsn.clone();
        let written = write_out(&mut job.old, &to.vsn, direction, &extra);
        let pid = job.pid;
        {
            let mut q = queue.lock();
            q.exporting = false;
            q.returned.push(job);
        }
        let new = written.and_then(|bytes| read_in(&to, &from_vsn, &bytes, direction, &extra));
        let failed = new.is_err();
        {
            let mut q = queue.lock();
            if q.abandoned {
                // Nobody waits for it: the new state goes with this thread.
                return;
            }
            q.current = None;
            let _ = results.send(Moved { pid, new });
        }
        if failed {
            return;
        }
    }
}

/// How the migrations went.
struct Migrations {
    moved: Vec<Moved>,
    /// Every old state the thread no longer needs, and those it never took.
    old: Vec<Job>,
    /// The process whose state the thread was exporting when it was abandoned.
    lost: Option<Pid>,
    timed_out: Option<Pid>,
}

/// Move every state on one thread, waiting at most `timeout` for each, counted from when the
/// thread took it up.
async fn run_migrations(
    jobs: Vec<Job>,
    to: Arc<Version>,
    direction: Direction,
    extra: Vec<u8>,
    timeout: Duration,
) -> Migrations {
    let n = jobs.len();
    let queue = Arc::new(Mutex::new(Queue {
        jobs: jobs.into(),
        returned: Vec::with_capacity(n),
        abandoned: false,
        current: None,
        exporting: false,
    }));
    let (tx, rx) = mpsc::channel();
    {
        let for_worker = queue.clone();
        let spawned = std::thread::Builder::new()
            .name("ferrotp-code-change".into())
            .spawn(move || worker(for_worker, to, direction, extra, tx));
        if spawned.is_err() {
            let old: Vec<Job> = std::mem::take(&mut queue.lock().jobs).into();
            let timed_out = old.first().map(|j| j.pid);
            return Migrations {
                moved: Vec::new(),
                old,
                lost: None,
                timed_out,
            };
        }
    }
    // One blocking task waits for all results (see `deadline`); it watches the job in hand and
    // gives up only once that very job has run past its deadline.
    let cancel = deadline::Cancel::default();
    let cancelled = cancel.flag();
    let waited = tokio::task::spawn_blocking(move || {
        let mut moved: Vec<Moved> = Vec::with_capacity(n);
        let mut timed_out = None;
        while moved.len() < n && !cancelled.load(std::sync::atomic::Ordering::Acquire) {
            match rx.recv_timeout(deadline::SLICE) {
                Ok(m) => {
                    let failed = m.new.is_err();
                    moved.push(m);
                    if failed {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let overdue = queue
                        .lock()
                        .current
                        .filter(|(_, started)| started.elapsed() >= timeout)
                        .map(|(pid, _)| pid);
                    if overdue.is_some() {
                        timed_out = overdue;
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The thread ended early: a panic in the host's code around module calls.
                    timed_out = queue.lock().current.map(|(pid, _)| pid);
                    break;
                }
            }
        }
        let (old, lost) = {
            let mut q = queue.lock();
            q.abandoned = true;
            // Results sent before the queue was abandoned are in the channel.
            moved.extend(rx.try_iter());
            let mut old = std::mem::take(&mut q.returned);
            old.extend(std::mem::take(&mut q.jobs));
            let lost = q.current.filter(|_| q.exporting).map(|(pid, _)| pid);
            (old, lost)
        };
        let migrations = Migrations {
            moved,
            old,
            lost,
            timed_out,
        };
        if cancelled.load(std::sync::atomic::Ordering::Acquire) {
            // The runtime is shutting down: nobody takes these states, and their destructors
            // (module code) must not hold up its exit.
            deadline::drop_detached(migrations);
            return None;
        }
        Some(migrations)
    })
    .await;
    drop(cancel);
    waited.ok().flatten().unwrap_or(Migrations {
        moved: Vec::new(),
        old: Vec::new(),
        lost: None,
        timed_out: None,
    })
}

/// Move every process of `slot` to `to`, and record the outcome in the runtime's upgrade
/// history. The caller holds the slot's change lock.
pub(crate) async fn migrate(
    slot: Arc<ModuleSlot>,
    to: Arc<Version>,
    direction: Direction,
    extra: Vec<u8>,
) -> Result<UpgradeReport, UpgradeError> {
    let began = Instant::now();
    let from = slot.current().vsn.clone();
    let module = slot.name.clone();
    let to_vsn = to.vsn.clone();
    let outcome = migrate_processes(slot.clone(), to, direction, extra).await;
    let record = match &outcome {
        Ok(report) => Some(UpgradeRecord::new(
            module,
            from,
            to_vsn,
            report.processes,
            report.suspended_for,
            None,
        )),
        // Nothing was suspended: not an upgrade that happened.
        Err(UpgradeError::StartInProgress { .. }) => None,
        Err(e) => Some(UpgradeRecord::new(
            module,
            from,
            to_vsn,
            slot.processes().len(),
            began.elapsed(),
            Some(e.to_string()),
        )),
    };
    if let Some(record) = record {
        observe::record_upgrade(record);
    }
    outcome
}

async fn migrate_processes(
    slot: Arc<ModuleSlot>,
    to: Arc<Version>,
    direction: Direction,
    extra: Vec<u8>,
) -> Result<UpgradeReport, UpgradeError> {
    // New starts wait from here until the new code is installed. A start whose module `init`
    // is still running holds the gate: it gets the suspend timeout to finish.
    let deadlines = slot.deadlines;
    let Ok(gate) = tokio::time::timeout(deadlines.suspend, slot.gate.write()).await else {
        return Err(UpgradeError::StartInProgress {
            module: slot.name.clone(),
            timeout: deadlines.suspend,
        });
    };
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
            match sys::suspend(&server, Some(deadlines.suspend)).await {
                Ok(()) => {
                    observe::set_upgrading(member.pid, true);
                    Suspension::Done(Suspended {
                        pid: member.pid,
                        server,
                        state: member.state,
                    })
                }
                Err(SysError::NoProc | SysError::Exit(_)) => Suspension::Gone,
                Err(e) => Suspension::Failed(member.pid, e),
            }
        });
    }
    let mut ready = Vec::new();
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Suspension::Done(s)) => ready.push(s),
            Ok(Suspension::Gone) => {}
            Ok(Suspension::Failed(pid, error)) => {
                failure.get_or_insert(UpgradeError::Suspend { pid, error });
            }
            // A suspending task cannot panic; were it cancelled (the runtime shutting down),
            // its process is in no state the upgrade knows of.
            Err(e) => {
                tracing::error!(module = %slot.name, error = %e, "a suspend task ended early")
            }
        }
    }
    ready.sort_by_key(|s| s.pid);
    if let Some(e) = failure {
        resume_all(ready.iter().map(|s| s.server.clone()), deadlines.suspend).await;
        // A process that died meanwhile may leave its state to this last reference: its
        // destructor (module code) runs off this task.
        deadline::drop_detached(ready);
        return Err(e);
    }

    // 2. Take the states (the processes are suspended: nothing else touches them) and move
    //    them with module code, off the runtime's threads, each with its deadline.
    let jobs: Vec<Job> = ready
        .iter()
        .filter_map(|s| {
            s.state
                .lock()
                .handle
                .take()
                .map(|old| Job { pid: s.pid, old })
        })
        .collect();
    let expected = jobs.len();
    let first = ready.first().map(|s| s.pid);
    let migrations = run_migrations(jobs, to.clone(), direction, extra, deadlines.migration).await;
    let state_of = |pid: Pid| ready.iter().find(|s| s.pid == pid).map(|s| &s.state);
    let all_moved = migrations.moved.len() == expected
        && migrations.moved.iter().all(|m| m.new.is_ok())
        && migrations.lost.is_none();

    if !all_moved {
        // 3a. Roll back: every process gets its own state back.
        for job in migrations.old {
            if let Some(state) = state_of(job.pid) {
                state.lock().handle = Some(job.old);
            }
        }
        let mut fault = None;
        let mut new_states = Vec::new();
        for m in migrations.moved {
            match m.new {
                Ok(new) => new_states.push(new),
                Err(f) => {
                    fault.get_or_insert((Some(m.pid), f));
                }
            }
        }
        if let Some(pid) = migrations.timed_out {
            fault.get_or_insert((Some(pid), ModuleFault::Timeout(deadlines.migration)));
        }
        if let Some(pid) = migrations.lost {
            // Its state is still in the hands of the abandoned thread: let it crash, and
            // its supervisor start it afresh.
            tracing::error!(module = %slot.name, %pid, timeout = ?deadlines.migration, "exporting a state did not return; its process is stopped and the thread abandoned");
            let _ = process::exit(
                pid,
                ExitReason::error(format_args!(
                    "exporting its `{}` state for version {} did not return within {:?}",
                    slot.name, to.vsn, deadlines.migration
                )),
            );
        }
        let lost = migrations.lost;
        resume_all(
            ready
                .iter()
                .filter(|s| Some(s.pid) != lost)
                .map(|s| s.server.clone()),
            deadlines.suspend,
        )
        .await;
        drop(gate);
        let (pid, fault) = fault.unwrap_or_else(|| {
            (
                first,
                ModuleFault::Error(
                    "the code change could not run (the runtime is shutting down?)".into(),
                ),
            )
        });
        let pid = pid.expect("a migration that failed had a process to migrate");
        let from = state_of(pid)
            .map(|s| s.lock().vsn.to_string())
            .unwrap_or_else(|| from_current.vsn.clone());
        deadline::drop_detached((new_states, ready));
        return Err(UpgradeError::Migration {
            pid,
            from,
            to: to.vsn.clone(),
            fault,
        });
    }

    // 3b. Commit: the target is current from now on (starts waiting at the gate get it), every
    //     process gets its new state and resumes.
    {
        let mut versions = slot.versions.lock();
        let previous = std::mem::replace(&mut versions.current, to.clone());
        versions.old = Some(previous);
        versions.old_is_newer = direction == Direction::Down;
    }
    let mut processes = 0;
    for m in migrations.moved {
        let new = m.new.expect("all moved");
        if let Some(state) = state_of(m.pid) {
            slot.moved(m.pid, to.id);
            state.lock().install(new);
            processes += usize::from(process::is_alive(m.pid));
        }
    }
    resume_all(ready.iter().map(|s| s.server.clone()), deadlines.suspend).await;
    drop(gate);
    let suspended_for = began.elapsed();
    // The old states are dropped by their own code, off every process's path; so is the state
    // of a process that died during the upgrade, whose last reference may be `ready`'s.
    deadline::drop_detached((migrations.old, ready));
    Ok(UpgradeReport {
        module: slot.name.clone(),
        from: from_current.vsn.clone(),
        to: to.vsn.clone(),
        sha256: to.sha256.clone(),
        processes,
        suspended_for,
    })
}
