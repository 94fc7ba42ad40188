//! Waiting for a process you spawned.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::{ExitReason, Pid};

/// The exit of a process, for whoever spawned it: `.await` yields its [`ExitReason`].
///
/// It is the process's tokio task handle, so waiting costs what awaiting a tokio task does: no
/// table lookup, no watch registered. Dropping it detaches: the process runs on, unaffected.
/// It is not a link or a monitor — the process is not told about it, and it does not tell
/// other processes anything; use [`Context::monitor`](crate::Context::monitor) for that.
///
/// Made by [`process::spawn_joinable`](crate::process::spawn_joinable) and
/// [`Builder::spawn_joinable`](crate::process::Builder::spawn_joinable).
#[must_use = "a JoinHandle does nothing unless awaited; drop it to detach"]
pub struct JoinHandle {
    pid: Pid,
    task: tokio::task::JoinHandle<ExitReason>,
}

impl JoinHandle {
    pub(crate) fn new(pid: Pid, task: tokio::task::JoinHandle<ExitReason>) -> Self {
        JoinHandle { pid, task }
    }

    /// The process.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the process has exited (its reason is ready).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Future for JoinHandle {
    type Output = ExitReason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ExitReason> {
        Pin::new(&mut self.task)
            .poll(cx)
            .map(|joined| match joined {
                Ok(reason) => reason,
                // The task never panics (user code runs under the process's panic guard): it was
                // dropped unfinished, with its runtime, and its process exited `Killed`.
                Err(_) => ExitReason::Killed,
            })
    }
}

impl fmt::Debug for JoinHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("pid", &self.pid)
            .field("finished", &self.is_finished())
            .finish()
    }
}
