//! Live introspection of processes (Erlang's `process_info/1`, `processes/0`).

use std::sync::Arc;

use super::core::Status;
use super::table;
use crate::Pid;

/// What a process is doing, as far as the runtime can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessStatus {
    /// Parked in `recv`, waiting for a message.
    Waiting,
    /// Running or runnable (including awaiting something other than its mailbox).
    Running,
    /// Terminating: its exit signals are being sent.
    Exiting,
    /// A GenServer suspended by `sys::suspend`: only system requests are served.
    Suspended,
    /// Suspended by a code loader while its code is replaced.
    Upgrading,
}

/// A snapshot of one process, from [`process_info`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// The process.
    pub pid: Pid,
    /// What it is doing.
    pub status: ProcessStatus,
    /// Messages queued in its mailbox.
    pub mailbox_len: usize,
    /// Messages taken from its mailbox so far.
    pub messages_received: u64,
    /// Processes linked to it.
    pub links: Vec<Pid>,
    /// Processes it monitors.
    pub monitors: Vec<Pid>,
    /// Processes monitoring it (runtime-internal watchers excluded).
    pub monitored_by: Vec<Pid>,
    /// Its registered name.
    pub registered_name: Option<Arc<str>>,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// The Rust type of the messages it takes.
    pub message_type: &'static str,
}

/// A snapshot of `pid`, or `None` if it is not alive.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::Context;
/// use ferrotp::process;
///
/// let addr = process::spawn(|mut ctx: Context<u8>| async move {
///     ctx.recv().await;
///     Ok(())
/// });
/// addr.send(1).unwrap();
/// let info = process::process_info(addr.pid()).unwrap();
/// assert_eq!(info.pid, addr.pid());
/// assert!(info.mailbox_len <= 1);
/// # }
/// ```
pub fn process_info(pid: Pid) -> Option<ProcessInfo> {
    let p = table::get(pid)?;
    let (status, links, monitors, monitored_by, registered_name, trap_exit) = {
        let st = p.core().lock();
        let rel = st.relations.as_deref();
        (
            st.status,
            rel.map(|r| r.links.iter().copied().collect())
                .unwrap_or_default(),
            rel.map(|r| r.monitoring.values().copied().collect())
                .unwrap_or_default(),
            rel.map(|r| {
                r.monitored_by
                    .values()
                    .filter_map(|w| match w {
                        super::core::Watcher::Process(p) | super::core::Watcher::Remote(p) => {
                            Some(*p)
                        }
                        super::core::Watcher::Callback(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
            st.name().cloned(),
            st.trap_exit,
        )
    };
    let status =
        crate::observe::status_of(status == Status::Running, &p.core().probe, p.is_waiting());
    Some(ProcessInfo {
        pid,
        status,
        mailbox_len: p.mailbox_len(),
        messages_received: p.messages_received(),
        links,
        monitors,
        monitored_by,
        registered_name,
        trap_exit,
        message_type: p.message_type(),
    })
}

/// The pids of all live local processes (Erlang's `processes/0`), in no particular order.
pub fn processes() -> Vec<Pid> {
    table::pids()
}

/// How many local processes are alive.
pub fn count() -> usize {
    table::len()
}
