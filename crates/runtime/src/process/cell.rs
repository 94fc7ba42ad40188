//! One allocation per process: its untyped core and its typed mailbox.

use std::any::Any;
use std::sync::Arc;

use crate::message::{Down, Message, SystemMessage};
use crate::sync::Mutex;
use crate::{ExitReason, Pid, Reference};

use super::core::Core;
use super::mailbox::{Mailbox, Refusal};

pub(crate) struct ProcessCell<M> {
    pub(crate) core: Core,
    pub(crate) mailbox: Mutex<Mailbox<M>>,
}

impl<M: Send + 'static> ProcessCell<M> {
    pub(crate) fn new(pid: Pid, capacity: Option<usize>, trap_exit: bool) -> Self {
        ProcessCell {
            core: Core::new(pid, trap_exit),
            mailbox: Mutex::new(Mailbox::new(capacity)),
        }
    }

    /// Queue a user message; `bounded: false` is for the runtime's own requests (`sys`,
    /// `stop`), which a full mailbox must not refuse.
    pub(crate) fn send(&self, msg: M, bounded: bool) -> Result<(), (M, Refusal)> {
        // Woken after the lock is released: waking may unpark a worker thread.
        if let Some(w) = self.mailbox.lock().push_user(msg, bounded)? {
            w.wake();
        }
        Ok(())
    }

    fn push_system(&self, msg: SystemMessage) {
        if let Some(w) = self.mailbox.lock().push_system(msg) {
            w.wake();
        }
    }
}

/// A process seen without its message type: what the process table, links and monitors use.
pub(crate) trait AnyProcess: Send + Sync + 'static {
    fn core(&self) -> &Core;
    fn receive_exit(&self, from: Pid, reason: &ExitReason, via_link: bool);
    /// Deliver a `Down` if the monitor is still active on this (the watching) side.
    fn deliver_down(&self, down: Down);
    /// Deliver an `Exit` message unconditionally (link to a dead pid while trapping).
    fn deliver_exit_message(&self, from: Pid, reason: ExitReason);
    fn flush_down(&self, reference: Reference) -> bool;
    fn mailbox_len(&self) -> usize;
    fn messages_received(&self) -> u64;
    fn is_waiting(&self) -> bool;
    fn message_type(&self) -> &'static str;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<M: Send + 'static> AnyProcess for ProcessCell<M> {
    fn core(&self) -> &Core {
        &self.core
    }

    fn receive_exit(&self, from: Pid, reason: &ExitReason, via_link: bool) {
        self.core
            .receive_exit(from, reason, via_link, &|m| self.push_system(m));
    }

    fn deliver_down(&self, down: Down) {
        let mut st = self.core.lock();
        let active = st
            .relations
            .as_mut()
            .is_some_and(|rel| rel.monitoring.remove(&down.reference).is_some());
        // Under the watcher's lock: once `demonitor` returned, no `Down` can be queued.
        if active {
            self.push_system(SystemMessage::Down(down));
        }
    }

    fn deliver_exit_message(&self, from: Pid, reason: ExitReason) {
        self.push_system(SystemMessage::Exit(crate::Exit { from, reason }));
    }

    fn flush_down(&self, reference: Reference) -> bool {
        let removed = self
            .mailbox
            .lock()
            .remove_where(|m| matches!(m, Message::Down(d) if d.reference == reference));
        removed > 0
    }

    fn mailbox_len(&self) -> usize {
        self.mailbox.lock().len()
    }

    fn messages_received(&self) -> u64 {
        self.mailbox.lock().received
    }

    fn is_waiting(&self) -> bool {
        self.mailbox.lock().is_waiting()
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}
