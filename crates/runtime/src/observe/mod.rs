//! What the running system looks like, read from what the runtime itself keeps: the data
//! behind `ferrotp-observer`'s page, and for anyone writing their own view.
//!
//! Erlang's observer and Phoenix's LiveDashboard answer "what is running, and what went
//! wrong?". This module answers it without ever sending a message into a user process:
//!
//! * [`snapshot`] lists every process with its status, mailbox length, messages handled,
//!   links, monitors, age, supervisor, restarts and the callback it is in, from counters each
//!   process's cell keeps;
//! * [`supervisor`] reads a supervisor's child table from the copy it publishes (the observer
//!   never calls `which_children`, which would queue behind a supervisor busy restarting);
//! * [`crash_log`], [`upgrade_history`] and [`subscribe`] give the crashes, restarts,
//!   escalations and upgrades, as they happen and the last ones before;
//! * [`format_status`] is the one exception, and opt-in: a GenServer whose
//!   [`GenServer::format_status`](crate::gen_server::GenServer::format_status) returns text
//!   is asked for it as a `sys` request, between two callbacks, with a short timeout.
//!
//! Every read is a short lock on the thing read; nothing here blocks a process.

mod control;
mod events;
mod probe;
mod status;
mod supervisors;

use std::sync::Arc;
use std::time::Duration;

pub use control::{restart_child, resume, suspend, terminate_child, ChildRef, ControlError};
pub use events::{
    crash_log, record_upgrade, subscribe, upgrade_history, Event, EventKind, UpgradeRecord,
    CRASH_LOG_LEN, UPGRADE_LOG_LEN,
};
pub use probe::Callback;
pub(crate) use probe::Probe;
pub(crate) use status::register_sys_port;
pub use status::{format_status, FormatStatusError, FORMAT_STATUS_LIMIT};
pub use supervisors::{supervisor, supervisors, ChildView, SupervisorKind, SupervisorView};
pub(crate) use supervisors::{Board, TerminateChild};

pub(crate) use events::record;

use crate::process::cell::AnyProcess;
use crate::process::core::{Status, Watcher};
use crate::process::{table, ProcessStatus};
use crate::{ExitReason, Pid};

/// One process, as [`snapshot`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessRow {
    /// The process.
    pub pid: Pid,
    /// Its registered name.
    pub name: Option<Arc<str>>,
    /// What it is doing.
    pub status: ProcessStatus,
    /// Messages queued in its mailbox.
    pub mailbox_len: usize,
    /// Messages taken from its mailbox so far (system messages included).
    pub messages_handled: u64,
    /// How many processes it is linked to.
    pub links: usize,
    /// How many processes it monitors.
    pub monitors: usize,
    /// How many monitor it (runtime-internal watchers excluded).
    pub monitored_by: usize,
    /// How long ago it was spawned.
    pub age: Duration,
    /// Its supervisor and child id, if a supervisor runs it.
    pub supervisor: Option<(Pid, Arc<str>)>,
    /// How many times its supervisor restarted that child.
    pub restarts: u32,
    /// The GenServer callback it is running, if it is a GenServer inside one.
    pub callback: Option<Callback>,
    /// The Rust type of the messages it takes.
    pub message_type: &'static str,
}

/// Every live local process, read from the runtime's own counters.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{observe, process, Context};
///
/// let addr = process::spawn(|mut ctx: Context<u8>| async move {
///     ctx.recv().await;
///     Ok(())
/// });
/// let rows = observe::snapshot();
/// assert!(rows.iter().any(|r| r.pid == addr.pid()));
/// # }
/// ```
pub fn snapshot() -> Vec<ProcessRow> {
    let supervised = supervisors::supervised();
    let processes = table::all();
    let now = std::time::Instant::now();
    let mut rows = Vec::with_capacity(processes.len());
    for p in processes {
        let child = supervised.get(&p.core().pid).cloned();
        rows.push(row_of(&*p, child, now));
    }
    rows
}

/// One process, as [`snapshot`] would list it; `None` if it is not alive.
pub fn process(pid: Pid) -> Option<ProcessRow> {
    let p = table::get(pid)?;
    let child = supervisors::child_of(pid);
    Some(row_of(&*p, child, std::time::Instant::now()))
}

fn row_of(
    p: &dyn AnyProcess,
    child: Option<(Pid, Arc<str>, u32)>,
    now: std::time::Instant,
) -> ProcessRow {
    let core = p.core();
    let (alive, name, links, monitors, monitored_by) = {
        let st = core.lock();
        let rel = st.relations.as_deref();
        (
            st.status == Status::Running,
            st.name().cloned(),
            rel.map_or(0, |r| r.links.len()),
            rel.map_or(0, |r| r.monitoring.len()),
            rel.map_or(0, |r| {
                r.monitored_by
                    .values()
                    .filter(|w| !matches!(w, Watcher::Callback(_)))
                    .count()
            }),
        )
    };
    let (mailbox_len, messages_handled, waiting) = p.mailbox_counters();
    let (supervisor, restarts) = match child {
        Some((sup, id, restarts)) => (Some((sup, id)), restarts),
        None => (None, 0),
    };
    ProcessRow {
        pid: core.pid,
        name,
        status: status_of(alive, &core.probe, waiting),
        mailbox_len,
        messages_handled,
        links,
        monitors,
        monitored_by,
        age: core.probe.age_at(now),
        supervisor,
        restarts,
        callback: core.probe.callback(),
        message_type: p.message_type(),
    }
}

pub(crate) fn status_of(alive: bool, probe: &Probe, waiting: bool) -> ProcessStatus {
    if !alive {
        ProcessStatus::Exiting
    } else if probe.is_upgrading() {
        ProcessStatus::Upgrading
    } else if probe.is_suspended() {
        ProcessStatus::Suspended
    } else if waiting {
        ProcessStatus::Waiting
    } else {
        ProcessStatus::Running
    }
}

/// How a process ended, as far as the runtime remembers: its exit reason if it exited
/// recently (the last 1,024 exits or so), `None` if it is alive or forgotten.
pub fn exit_reason(pid: Pid) -> Option<ExitReason> {
    if table::get(pid).is_some() {
        return None;
    }
    crate::process::recent::lookup(pid)
}

/// The reason the previous process of `pid`'s supervised child terminated: what a restarted
/// worker's detail shows as its last exit. `None` if `pid` is not supervised or its child
/// never exited.
pub fn last_exit_of_child(pid: Pid) -> Option<ExitReason> {
    supervisors::last_exit_of_child(pid).and_then(|(_, _, reason)| reason)
}

/// Mark `pid` as being upgraded (or no longer): for code-loading tools. ferrotp's loader marks
/// each process it suspends for an upgrade, so the observer shows it as `upgrading`.
pub fn set_upgrading(pid: Pid, on: bool) {
    if let Some(p) = table::get(pid) {
        p.core().probe.set_upgrading(on);
    }
}
