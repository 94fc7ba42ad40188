//! Elixir's `Task` and `Task.Supervisor`: one computation in its own process, awaited later.
//!
//! [`Task::spawn`] runs a future in a new process **linked** to the calling process (as
//! `Task.async`): if the task crashes, a non-trapping caller goes down with it — the work was
//! part of the caller's job. [`TaskSupervisor::async_nolink`] runs it under a supervisor
//! instead, with no link: a crash only reaches the caller as the awaited error.
//!
//! Awaiting a task gives its value, or [`TaskError::Exit`] with the task's exit reason, or
//! [`TaskError::Timeout`] — after which the task is stopped and its late result is never
//! delivered anywhere.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp_runtime::task::Task;
//!
//! let task = Task::spawn(async { 6 * 7 });
//! assert_eq!(task.await, Ok(42)); // `.await` waits up to 5 s, like `Task.await/1`
//! # }
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::gen_server::StopError;
use crate::process::{self, table, Builder};
use crate::signal::ops;
use crate::supervisor::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorFlags, Restart, Shutdown, Started,
    SupervisorError,
};
use crate::{Addr, ExitReason, Pid};

/// The default `await` timeout, as Elixir's: 5 seconds.
pub const DEFAULT_AWAIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why awaiting a task gave no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// No result within the timeout; the task was stopped and its result is dropped.
    #[error("the task did not finish within {0:?}; it was stopped")]
    Timeout(Duration),
    /// The task exited without a result (it panicked or was killed).
    #[error("the task exited: {0}")]
    Exit(ExitReason),
}

/// A running computation whose result can be awaited once.
pub struct Task<T> {
    addr: Addr<()>,
    rx: oneshot::Receiver<T>,
    /// The linked caller, unlinked before the task is stopped on its behalf.
    owner: Option<Pid>,
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("pid", &self.addr.pid())
            .field("owner", &self.owner)
            .finish()
    }
}

async fn task_body<F>(fut: F, tx: oneshot::Sender<F::Output>) -> crate::ProcessResult
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let value = fut.await;
    // The owner may have stopped waiting; then the value is dropped here, not delivered.
    let _ = tx.send(value);
    Ok(())
}

impl<T: Send + 'static> Task<T> {
    /// Run `fut` in a new process linked to the calling process (Elixir's `Task.async`). From
    /// outside any process there is no link.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn<F>(fut: F) -> Task<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let owner = process::current();
        let addr = process::spawn_link::<(), _, _>(move |_| task_body(fut, tx));
        Task { addr, rx, owner }
    }

    /// The task's pid.
    pub fn pid(&self) -> Pid {
        self.addr.pid()
    }

    /// Wait up to `timeout` for the result (Elixir's `Task.await/2`). On timeout the task is
    /// stopped (unlinked first, so the caller is not hit) and its result is never delivered.
    ///
    /// # Errors
    ///
    /// [`TaskError::Exit`] if the task died, [`TaskError::Timeout`].
    pub async fn join(mut self, timeout: Duration) -> Result<T, TaskError> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(TaskError::Exit(self.exit_reason().await)),
            Err(_) => {
                self.stop(ExitReason::Kill).await;
                Err(TaskError::Timeout(timeout))
            }
        }
    }

    /// Wait up to `timeout` without giving up on the task (Elixir's `Task.yield/2`):
    /// `Some(Ok(value))`, `Some(Err(reason))` if it died, or `None` if it still runs — call
    /// again later.
    pub async fn yield_for(&mut self, timeout: Duration) -> Option<Result<T, ExitReason>> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(value)) => Some(Ok(value)),
            Ok(Err(_)) => Some(Err(self.exit_reason().await)),
            Err(_) => None,
        }
    }

    /// Stop the task (Elixir's `Task.shutdown/2`): `exit(task, Shutdown)` and up to the
    /// timeout to finish, or `Kill` at once for [`Shutdown::BrutalKill`]. Returns the value if
    /// it arrived first, `Some(Err(reason))` if the task had died on its own, `None` if it was
    /// stopped.
    pub async fn shutdown(mut self, how: Shutdown) -> Option<Result<T, ExitReason>> {
        if let Ok(value) = self.rx.try_recv() {
            return Some(Ok(value));
        }
        if let Some(reason) = self.addr.exit_reason() {
            return (!reason.is_shutdown()).then_some(Err(reason));
        }
        let exited = process::await_exit(self.pid());
        self.unlink_owner();
        match how {
            Shutdown::BrutalKill => {
                let _ = process::exit(self.pid(), ExitReason::Kill);
                exited.await;
            }
            Shutdown::Timeout(t) => {
                let _ = process::exit(self.pid(), ExitReason::Shutdown);
                let mut exited = exited;
                if tokio::time::timeout(t, &mut exited).await.is_err() {
                    let _ = process::exit(self.pid(), ExitReason::Kill);
                    exited.await;
                }
            }
            Shutdown::Infinity => {
                let _ = process::exit(self.pid(), ExitReason::Shutdown);
                exited.await;
            }
        }
        match self.rx.try_recv() {
            Ok(value) => Some(Ok(value)),
            Err(_) => None,
        }
    }

    fn unlink_owner(&self) {
        if let Some(owner) = self.owner.and_then(table::get) {
            ops::unlink(&*owner, self.pid());
        }
    }

    async fn stop(&self, reason: ExitReason) {
        self.unlink_owner();
        let exited = process::await_exit(self.pid());
        let _ = process::exit(self.pid(), reason);
        exited.await;
    }

    async fn exit_reason(&self) -> ExitReason {
        match self.addr.exit_reason() {
            Some(r) => r,
            None => {
                let r = process::await_exit(self.pid()).await;
                self.addr.exit_reason().unwrap_or(r)
            }
        }
    }
}

impl<T: Send + 'static> IntoFuture for Task<T> {
    type Output = Result<T, TaskError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, TaskError>> + Send>>;

    /// `task.await` is `task.join(DEFAULT_AWAIT_TIMEOUT)`.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.join(DEFAULT_AWAIT_TIMEOUT))
    }
}

/// Elixir's `Task.Supervisor`: a dynamic supervisor for tasks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp_runtime::task::{TaskError, TaskSupervisor};
/// use ferrotp_runtime::ExitReason;
///
/// let tasks = TaskSupervisor::start(Default::default()).await.unwrap();
/// let failing = tasks.async_nolink(async { Err::<u8, _>(ExitReason::error("unused")).unwrap() }).await.unwrap();
/// // The crash reaches us only as the awaited error: nothing is linked to us.
/// assert!(matches!(failing.await, Err(TaskError::Exit(ExitReason::Panic { .. }))));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TaskSupervisor {
    sup: DynamicSupervisor,
}

impl TaskSupervisor {
    /// Start a task supervisor, not linked.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start`].
    pub async fn start(flags: DynamicSupervisorFlags) -> Result<Self, SupervisorError> {
        Ok(TaskSupervisor {
            sup: DynamicSupervisor::start(flags).await?,
        })
    }

    /// Start a task supervisor linked to the caller.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start`].
    pub async fn start_link(flags: DynamicSupervisorFlags) -> Result<Self, SupervisorError> {
        Ok(TaskSupervisor {
            sup: DynamicSupervisor::start_link(flags).await?,
        })
    }

    /// The underlying dynamic supervisor.
    pub fn supervisor(&self) -> &DynamicSupervisor {
        &self.sup
    }

    /// Run `fut` as a temporary child, **not** linked to the caller (Elixir's
    /// `Task.Supervisor.async_nolink`).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::MaxChildren`] when the supervisor is full.
    pub async fn async_nolink<F>(&self, fut: F) -> Result<Task<F::Output>, SupervisorError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.start_task(fut, None).await
    }

    async fn start_task<F>(
        &self,
        fut: F,
        owner: Option<Pid>,
    ) -> Result<Task<F::Output>, SupervisorError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let once = Arc::new(Mutex::new(Some((fut, tx))));
        let addr_slot: Arc<Mutex<Option<Addr<()>>>> = Arc::new(Mutex::new(None));
        let slot = addr_slot.clone();
        let spec = ChildSpec::worker("task", move || {
            let work = once.lock().take();
            let slot = slot.clone();
            async move {
                let (fut, tx) = work.ok_or(ExitReason::error("a task runs once"))?;
                // In the supervisor's process: linked to the supervisor, and to the owner for
                // `async_linked` — both links exist before the task runs.
                let mut builder = Builder::new();
                for pid in process::current().into_iter().chain(owner) {
                    builder = builder.link(pid);
                }
                let addr = builder
                    .spawn::<(), _, _>(move |_| task_body(fut, tx))
                    .map_err(ExitReason::error)?;
                let pid = addr.pid();
                *slot.lock() = Some(addr);
                Ok(Started::Pid(pid))
            }
        })
        .restart(Restart::Temporary)
        .shutdown(Shutdown::Timeout(DEFAULT_AWAIT_TIMEOUT));
        self.sup.start_child(spec).await?;
        let addr =
            addr_slot
                .lock()
                .take()
                .ok_or(SupervisorError::StartFailed(ExitReason::error(
                    "the task did not start",
                )))?;
        Ok(Task { addr, rx, owner })
    }

    /// Run `fut` as a temporary child **linked** to the caller too (Elixir's
    /// `Task.Supervisor.async`): a crash takes a non-trapping caller down.
    ///
    /// # Errors
    ///
    /// As [`async_nolink`](Self::async_nolink).
    pub async fn async_linked<F>(&self, fut: F) -> Result<Task<F::Output>, SupervisorError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.start_task(fut, process::current()).await
    }

    /// Start a supervised task that is restarted by `restart` (Elixir's
    /// `Task.Supervisor.start_child/3`); `make` builds its future for each (re)start. Its
    /// result is discarded.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start_child`].
    pub async fn start_child<F, Fut>(
        &self,
        make: F,
        restart: Restart,
    ) -> Result<Pid, SupervisorError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let spec = ChildSpec::worker("task", move || {
            let fut = make();
            async move {
                let addr = process::spawn_link::<(), _, _>(move |_| async move {
                    fut.await;
                    Ok(())
                });
                Ok(Started::Pid(addr.pid()))
            }
        })
        .restart(restart)
        .shutdown(Shutdown::Timeout(DEFAULT_AWAIT_TIMEOUT));
        match self.sup.start_child(spec).await? {
            Some(pid) => Ok(pid),
            None => Err(SupervisorError::StartFailed(ExitReason::error(
                "the task ignored its start",
            ))),
        }
    }

    /// Stop a task child.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`] if `pid` is not one of its tasks.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        self.sup.terminate_child(pid).await
    }

    /// The pids of its running tasks.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Call`] if the supervisor is not alive.
    pub async fn children(&self) -> Result<Vec<Pid>, SupervisorError> {
        Ok(self
            .sup
            .which_children()
            .await?
            .into_iter()
            .filter_map(|c| match c.pid {
                crate::supervisor::ChildPid::Running(p) => Some(p),
                _ => None,
            })
            .collect())
    }

    /// Stop the supervisor and its tasks.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::stop`].
    pub async fn stop(&self) -> Result<(), StopError> {
        self.sup.stop(ExitReason::Shutdown).await
    }
}
