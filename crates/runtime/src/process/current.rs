//! Which process is being polled on this thread.

use std::cell::Cell;

use crate::Pid;

thread_local! {
    static CURRENT: Cell<Option<Pid>> = const { Cell::new(None) };
}

/// Marks the thread as running `pid` for the duration of one poll; restores the previous value
/// on drop, also when the poll unwinds.
pub(crate) struct Enter {
    prev: Option<Pid>,
}

impl Enter {
    #[inline]
    pub(crate) fn new(pid: Pid) -> Enter {
        Enter {
            prev: CURRENT.with(|c| c.replace(Some(pid))),
        }
    }
}

impl Drop for Enter {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// The pid of the process whose code is running on this thread right now, if any.
///
/// Inside a process body (and in everything it awaits directly) this is that process's pid.
/// In a plain tokio task spawned *from* a process it is `None`: that task is not the process.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::Context;
/// use ferrotp::process;
///
/// assert_eq!(process::current(), None);
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let addr = process::spawn(|ctx: Context| async move {
///     tx.send(process::current() == Some(ctx.pid())).unwrap();
///     Ok(())
/// });
/// assert!(rx.await.unwrap());
/// # let _ = addr;
/// # }
/// ```
#[inline]
pub fn current() -> Option<Pid> {
    CURRENT.with(|c| c.get())
}
