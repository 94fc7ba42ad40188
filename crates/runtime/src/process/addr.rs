//! Typed handles to a process's mailbox.

use std::fmt;
use std::sync::Arc;

use super::cell::ProcessCell;
use super::mailbox::Refusal;
use crate::error::SendError;
use crate::Pid;

/// A typed address: sends messages of type `M` to one process.
///
/// Cloning is cheap. An `Addr` names one *incarnation*: after the process exits, sends return
/// [`SendError`] with `is_noproc()`, even if a restarted process took over its name. Hold a
/// name and resolve it with [`registry::lookup`](crate::registry::lookup) to follow restarts.
///
/// Holding an `Addr` keeps the process's small control block allocated, not the process alive.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{process, Message};
///
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let echo = process::spawn(|mut ctx| async move {
///     if let Message::User(text) = ctx.recv().await {
///         tx.send(format!("echo: {text}")).unwrap();
///     }
///     Ok(())
/// });
/// echo.send("hi".to_string()).unwrap();
/// assert_eq!(rx.await.unwrap(), "echo: hi");
/// # }
/// ```
pub struct Addr<M = ()> {
    cell: Arc<ProcessCell<M>>,
}

impl<M: Send + 'static> Addr<M> {
    pub(crate) fn from_cell(cell: Arc<ProcessCell<M>>) -> Self {
        Addr { cell }
    }

    /// Queue `msg` at the end of the process's mailbox.
    ///
    /// Never waits. Messages from one sender arrive in the order they were sent.
    ///
    /// # Errors
    ///
    /// The message is handed back in a [`SendError`] if the process has exited
    /// ([`SendError::is_noproc`]) or its bounded mailbox is full ([`SendError::is_full`]).
    pub fn send(&self, msg: M) -> Result<(), SendError<M>> {
        self.send_with(msg, true)
    }

    /// Queue past the capacity bound: for the runtime's own requests only.
    pub(crate) fn send_unbounded(&self, msg: M) -> Result<(), SendError<M>> {
        self.send_with(msg, false)
    }

    fn send_with(&self, msg: M, bounded: bool) -> Result<(), SendError<M>> {
        self.cell
            .send(msg, bounded)
            .map_err(|(msg, why)| match why {
                Refusal::Closed => SendError::noproc(msg, self.pid()),
                Refusal::Full { capacity } => SendError::full(msg, self.pid(), capacity),
            })
    }

    /// The process's pid.
    pub fn pid(&self) -> Pid {
        self.cell.core.pid
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        self.cell.core.is_alive()
    }

    /// Whether a signal that terminates the process is pending: it is dead to callers, as
    /// `is_alive` says, though it has not run its exit yet.
    #[inline]
    pub(crate) fn exit_decided(&self) -> bool {
        self.cell.core.kill_pending()
    }

    /// Whether the process has completed its exit: its name released and its links and
    /// monitors told.
    pub(crate) fn exit_completed(&self) -> bool {
        self.cell.core.is_dead()
    }

    /// The reason the process exited, once it has.
    pub fn exit_reason(&self) -> Option<crate::ExitReason> {
        self.cell.core.exit_reason()
    }

    /// How many messages are queued.
    pub fn mailbox_len(&self) -> usize {
        self.cell.mailbox.lock().len()
    }
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            cell: self.cell.clone(),
        }
    }
}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Addr").field(&self.cell.core.pid).finish()
    }
}

impl<M> PartialEq for Addr<M> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<M> Eq for Addr<M> {}
