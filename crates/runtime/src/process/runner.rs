//! The future a process's task runs: the one place user code is polled, inside one
//! `catch_unwind`, and the exit procedure that follows.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::cell::ProcessCell;
use super::{current, panic, table};
use crate::registry::name;
use crate::{ExitReason, ProcessResult};

pin_project! {
    pub(crate) struct Runner<M, Fut>
    where
        M: Send,
        M: 'static,
     {
        cell: Arc<ProcessCell<M>>,
        // `None` once the process has exited (its exit procedure drops the body first).
        #[pin]
        body: Option<Fut>,
    }

    impl<M, Fut> PinnedDrop for Runner<M, Fut>
    where
        M: Send,
        M: 'static,
    {
        fn drop(this: Pin<&mut Self>) {
            // The runtime dropped the task before it finished (runtime shutdown, or the task
            // was aborted): the process still has to leave the table and tell its links.
            let this = this.project();
            if this.body.is_some() {
                let _ = exit_process(this.cell, this.body, ExitReason::Killed, Cause::Dropped);
            }
        }
    }
}

impl<M: Send + 'static, Fut> Runner<M, Fut> {
    pub(crate) fn new(cell: Arc<ProcessCell<M>>, body: Fut) -> Self {
        Runner {
            cell,
            body: Some(body),
        }
    }
}

impl<M, Fut> Future for Runner<M, Fut>
where
    M: Send + 'static,
    Fut: Future<Output = ProcessResult>,
{
    /// The exit reason: what the task's `JoinHandle` (a [`process::JoinHandle`]) yields.
    ///
    /// [`process::JoinHandle`]: crate::process::JoinHandle
    type Output = ExitReason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ExitReason> {
        let mut this = self.project();
        if this.body.is_none() {
            // Never polled again once it returned its reason; this is only a guard.
            return Poll::Ready(ExitReason::NoProc);
        }
        let core = &this.cell.core;
        // Everything the process does in this poll, its exit log included, is inside its span.
        let _span = core.span.as_deref().map(tracing::Span::enter);
        core.set_task_waker(cx.waker());
        let (reason, cause) = match core.take_pending_exit() {
            Some(reason) => (reason, Cause::Signal),
            None => {
                let Some(body) = this.body.as_mut().as_pin_mut() else {
                    return Poll::Ready(ExitReason::NoProc);
                };
                let _enter = current::Enter::new(core.pid);
                match panic::poll_guarded(body, cx) {
                    Poll::Ready(Ok(out)) => {
                        (out.err().unwrap_or(ExitReason::Normal), Cause::Returned)
                    }
                    // A signal that arrived while the body ran (including one the process sent
                    // itself) takes effect now, not at the next wake-up.
                    Poll::Pending => match core.take_pending_exit() {
                        Some(reason) => (reason, Cause::Signal),
                        None => return Poll::Pending,
                    },
                    Poll::Ready(Err(panicked)) => (panicked, Cause::Panicked),
                }
            }
        };
        Poll::Ready(exit_process(this.cell, this.body, reason, cause))
    }
}

/// How a process came to exit, for the log line.
#[derive(Clone, Copy)]
pub(crate) enum Cause {
    Returned,
    Panicked,
    Signal,
    Dropped,
}

/// OTP's order: record the reason, drop the process's code and mailbox, release the name, then
/// send exit signals and `Down`s. Returns the reason, for the process's join handle.
pub(crate) fn exit_process<M: Send + 'static, Fut>(
    cell: &Arc<ProcessCell<M>>,
    mut body: Pin<&mut Option<Fut>>,
    reason: ExitReason,
    cause: Cause,
) -> ExitReason {
    let pid = cell.core.pid;
    let departure = cell.core.begin_exit(&reason);
    // Dead at the end, however the rest goes: the exit log and the distribution's hooks run
    // foreign code that may panic, and a failed start waits for exactly this mark.
    let _dead = MarkDead(&cell.core);
    // Dropping the body drops every reply handle it held; callers find the reason recorded
    // above. User `Drop` impls may panic: that must not stop the exit procedure.
    if panic::call_guarded(|| body.set(None)).is_err() {
        tracing::error!(%pid, "a destructor panicked while the process exited; ignored");
    }
    let undelivered = cell.mailbox.lock().close();
    if panic::call_guarded(move || drop(undelivered)).is_err() {
        tracing::error!(%pid, "a queued message's destructor panicked; ignored");
    }
    table::remove(pid);
    super::recent::record(pid, &reason);
    if let Some(n) = &departure.name {
        name::release(n, pid);
    }
    // A subscriber's code: if it panics, the exit goes on (and nothing is left to log it to).
    let _ = panic::call_guarded(|| log_exit(pid, &reason, cause));
    departure.notify(pid, &reason);
    reason
}

/// Marks a process dead when dropped: the last step of its exit, also when a step before it
/// panicked.
struct MarkDead<'a>(&'a super::core::Core);

impl Drop for MarkDead<'_> {
    fn drop(&mut self) {
        self.0.mark_dead();
    }
}

fn log_exit(pid: crate::Pid, reason: &ExitReason, cause: Cause) {
    match (cause, reason) {
        (Cause::Panicked, ExitReason::Panic { message, location }) => tracing::error!(
            %pid,
            message = &**message,
            location = location.as_deref().unwrap_or("unknown"),
            "process panicked"
        ),
        (Cause::Dropped, _) => tracing::debug!(%pid, "process dropped with its tokio runtime"),
        (_, r) if r.is_shutdown() => tracing::debug!(%pid, reason = %r, "process exited"),
        (Cause::Signal, r) => {
            tracing::info!(%pid, reason = %r, "process terminated by an exit signal")
        }
        (_, r) => tracing::info!(%pid, reason = %r, "process exited"),
    }
}

pin_project! {
    /// A process's code: the function it was spawned with until the first poll calls it, then
    /// the future that call returned.
    ///
    /// The call happens in the process's first poll, so whatever the function does before
    /// returning its future runs as the process (under its pid, inside its panic guard). An
    /// `async move { f().await }` wrapper would do the same, but a generator keeps the function
    /// beside the future it returns for its whole life; this keeps one or the other, so every
    /// spawn moves a smaller task, and every poll goes through one state machine less.
    #[project = CodeProj]
    pub(crate) enum Code<G, Fut> {
        Start { start: Option<G> },
        Running { #[pin] fut: Fut },
    }
}

impl<G, Fut> Code<G, Fut> {
    pub(crate) fn new(start: G) -> Self {
        Code::Start { start: Some(start) }
    }
}

impl<G, Fut> Future for Code<G, Fut>
where
    G: FnOnce() -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        if let CodeProj::Start { start } = self.as_mut().project() {
            let start = start.take().expect("a process's code is started once");
            self.set(Code::Running { fut: start() });
        }
        match self.project() {
            CodeProj::Running { fut } => fut.poll(cx),
            CodeProj::Start { .. } => unreachable!("started above"),
        }
    }
}
