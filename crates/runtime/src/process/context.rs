//! What a process's own code holds: its mailbox and its process flags.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use super::builder::Builder;
use super::cell::{AnyProcess, ProcessCell};
use crate::error::{NoProcError, RegisterError, SpawnError};
use crate::signal::ops;
use crate::{Addr, ExitReason, Message, Pid, ProcessResult, Reference};

/// A process's view of itself, handed to its body by [`spawn`](crate::process::spawn).
///
/// Only the process holds it: receiving, trapping exits, linking and monitoring are things a
/// process does *for itself*, as in Erlang. Keep it in the process's own body: moved into
/// another tokio task it still receives messages there, but an exit signal only takes effect
/// when the process's own task next runs.
///
/// `M` is the type of the messages the process takes; a process that takes none of its own
/// (it only receives `Exit` and `Down`, or nothing) is a `Context` with `M = ()`, which is
/// what to write instead of a turbofish: `process::spawn(|ctx: Context| ...)`.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{process, Context, ExitReason, Message};
///
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// process::spawn(|mut ctx: Context| async move {
///     ctx.trap_exit(true);
///     let child = ctx.spawn_link(|_: Context| async { Err(ExitReason::error("boom")) });
///     if let Message::Exit(exit) = ctx.recv().await {
///         tx.send((exit.from == child.pid(), exit.reason)).unwrap();
///     }
///     Ok(())
/// });
/// assert_eq!(rx.await.unwrap(), (true, ExitReason::error("boom")));
/// # }
/// ```
pub struct Context<M = ()> {
    cell: Arc<ProcessCell<M>>,
}

impl<M: Send + 'static> Context<M> {
    pub(crate) fn new(cell: Arc<ProcessCell<M>>) -> Self {
        Context { cell }
    }

    /// What the observer reads about this process.
    #[inline]
    pub(crate) fn probe(&self) -> &crate::observe::Probe {
        &self.cell.core.probe
    }

    /// This process's pid (Erlang's `self()`).
    pub fn pid(&self) -> Pid {
        self.cell.core.pid
    }

    /// An address other processes can send to.
    pub fn addr(&self) -> Addr<M> {
        Addr::from_cell(self.cell.clone())
    }

    /// Wait for the next message, in arrival order.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is removed from the mailbox only when this future completes, so
    /// it can be used in `tokio::select!` without losing messages.
    pub fn recv(&mut self) -> Recv<'_, M> {
        Recv { ctx: self }
    }

    /// Wait for the first message that `pred` selects, leaving the others queued in order:
    /// Erlang's selective `receive`. Each new arrival re-runs `pred` over the queue, so keep
    /// unmatched backlogs short.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`recv`](Self::recv).
    pub fn recv_where<P>(&mut self, pred: P) -> RecvWhere<'_, M, P>
    where
        P: FnMut(&Message<M>) -> bool,
    {
        RecvWhere { ctx: self, pred }
    }

    /// Give back the memory of an empty mailbox buffer (what hibernation buys in Erlang).
    pub fn shrink_mailbox(&mut self) {
        self.cell.mailbox.lock().shrink();
    }

    /// Take the next message if one is queued.
    pub fn try_recv(&mut self) -> Option<Message<M>> {
        self.cell.mailbox.lock().pop()
    }

    /// Wait at most `timeout` for a message (Erlang's `receive ... after`). Uses tokio's clock,
    /// so it follows a paused clock in tests.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Message<M>> {
        tokio::time::timeout(timeout, self.recv()).await.ok()
    }

    /// Remove every queued message that `pred` selects, keeping the others in order; returns how
    /// many were removed. A building block for selective receive.
    pub fn drain_where(&mut self, pred: impl FnMut(&Message<M>) -> bool) -> usize {
        self.cell.mailbox.lock().remove_where(pred)
    }

    /// How many messages are queued.
    pub fn mailbox_len(&self) -> usize {
        self.cell.mailbox.lock().len()
    }

    /// Set the `trap_exit` flag; returns the previous value. While it is set, exit signals
    /// (other than `exit(pid, Kill)`) arrive as [`Message::Exit`] instead of terminating the
    /// process.
    pub fn trap_exit(&self, on: bool) -> bool {
        self.cell.core.set_trap_exit(on)
    }

    /// Whether this process traps exits.
    pub fn is_trapping_exits(&self) -> bool {
        self.cell.core.lock().trap_exit
    }

    /// Link to `other`. Linking twice is one link; linking to yourself does nothing.
    ///
    /// # Errors
    ///
    /// As in Erlang, linking to a process that is not alive gives `noproc`: a trapping caller
    /// gets `Message::Exit { from: other, reason: NoProc }` and `Ok(())`, a non-trapping caller
    /// gets [`NoProcError`].
    pub fn link(&self, other: Pid) -> Result<(), NoProcError> {
        ops::link(&*self.cell, other)
    }

    /// Link to `other` if it is running; `false`, with no `Exit` message even when trapping,
    /// if it is not.
    pub(crate) fn link_if_alive(&self, other: Pid) -> bool {
        ops::link_if_alive(&*self.cell, other)
    }

    /// Remove the link to `other`, if any. Afterwards the link has no effect on this process
    /// (an `Exit` message from it may already be queued).
    pub fn unlink(&self, other: Pid) {
        ops::unlink(&*self.cell, other)
    }

    /// Monitor `target`: when it terminates, a [`Message::Down`] with the returned reference
    /// arrives. A target that is not alive gives an immediate `Down` with `NoProc`.
    pub fn monitor(&self, target: Pid) -> Reference {
        ops::monitor(&*self.cell, target)
    }

    /// Remove a monitor; `true` if it was still active. Once this returns, no `Down` for it
    /// will be queued (one may already be: see [`demonitor_flush`](Self::demonitor_flush)).
    pub fn demonitor(&self, reference: Reference) -> bool {
        ops::demonitor(&*self.cell, reference, false)
    }

    /// Remove a monitor and any `Down` for it that is already queued (Erlang's
    /// `demonitor(Ref, [flush])`); `true` if the monitor was still active.
    pub fn demonitor_flush(&self, reference: Reference) -> bool {
        ops::demonitor(&*self.cell, reference, true)
    }

    /// Send an exit signal with `reason` to `target`, from this process. Sending one to yourself
    /// follows the same table: `Normal` to yourself ends a non-trapping process.
    ///
    /// # Errors
    ///
    /// [`NoProcError`] if `target` is not alive (Erlang ignores this silently; the error is
    /// there to read or to ignore).
    pub fn exit(&self, target: Pid, reason: ExitReason) -> Result<(), NoProcError> {
        ops::exit(self.pid(), target, &reason)
    }

    /// Register this process under `name`.
    ///
    /// # Errors
    ///
    /// See [`registry::register`](crate::registry::register).
    pub fn register(&self, name: impl Into<Arc<str>>) -> Result<(), RegisterError> {
        crate::registry::register(name, self.pid())
    }

    /// Spawn a process linked to this one; the link exists before the child runs.
    pub fn spawn_link<N, F, Fut>(&self, body: F) -> Addr<N>
    where
        N: Send + 'static,
        F: FnOnce(Context<N>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        self.spawn_with(Builder::new().link(self.pid()), body)
    }

    /// Spawn a process monitored by this one; the monitor exists before the child runs.
    pub fn spawn_monitor<N, F, Fut>(&self, body: F) -> (Addr<N>, Reference)
    where
        N: Send + 'static,
        F: FnOnce(Context<N>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        let reference = Reference::new();
        let addr = self.spawn_with(Builder::new().monitored_by(self.pid(), reference), body);
        (addr, reference)
    }

    fn spawn_with<N, F, Fut>(&self, builder: Builder, body: F) -> Addr<N>
    where
        N: Send + 'static,
        F: FnOnce(Context<N>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        match builder.spawn(body) {
            Ok(addr) => addr,
            // We are the link/monitor target and we are running, and no name was asked for.
            Err(SpawnError::NoProc(_) | SpawnError::Register(_)) => {
                unreachable!("a running process can always link to its own child")
            }
            // Only if the context was moved out of its process into another executor.
            Err(SpawnError::NoRuntime) => panic!("{}", SpawnError::NoRuntime),
            // The monitor's watcher is given explicitly (this process), never looked up.
            Err(SpawnError::NotInProcess) => unreachable!("the watcher is this process"),
        }
    }
}

impl<M> fmt::Debug for Context<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("pid", &self.cell.core.pid)
            .finish_non_exhaustive()
    }
}

/// The future returned by [`Context::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, M> {
    ctx: &'a mut Context<M>,
}

impl<M> fmt::Debug for Recv<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

impl<M: Send + 'static> Future for Recv<'_, M> {
    type Output = Message<M>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Message<M>> {
        let cell = &self.ctx.cell;
        // A process being terminated handles no more messages: receiving is a point where an
        // exit signal takes effect (the task was woken and acts on it).
        if cell.core().kill_pending() {
            return Poll::Pending;
        }
        // Spend tokio's cooperative budget, as its channels do: a process draining a long
        // mailbox yields its worker every so often instead of holding it.
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let mut mailbox = cell.mailbox.lock();
        match mailbox.pop() {
            Some(m) => {
                coop.made_progress();
                Poll::Ready(m)
            }
            None => {
                // Under the lock: a sender either finds us parked or we find its message.
                mailbox.park(cx.waker(), cell.core.task_waker());
                Poll::Pending
            }
        }
    }
}

/// The future returned by [`Context::recv_where`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvWhere<'a, M, P> {
    ctx: &'a mut Context<M>,
    pred: P,
}

impl<M, P> fmt::Debug for RecvWhere<'_, M, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvWhere").finish_non_exhaustive()
    }
}

impl<M: Send + 'static, P: FnMut(&Message<M>) -> bool + Unpin> Future for RecvWhere<'_, M, P> {
    type Output = Message<M>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Message<M>> {
        let this = &mut *self;
        let cell = &this.ctx.cell;
        if cell.core().kill_pending() {
            return Poll::Pending;
        }
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let mut mailbox = cell.mailbox.lock();
        match mailbox.pop_where(&mut this.pred) {
            Some(m) => {
                coop.made_progress();
                Poll::Ready(m)
            }
            None => {
                mailbox.park(cx.waker(), cell.core.task_waker());
                Poll::Pending
            }
        }
    }
}
