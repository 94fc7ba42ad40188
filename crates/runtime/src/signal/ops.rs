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

pub(crate) fn unlink(me: &dyn AnyProcess, other: Pid) {
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
    if let Some(t) = target.and_then(table::get) {
        t.core().remove_watcher(reference);
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
        Err(Watcher::Process(_)) => unreachable!("a callback watcher is handed back as given"),
    }
}

pub(crate) fn unwatch(target: Pid, reference: Reference) {
    if let Some(t) = table::get(target) {
        t.core().remove_watcher(reference);
    }
}
