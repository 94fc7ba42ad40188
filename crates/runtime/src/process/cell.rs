//! One allocation per process: its untyped core and its typed mailbox.

use std::any::Any;
use std::sync::Arc;

use crate::message::{Down, Message, SystemMessage};
use crate::sync::{self, Mutex};
use crate::{ExitReason, Pid, Reference};

use super::core::Core;
use super::mailbox::{Mailbox, Refusal, Wake};

/// Its size is tuned, and guarded by a test: the `Arc` allocation (232 bytes) sits beside the
/// process's tokio task (256 bytes, 128-aligned) so that glibc's `memalign` leftovers are
/// reused. At 240–256 bytes every idle process held ~170 bytes more resident memory (720
/// against 553 B in `benches/runtime.rs`), though the fields grew by only 32; at 224 and at
/// 232 bytes it holds 550 B.
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
        // The guard is a temporary of this statement: the receiver is woken after the lock is
        // released, never under it (it would wake only to spin on the lock).
        let parked = self.mailbox.lock().push_user(msg, bounded)?;
        self.wake(parked);
        Ok(())
    }

    /// Queue a converted signal; who to wake is returned, to be woken once every lock is
    /// released.
    fn push_system(&self, msg: SystemMessage) -> Wake {
        self.mailbox.lock().push_system(msg)
    }

    /// Wake a parked receiver. Must be called with no lock held.
    #[inline]
    pub(crate) fn wake(&self, parked: Wake) {
        match parked {
            Wake::Nobody => {}
            Wake::Task => {
                if let Some(w) = self.core.task_waker() {
                    sync::wake_by_ref(w);
                }
            }
            Wake::Waker(w) => sync::wake(w),
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
    fn message_type_id(&self) -> std::any::TypeId;
    /// Mailbox length, messages taken so far, and whether parked in `recv`: one lock.
    fn mailbox_counters(&self) -> (usize, u64, bool);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<M: Send + 'static> AnyProcess for ProcessCell<M> {
    fn core(&self) -> &Core {
        &self.core
    }

    fn receive_exit(&self, from: Pid, reason: &ExitReason, via_link: bool) {
        let parked = self
            .core
            .receive_exit(from, reason, via_link, &|m| self.push_system(m));
        self.wake(parked);
    }

    fn deliver_down(&self, down: Down) {
        let mut st = self.core.lock();
        let active = st
            .relations
            .as_mut()
            .is_some_and(|rel| rel.monitoring.remove(&down.reference).is_some());
        // Queued under the watcher's lock: once `demonitor` returned, no `Down` can be queued.
        // Woken after it.
        let parked = if active {
            self.push_system(SystemMessage::Down(down))
        } else {
            Wake::Nobody
        };
        drop(st);
        self.wake(parked);
    }

    fn deliver_exit_message(&self, from: Pid, reason: ExitReason) {
        let parked = self.push_system(SystemMessage::Exit(crate::Exit { from, reason }));
        self.wake(parked);
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

    fn message_type_id(&self) -> std::any::TypeId {
        std::any::TypeId::of::<M>()
    }

    fn mailbox_counters(&self) -> (usize, u64, bool) {
        let mb = self.mailbox.lock();
        (mb.len(), mb.received, mb.is_waiting())
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

#[cfg(all(test, target_pointer_width = "64", not(loom)))]
mod layout {
    /// Growing the cell by a field moves it out of the size band that pairs with tokio's
    /// task allocation (see [`ProcessCell`](super::ProcessCell)): re-measure idle memory
    /// (`FERROTP_BENCH_IDLE=ferrotp-held`) and pick the next good size before changing this.
    #[test]
    fn an_idle_process_cell_keeps_the_size_its_memory_figure_depends_on() {
        // 216: the spawn's clock reading is kept as an `Instant` (see `observe::Probe`).
        // 208 and 216 both measured 550 B/process; 224 and up leave the band.
        assert_eq!(std::mem::size_of::<super::ProcessCell<u64>>(), 216);
        assert_eq!(std::mem::size_of::<super::ProcessCell<String>>(), 216);
    }
}

#[cfg(all(test, debug_assertions, not(loom)))]
mod tests {
    use crate::{process, Message};

    /// Debug builds assert, in every wake-up, that no core lock is held (`sync::wake`): this
    /// exercises each way a parked process is woken — a user message, an `Exit` and a `Down`
    /// converted from signals — so a wake under the mailbox or core lock fails here.
    #[tokio::test(flavor = "current_thread")]
    async fn parked_processes_are_woken_after_every_lock_is_released() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let receiver = process::spawn(|mut ctx: crate::Context<u32>| async move {
            ctx.trap_exit(true);
            let mut seen = Vec::new();
            for _ in 0..3 {
                seen.push(match ctx.recv().await {
                    Message::User(_) => "user",
                    Message::Exit(_) => "exit",
                    Message::Down(_) => "down",
                });
                if seen.len() == 2 {
                    let doomed = process::spawn(|mut c: crate::Context| async move {
                        c.recv().await;
                        Ok(())
                    });
                    ctx.monitor(doomed.pid());
                    process::exit(doomed.pid(), crate::ExitReason::Kill).unwrap();
                }
            }
            tx.send(seen).unwrap();
            Ok(())
        });
        tokio::task::yield_now().await;
        receiver.send(1).unwrap();
        tokio::task::yield_now().await;
        process::exit(receiver.pid(), crate::ExitReason::error("trapped")).unwrap();
        assert_eq!(rx.await.unwrap(), ["user", "exit", "down"]);
    }
}
