//! Links, monitors and `exit/2` between processes, applied under the processes' own locks.

use crate::error::NoProcError;
use crate::message::Down;
use crate::process::cell::AnyProcess;
use crate::process::core::{lock_pair, Status, Watcher};
use crate::process::table;
use crate::{ExitReason, Pid, Reference};

/// Link `me` and `other`. OTP's rule for a dead `other`: a trapping caller gets an
/// `Exit { from: other, reason: NoProc }` message, a non-trapping caller an error.
pub(crate) fn link(me: &dyn AnyProcess, other: Pid) -> Result<(), NoProcError> {
    if !other.is_local() {
        link_remote(me, other);
        return Ok(());
    }
    if link_if_alive(me, other) {
        return Ok(());
    }
    if me.core().lock().trap_exit {
        me.deliver_exit_message(other, ExitReason::NoProc);
        Ok(())
    } else {
        Err(NoProcError::new(other))
    }
}

/// Link `me` and `other` if `other` is running; `false`, with no signal or message to
/// anyone, if it is not. Linking to oneself is a no-op that succeeds.
pub(crate) fn link_if_alive(me: &dyn AnyProcess, other: Pid) -> bool {
    if !other.is_local() {
        link_remote(me, other);
        return true;
    }
    let my_pid = me.core().pid;
    if other == my_pid {
        return true;
    }
    let Some(target) = table::get(other) else {
        return false;
    };
    let (mut mine, mut theirs) = lock_pair(me.core(), target.core());
    if theirs.status != Status::Running {
        return false;
    }
    mine.relations().links.insert(other);
    theirs.relations().links.insert(my_pid);
    true
}

/// Link to a process on another node: our side now, theirs through the distribution. A node
/// that cannot be reached answers as OTP does, with an exit signal `noconnection` through the
/// new link.
fn link_remote(me: &dyn AnyProcess, other: Pid) {
    let my_pid = me.core().pid;
    {
        let mut mine = me.core().lock();
        if mine.status != Status::Running {
            return;
        }
        mine.relations().links.insert(other);
    }
    match crate::distribution::installed() {
        Some(d) => d.link(my_pid, other),
        None => me.receive_exit(other, &ExitReason::NoConnection, true),
    }
}

pub(crate) fn unlink(me: &dyn AnyProcess, other: Pid) {
    if !other.is_local() {
        let had = me
            .core()
            .lock()
            .relations
            .as_mut()
            .is_some_and(|rel| rel.links.remove(&other));
        if had {
            if let Some(d) = crate::distribution::installed() {
                d.unlink(me.core().pid, other);
            }
        }
        return;
    }
    match table::get(other) {
        Some(target) => {
            let (mut mine, mut theirs) = lock_pair(me.core(), target.core());
            if let Some(rel) = mine.relations.as_mut() {
                rel.links.remove(&other);
            }
            if let Some(rel) = theirs.relations.as_mut() {
                rel.links.remove(&me.core().pid);
            }
        }
        None => {
            if let Some(rel) = me.core().lock().relations.as_mut() {
                rel.links.remove(&other);
            }
        }
    }
}

/// Send an exit signal from `from` to `to` (Erlang's `exit/2`).
pub(crate) fn exit(from: Pid, to: Pid, reason: &ExitReason) -> Result<(), NoProcError> {
    if !to.is_local() {
        let d = crate::distribution::installed().ok_or(NoProcError::new(to))?;
        d.exit(from, to, reason, false);
        return Ok(());
    }
    let target = table::get(to).ok_or(NoProcError::new(to))?;
    if !target.core().is_alive() {
        return Err(NoProcError::new(to));
    }
    target.receive_exit(from, reason, false);
    Ok(())
}

pub(crate) fn monitor(me: &dyn AnyProcess, target: Pid) -> Reference {
    let reference = Reference::new();
    // Record our side first: a target dying right after we attach finds the monitor active.
    me.core()
        .lock()
        .relations()
        .monitoring
        .insert(reference, target);
    if !target.is_local() {
        match crate::distribution::installed() {
            Some(d) => d.monitor(me.core().pid, target, reference),
            None => me.deliver_down(Down {
                reference,
                pid: target,
                reason: ExitReason::NoConnection,
            }),
        }
        return reference;
    }
    let attached = match table::get(target) {
        Some(t) => t
            .core()
            .add_watcher(reference, Watcher::Process(me.core().pid))
            .is_ok(),
        None => false,
    };
    if !attached {
        me.deliver_down(Down {
            reference,
            pid: target,
            reason: ExitReason::NoProc,
        });
    }
    reference
}

/// Remove a monitor; `true` if it was still active. With `flush`, also remove a `Down` for it
/// that is already queued.
pub(crate) fn demonitor(me: &dyn AnyProcess, reference: Reference, flush: bool) -> bool {
    let target = me
        .core()
        .lock()
        .relations
        .as_mut()
        .and_then(|rel| rel.monitoring.remove(&reference));
    match target {
        Some(t) if !t.is_local() => {
            if let Some(d) = crate::distribution::installed() {
                d.demonitor(me.core().pid, t, reference);
            }
        }
        Some(t) => {
            if let Some(t) = table::get(t) {
                t.core().remove_watcher(reference);
            }
        }
        None => {}
    }
    if flush {
        me.flush_down(reference);
    }
    target.is_some()
}

/// Callback run by a dying process for runtime machinery that watches it.
pub(crate) type WatchCallback = Box<dyn FnOnce(Down) + Send>;

/// Run `callback` when `target` terminates. If `target` is not alive the callback is handed
/// back unrun, so a caller holding a lock the callback takes cannot deadlock on itself.
/// Runtime machinery uses this where Erlang would monitor from a helper process.
pub(crate) fn watch(target: Pid, callback: WatchCallback) -> Result<Reference, WatchCallback> {
    let reference = Reference::new();
    let Some(t) = table::get(target) else {
        return Err(callback);
    };
    match t.core().add_watcher(reference, Watcher::Callback(callback)) {
        Ok(()) => Ok(reference),
        Err(Watcher::Callback(cb)) => Err(cb),
        Err(Watcher::Process(_) | Watcher::Remote(_)) => {
            unreachable!("a callback watcher is handed back as given")
        }
    }
}

pub(crate) fn unwatch(target: Pid, reference: Reference) {
    if let Some(t) = table::get(target) {
        t.core().remove_watcher(reference);
    }
}
