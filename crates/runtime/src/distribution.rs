//! The seam between the runtime and a distribution layer: pids that live on other nodes.
//!
//! The runtime knows nothing of sockets, node names or the wire. A [`Pid`] whose
//! [`node`](Pid::node) is not `0` lives elsewhere; what happens to it is the business of the
//! one [`Distribution`] installed in this OS process (the `ferrotp-dist` crate installs one
//! when a node starts). The seam has two directions:
//!
//! - **Out.** When a local process links to, unlinks from, monitors, demonitors or sends an
//!   exit signal to a remote pid — or terminates while linked to or monitored by one — the
//!   runtime records its own side as for a local pid and tells the installed
//!   [`Distribution`]. With none installed the remote pid is unreachable, and the runtime
//!   answers as OTP does for a node it cannot connect to: a link or monitor yields an exit
//!   signal or `Down` with reason [`NoConnection`](ExitReason::NoConnection).
//! - **In.** The distribution layer reports what remote processes do to local ones with the
//!   functions of this module: [`link_from`], [`unlink_from`], [`exit_from`],
//!   [`monitor_from`], [`demonitor_from`] and [`down_from`]. They apply OTP's rules exactly
//!   as for local signals (trapping, `Normal`, `Kill`).
//!
//! A lost connection is the distribution layer's to report: for each link it knows between a
//! local process and a process on the lost node, an [`exit_from`] with
//! [`NoConnection`](ExitReason::NoConnection); for each monitor, a [`down_from`].
//!
//! Messages are not part of the seam: a local process's mailbox is typed, and turning a
//! remote term into its message type is the distribution layer's job.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::NoProcError;
use crate::message::Down;
use crate::process::core::Watcher;
use crate::process::table;
use crate::{ExitReason, Pid, Reference};

/// What the runtime tells a distribution layer about local processes and remote pids. Every
/// method is called from the local process concerned (or from the one terminating), must not
/// block, and must not call back into the runtime's link or monitor functions for the same
/// processes before returning: queue the work instead.
pub trait Distribution: Send + Sync + 'static {
    /// Local `from` linked itself to remote `to` (`from`'s side is recorded).
    fn link(&self, from: Pid, to: Pid);
    /// Local `from` removed its link to remote `to`.
    fn unlink(&self, from: Pid, to: Pid);
    /// An exit signal from local `from` to remote `to`: a link broken by `from`'s termination
    /// when `via_link`, Erlang's `exit(To, Reason)` otherwise.
    fn exit(&self, from: Pid, to: Pid, reason: &ExitReason, via_link: bool);
    /// Local `watcher` monitors remote `target` under `reference`.
    fn monitor(&self, watcher: Pid, target: Pid, reference: Reference);
    /// Local `watcher` removed its monitor `reference` of remote `target` (by `demonitor`, or
    /// because it terminated).
    fn demonitor(&self, watcher: Pid, target: Pid, reference: Reference);
    /// Local `target`, monitored by remote `watcher` under `reference` (as registered with
    /// [`monitor_from`]), terminated with `reason`.
    fn down(&self, watcher: Pid, target: Pid, reference: Reference, reason: &ExitReason);
}

static INSTALLED: RwLock<Option<Arc<dyn Distribution>>> = parking_lot::const_rwlock(None);

/// Make `distribution` the one that handles remote pids.
///
/// # Errors
///
/// [`AlreadyInstalled`] if another is installed: an OS process is one node.
pub fn install(distribution: Arc<dyn Distribution>) -> Result<(), AlreadyInstalled> {
    let mut installed = INSTALLED.write();
    if installed.is_some() {
        return Err(AlreadyInstalled);
    }
    *installed = Some(distribution);
    Ok(())
}

/// Remove the installed distribution (the node stopped); remote pids are unreachable again.
pub fn uninstall() {
    let removed = INSTALLED.write().take();
    drop(removed);
}

/// Whether a distribution is installed.
pub fn is_installed() -> bool {
    INSTALLED.read().is_some()
}

/// The installed distribution, if any: cloned out, so that no lock is held while it runs.
pub(crate) fn installed() -> Option<Arc<dyn Distribution>> {
    INSTALLED.read().clone()
}

/// Another distribution is already installed in this OS process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a distribution is already installed: this OS process is already a node")]
pub struct AlreadyInstalled;

/// Remote `from` linked itself to local `to`: record `to`'s side.
///
/// # Errors
///
/// [`NoProcError`] if `to` is not alive: answer the remote process with an exit signal
/// `noproc`, as OTP does.
pub fn link_from(from: Pid, to: Pid) -> Result<(), NoProcError> {
    let target = table::get(to).ok_or(NoProcError::new(to))?;
    let mut st = target.core().lock();
    if st.status != crate::process::core::Status::Running {
        return Err(NoProcError::new(to));
    }
    st.relations().links.insert(from);
    Ok(())
}

/// Remote `from` removed its link to local `to`.
pub fn unlink_from(from: Pid, to: Pid) {
    if let Some(target) = table::get(to) {
        if let Some(rel) = target.core().lock().relations.as_mut() {
            rel.links.remove(&from);
        }
    }
}

/// An exit signal from remote `from` to local `to`: `via_link` for a link broken by `from`'s
/// termination (or by a lost connection, with [`NoConnection`](ExitReason::NoConnection)),
/// Erlang's `exit/2` otherwise. OTP's rules apply as for a local signal; a signal through a
/// link `to` no longer has is ignored.
///
/// # Errors
///
/// [`NoProcError`] if `to` is not alive.
pub fn exit_from(
    from: Pid,
    to: Pid,
    reason: &ExitReason,
    via_link: bool,
) -> Result<(), NoProcError> {
    let target = table::get(to).ok_or(NoProcError::new(to))?;
    target.receive_exit(from, reason, via_link);
    Ok(())
}

/// Record that local `watcher` monitors remote `target`, and return the monitor's reference:
/// for a distribution layer's own kinds of monitors, such as a registered name on another node
/// (whose `target` is a pid the layer made to stand for the name). The installed distribution
/// is not told (its caller is); the `Down` comes through [`down_from`], and a `demonitor` of
/// the reference reaches [`Distribution::demonitor`] as for any remote monitor.
///
/// # Errors
///
/// [`NoProcError`] if `watcher` is not alive.
pub fn add_monitor(watcher: Pid, target: Pid) -> Result<Reference, NoProcError> {
    let w = table::get(watcher).ok_or(NoProcError::new(watcher))?;
    let reference = Reference::new();
    let mut st = w.core().lock();
    if st.status != crate::process::core::Status::Running {
        return Err(NoProcError::new(watcher));
    }
    st.relations().monitoring.insert(reference, target);
    Ok(reference)
}

/// Remote `watcher` monitors local `target` under `reference`: when `target` terminates, the
/// installed [`Distribution`]'s [`down`](Distribution::down) is called with it.
///
/// # Errors
///
/// [`NoProcError`] if `target` is not alive: answer with a `noproc` down, as OTP does.
pub fn monitor_from(watcher: Pid, target: Pid, reference: Reference) -> Result<(), NoProcError> {
    let t = table::get(target).ok_or(NoProcError::new(target))?;
    t.core()
        .add_watcher(reference, Watcher::Remote(watcher))
        .map_err(|_| NoProcError::new(target))
}

/// Remote watcher's monitor `reference` of local `target` is removed.
pub fn demonitor_from(target: Pid, reference: Reference) {
    if let Some(t) = table::get(target) {
        t.core().remove_watcher(reference);
    }
}

/// A remote process monitored by local `watcher` terminated (or its node was lost): deliver
/// `down`, if the monitor is still active.
pub fn down_from(watcher: Pid, down: Down) {
    if let Some(w) = table::get(watcher) {
        w.deliver_down(down);
    }
}
