//! The untyped half of a process: identity, status, links, monitors, name, pending exit.

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::Waker;

use crate::message::{Down, Exit, SystemMessage};
use crate::signal::{decide, Effect, Origin};
use crate::sync::{AtomicBool, Mutex, MutexGuard};
use crate::{ExitReason, Pid, Reference};

use super::mailbox::Wake;
use super::table;

/// Where a process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Running,
    Exiting,
    Dead,
}

/// Who is told when a monitored process terminates.
pub(crate) enum Watcher {
    /// A process, through a [`Down`] message in its mailbox.
    Process(Pid),
    /// Runtime machinery (registries, `await_exit`), through a callback run by the dying process.
    Callback(Box<dyn FnOnce(Down) + Send>),
    /// A process on another node, through the installed distribution.
    Remote(Pid),
}

/// Links and monitors, allocated on first use: most processes never have any, and an idle
/// process must stay small.
#[derive(Default)]
pub(crate) struct Relations {
    // Fx hashing: pids and references are counters, not attacker-chosen keys, and SipHash
    // was a visible part of every link and monitor.
    pub(crate) links: FxHashSet<Pid>,
    pub(crate) monitored_by: FxHashMap<Reference, Watcher>,
    pub(crate) monitoring: FxHashMap<Reference, Pid>,
    /// The registered name: with the relations, as most processes have none either.
    pub(crate) name: Option<Arc<str>>,
}

/// A process's state under its core lock: kept small, because every idle process carries it.
pub(crate) struct CoreState {
    pub(crate) status: Status,
    pub(crate) trap_exit: bool,
    /// While running: the reason of an exit signal whose effect is to terminate, acted on at
    /// the next await (the first such signal wins). Once exiting: the final reason, set before
    /// the process's code is dropped so that callers whose reply handle is dropped with it can
    /// learn why.
    pub(crate) reason: Option<ExitReason>,
    pub(crate) relations: Option<Box<Relations>>,
}

impl CoreState {
    pub(crate) fn relations(&mut self) -> &mut Relations {
        self.relations.get_or_insert_with(Default::default)
    }

    /// The registered name.
    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.relations.as_ref()?.name.as_ref()
    }
}

/// What a dying process takes with it to notify others, once its own lock is released.
pub(crate) struct Departure {
    pub(crate) relations: Option<Box<Relations>>,
    pub(crate) name: Option<Arc<str>>,
}

pub(crate) struct Core {
    pub(crate) pid: Pid,
    state: Mutex<CoreState>,
    /// Fast check for a pending exit (`reason` while running) on every poll without taking the
    /// lock.
    kill_flag: AtomicBool,
    /// The waker of the process's tokio task, stored at its first poll. A terminating signal
    /// wakes the *task* (not whatever the body awaits), so the signal is acted on even while
    /// the body waits on something that is not its mailbox.
    task_waker: OnceLock<Waker>,
    /// The process's `tracing` span, entered whenever its code runs: every event it emits
    /// carries its pid (and its registered name, recorded when it registers), as Elixir's
    /// Logger metadata does. `None` without a subscriber that wants it: a disabled span is
    /// still 40 bytes, and boxing it keeps every idle process's cell inside the allocation
    /// size it is tuned for (see `ProcessCell`).
    pub(crate) span: Option<Box<tracing::Span>>,
    /// What the observer reads: birth time, suspended/upgrading, the running callback.
    pub(crate) probe: crate::observe::Probe,
}

impl Core {
    pub(crate) fn new(pid: Pid, trap_exit: bool) -> Core {
        Core {
            pid,
            state: Mutex::new(CoreState {
                status: Status::Running,
                trap_exit,
                reason: None,
                relations: None,
            }),
            kill_flag: AtomicBool::new(false),
            task_waker: OnceLock::new(),
            span: {
                let span = tracing::info_span!("process", pid = %pid, name = tracing::field::Empty);
                (!span.is_disabled()).then(|| Box::new(span))
            },
            probe: crate::observe::Probe::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, CoreState> {
        self.state.lock()
    }

    /// Alive as `is_process_alive/1` sees it: a process with a terminating signal pending is
    /// already dead to everyone who sent or saw that signal.
    pub(crate) fn is_alive(&self) -> bool {
        !self.kill_pending() && self.lock().status == Status::Running
    }

    /// The task's waker, once the task has been polled.
    #[inline]
    pub(crate) fn task_waker(&self) -> Option<&Waker> {
        self.task_waker.get()
    }

    /// Remember the task's waker (first poll only: a tokio task's waker never changes).
    #[inline]
    pub(crate) fn set_task_waker(&self, waker: &Waker) {
        if self.task_waker.get().is_none() {
            let _ = self.task_waker.set(waker.clone());
        }
    }

    #[inline]
    pub(crate) fn kill_pending(&self) -> bool {
        self.kill_flag.load(Ordering::Acquire)
    }

    /// The reason a pending terminating signal carries, if one arrived.
    #[inline]
    pub(crate) fn take_pending_exit(&self) -> Option<ExitReason> {
        if !self.kill_pending() {
            return None;
        }
        let mut st = self.lock();
        if st.status == Status::Running {
            st.reason.take()
        } else {
            None
        }
    }

    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        let st = self.lock();
        if st.status == Status::Running {
            None
        } else {
            st.reason.clone()
        }
    }

    pub(crate) fn set_trap_exit(&self, on: bool) -> bool {
        std::mem::replace(&mut self.lock().trap_exit, on)
    }

    /// First step of dying: no new links, monitors or names can attach after this.
    pub(crate) fn begin_exit(&self, reason: &ExitReason) -> Departure {
        let mut st = self.lock();
        st.status = Status::Exiting;
        st.reason = Some(reason.clone());
        let mut relations = st.relations.take();
        let name = relations.as_mut().and_then(|r| r.name.take());
        Departure { relations, name }
    }

    /// Whether the exit procedure has completed (`mark_dead`).
    pub(crate) fn is_dead(&self) -> bool {
        self.lock().status == Status::Dead
    }

    pub(crate) fn mark_dead(&self) {
        self.lock().status = Status::Dead;
    }

    /// Apply OTP's receive rule to an exit signal arriving at this process.
    ///
    /// `deliver` pushes a converted signal into the mailbox; it runs under this process's lock
    /// so that `unlink` returning guarantees no later message from the link. Who it says to
    /// wake is returned, for the caller to wake once the lock is released.
    pub(crate) fn receive_exit(
        &self,
        from: Pid,
        reason: &ExitReason,
        via_link: bool,
        deliver: &dyn Fn(SystemMessage) -> Wake,
    ) -> Wake {
        let mut st = self.lock();
        if st.status != Status::Running {
            return Wake::Nobody;
        }
        let origin = if via_link {
            let active = st
                .relations
                .as_mut()
                .is_some_and(|rel| rel.links.remove(&from));
            Origin::Link { active }
        } else {
            Origin::Exit {
                to_self: from == self.pid,
            }
        };
        match decide(reason, origin, st.trap_exit) {
            Effect::Drop => Wake::Nobody,
            Effect::Message => deliver(SystemMessage::Exit(Exit {
                from,
                reason: reason.clone(),
            })),
            Effect::Terminate(r) => {
                if st.reason.is_none() {
                    st.reason = Some(r);
                    self.kill_flag.store(true, Ordering::Release);
                }
                // The task itself, not whatever the body awaits: the signal takes effect
                // even while the body waits on something other than its mailbox.
                Wake::Task
            }
        }
    }

    /// Register a watcher; `false` (and the watcher handed back) if this process is not running.
    pub(crate) fn add_watcher(&self, r: Reference, w: Watcher) -> Result<(), Watcher> {
        let mut st = self.lock();
        if st.status != Status::Running {
            return Err(w);
        }
        st.relations().monitored_by.insert(r, w);
        Ok(())
    }

    pub(crate) fn remove_watcher(&self, r: Reference) -> Option<Watcher> {
        let mut st = self.lock();
        st.relations.as_mut()?.monitored_by.remove(&r)
    }
}

/// Lock two processes' cores in a global order (by pid), so that two processes linking each
/// other concurrently cannot deadlock.
pub(crate) fn lock_pair<'a>(
    a: &'a Core,
    b: &'a Core,
) -> (MutexGuard<'a, CoreState>, MutexGuard<'a, CoreState>) {
    if a.pid < b.pid {
        let ga = a.lock();
        let gb = b.lock();
        (ga, gb)
    } else {
        let gb = b.lock();
        let ga = a.lock();
        (ga, gb)
    }
}

impl Departure {
    /// Tell the world: exit signals through every link, `Down` to every watcher, and release
    /// the monitors this process held. Runs after the name was released.
    pub(crate) fn notify(self, pid: Pid, reason: &ExitReason) {
        let Some(rel) = self.relations else { return };
        let Relations {
            links,
            monitored_by,
            monitoring,
            name: _,
        } = *rel;
        // Fetched once, and only by a process that has a remote relation.
        let mut distribution = None;
        let mut remote = || {
            distribution
                .get_or_insert_with(crate::distribution::installed)
                .clone()
        };
        for linked in links {
            if !linked.is_local() {
                if let Some(d) = remote() {
                    d.exit(pid, linked, reason, true);
                }
            } else if let Some(p) = table::get(linked) {
                p.receive_exit(pid, reason, true);
            }
        }
        // Processes first, runtime callbacks (an `await_exit`, a registry's cleanup) after:
        // whoever learns of the exit through a callback knows every link and monitor has been
        // told. The first callback waits without an allocation; most exits have at most one.
        let mut first_callback = None;
        let mut more_callbacks = Vec::new();
        for (reference, watcher) in monitored_by {
            let down = Down {
                reference,
                pid,
                reason: reason.clone(),
            };
            match watcher {
                Watcher::Process(w) => {
                    if let Some(p) = table::get(w) {
                        p.deliver_down(down);
                    }
                }
                Watcher::Callback(cb) if first_callback.is_none() => {
                    first_callback = Some((cb, down))
                }
                Watcher::Callback(cb) => more_callbacks.push((cb, down)),
                Watcher::Remote(w) => {
                    if let Some(d) = remote() {
                        d.down(w, pid, reference, &down.reason);
                    }
                }
            }
        }
        for (cb, down) in first_callback.into_iter().chain(more_callbacks) {
            if super::panic::call_guarded(move || cb(down)).is_err() {
                tracing::error!(%pid, "a monitor callback panicked; ignored");
            }
        }
        for (reference, target) in monitoring {
            if !target.is_local() {
                if let Some(d) = remote() {
                    d.demonitor(pid, target, reference);
                }
            } else if let Some(p) = table::get(target) {
                p.core().remove_watcher(reference);
            }
        }
    }
}
