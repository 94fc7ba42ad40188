//! Elixir's `Task` and `Task.Supervisor`: one computation in its own process, awaited later or
//! delivered as a message.
//!
//! [`Task::spawn`] runs a future in a new process **linked** to the calling process (as
//! `Task.async`): if the task crashes, a non-trapping caller goes down with it — the work was
//! part of the caller's job. [`TaskSupervisor::async_nolink`] runs it under a supervisor
//! instead, with no link: a crash only reaches the caller as the awaited error.
//!
//! Awaiting a task gives its value, or [`TaskError::Exit`] with the task's exit reason, or
//! [`TaskError::Timeout`] — which stops nothing: the task runs on, and the error hands its
//! handle back to wait again or [`shutdown`](Task::shutdown) it (Elixir's `Task.await` only
//! exits the caller; a `Task.async_nolink` task runs on).
//!
//! A GenServer that starts a task does not await it: it receives the outcome as a message
//! ([`TaskSupervisor::async_nolink_send`]), Elixir's `async_nolink` with
//! `handle_info({ref, result})` and `{:DOWN, ref, ...}` in one message.
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::task::Task;
//!
//! let task = Task::spawn(async { 6 * 7 });
//! assert_eq!(task.await.ok(), Some(42)); // `.await` waits up to 5 s, like `Task.await/1`
//! # }
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::gen_server::{GenServer, Server, StartOptions, StopError};
use crate::process::{self, table};
use crate::registry::Name;
use crate::signal::ops;
use crate::supervisor::{
    ChildPid, ChildSpec, DynamicSupervisor, DynamicSupervisorFlags, Restart, Shutdown, Started,
    SupervisorError,
};
use crate::{Addr, ExitReason, Pid, Reference};

/// The default `await` timeout, as Elixir's: 5 seconds.
pub const DEFAULT_AWAIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why awaiting a task gave no value.
#[non_exhaustive]
pub enum TaskError<T> {
    /// No result within the timeout. The task was not touched and runs on: here is its
    /// handle, to wait again or shut it down. Dropping the handle abandons the result (a
    /// linked task stays linked).
    Timeout {
        /// How long was waited.
        after: Duration,
        /// The task.
        task: Task<T>,
    },
    /// The task exited without a result (it panicked or was killed).
    Exit(ExitReason),
}

impl<T> TaskError<T> {
    /// Whether the wait timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::Timeout { .. })
    }

    /// The task, if the wait timed out.
    pub fn into_task(self) -> Option<Task<T>> {
        match self {
            TaskError::Timeout { task, .. } => Some(task),
            TaskError::Exit(_) => None,
        }
    }

    /// The task's exit reason, if it died.
    pub fn exit_reason(&self) -> Option<&ExitReason> {
        match self {
            TaskError::Exit(r) => Some(r),
            TaskError::Timeout { .. } => None,
        }
    }
}

impl<T> fmt::Debug for TaskError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Timeout { after, task } => f
                .debug_struct("Timeout")
                .field("after", after)
                .field("task", &task.addr.pid())
                .finish(),
            TaskError::Exit(r) => f.debug_tuple("Exit").field(r).finish(),
        }
    }
}

impl<T> fmt::Display for TaskError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Timeout { after, task } => write!(
                f,
                "task {} did not finish within {after:?}; it still runs: wait again or shut it down",
                task.addr.pid()
            ),
            TaskError::Exit(r) => write!(f, "the task exited: {r}"),
        }
    }
}

impl<T> std::error::Error for TaskError<T> {}

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
        let addr = process::spawn_link(move |_: crate::Context| task_body(fut, tx));
        Task { addr, rx, owner }
    }

    /// The task's pid.
    pub fn pid(&self) -> Pid {
        self.addr.pid()
    }

    /// Wait up to `timeout` for the result (Elixir's `Task.await/2`).
    ///
    /// # Errors
    ///
    /// [`TaskError::Exit`] if the task died; [`TaskError::Timeout`], with the task still
    /// running and its handle, if it did not finish in time.
    pub async fn join(mut self, timeout: Duration) -> Result<T, TaskError<T>> {
        if self.rx.is_terminated() {
            return Err(TaskError::Exit(self.exit_reason().await));
        }
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(TaskError::Exit(self.exit_reason().await)),
            Err(_) => Err(TaskError::Timeout {
                after: timeout,
                task: self,
            }),
        }
    }

    /// Wait up to `timeout` without giving up on the task (Elixir's `Task.yield/2`):
    /// `Some(Ok(value))`, `Some(Err(reason))` if it died, or `None` if it still runs — call
    /// again later.
    ///
    /// The value is returned once. Once `yield_for` has returned `Some`, the task has ended,
    /// and later calls (and [`join`](Self::join)) return its exit reason at once: `Normal`
    /// after a value, as Elixir's `{:exit, :normal}`.
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use ferrotp::task::Task;
    /// use ferrotp::ExitReason;
    ///
    /// let mut task = Task::spawn(async { 6 * 7 });
    /// assert_eq!(task.yield_for(Duration::from_secs(1)).await, Some(Ok(42)));
    /// assert_eq!(
    ///     task.yield_for(Duration::from_secs(1)).await,
    ///     Some(Err(ExitReason::Normal))
    /// );
    /// # }
    /// ```
    pub async fn yield_for(&mut self, timeout: Duration) -> Option<Result<T, ExitReason>> {
        if self.rx.is_terminated() {
            return Some(Err(self.exit_reason().await));
        }
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
    type Output = Result<T, TaskError<T>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, TaskError<T>>> + Send>>;

    /// `task.await` is `task.join(DEFAULT_AWAIT_TIMEOUT)`.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.join(DEFAULT_AWAIT_TIMEOUT))
    }
}

/// Identifies a task whose outcome arrives as a message
/// ([`TaskSupervisor::async_nolink_send`]): Elixir's `%Task{ref: ref}`, matched in
/// `handle_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskRef {
    /// The task's process.
    pub pid: Pid,
    /// Unique to this task.
    pub reference: Reference,
}

/// Where a message can be delivered: a process's [`Addr`], or a GenServer (as an info
/// message, for `handle_info`).
pub trait Recipient<M>: Send + Sync + 'static {
    /// Deliver `message`; one for a recipient that is gone is dropped.
    fn deliver(&self, message: M);
}

impl<M: Send + 'static> Recipient<M> for Addr<M> {
    fn deliver(&self, message: M) {
        let _ = self.send(message);
    }
}

impl<S: GenServer> Recipient<S::Info> for Server<S>
where
    Server<S>: Sync,
{
    fn deliver(&self, message: S::Info) {
        let _ = self.send(message);
    }
}

/// How [`TaskSupervisor::start_child`] supervises a task: Elixir's `restart:` and `shutdown:`
/// options.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use std::time::Duration;
/// use ferrotp::supervisor::{Restart, Shutdown};
/// use ferrotp::task::TaskOptions;
///
/// let opts = TaskOptions::new()
///     .restart(Restart::Transient)
///     .shutdown(Shutdown::BrutalKill);
/// assert_eq!(opts.restart, Restart::Transient);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskOptions {
    /// When the task is restarted; `Temporary` (never) by default, as Elixir's.
    pub restart: Restart,
    /// How it is stopped; 5 s by default.
    pub shutdown: Shutdown,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            restart: Restart::Temporary,
            shutdown: Shutdown::Timeout(DEFAULT_AWAIT_TIMEOUT),
        }
    }
}

impl TaskOptions {
    /// Temporary, 5 s shutdown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Set the shutdown.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }
}

/// Elixir's `Task.Supervisor`: a dynamic supervisor for tasks.
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::task::{TaskError, TaskSupervisor};
/// use ferrotp::ExitReason;
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
        Self::start_with(flags, StartOptions::new()).await
    }

    /// Start a task supervisor linked to the caller.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start`].
    pub async fn start_link(flags: DynamicSupervisorFlags) -> Result<Self, SupervisorError> {
        Self::start_with(flags, StartOptions::new().link()).await
    }

    /// Start with options: a name (local or via), a link.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start`].
    pub async fn start_with(
        flags: DynamicSupervisorFlags,
        opts: StartOptions,
    ) -> Result<Self, SupervisorError> {
        Ok(TaskSupervisor {
            sup: DynamicSupervisor::start_with(flags, (), opts).await?,
        })
    }

    /// A child spec that runs a task supervisor under another supervisor; its id is
    /// `"TaskSupervisor"`.
    pub fn child_spec(flags: DynamicSupervisorFlags) -> ChildSpec {
        DynamicSupervisor::child_spec(flags).id("TaskSupervisor")
    }

    /// The task supervisor registered under `name` (local or via), resolved at each request.
    pub fn named(name: impl Into<Name>) -> Self {
        TaskSupervisor {
            sup: DynamicSupervisor::named(name),
        }
    }

    /// A handle to the live task supervisor `pid`.
    ///
    /// # Errors
    ///
    /// [`LookupError`](crate::LookupError) if `pid` is not alive or not a task supervisor.
    pub fn from_pid(pid: Pid) -> Result<Self, crate::LookupError> {
        Ok(TaskSupervisor {
            sup: DynamicSupervisor::from_pid(pid)?,
        })
    }

    /// Its pid.
    pub fn pid(&self) -> Option<Pid> {
        self.sup.pid()
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
        let (addr_tx, mut addr_rx) = oneshot::channel();
        let spec = ChildSpec::worker_once("task", (fut, tx, addr_tx), move |work, opts| {
            async move {
                let (fut, tx, addr_tx) = work;
                // In the supervisor's process: linked to the supervisor, and to the owner for
                // `async_linked` — both links exist before the task runs.
                let mut builder = opts.builder();
                if let Some(owner) = owner {
                    builder = builder.link(owner);
                }
                let addr = builder
                    .spawn(move |_: crate::Context| task_body(fut, tx))
                    .map_err(ExitReason::from)?;
                let pid = addr.pid();
                let _ = addr_tx.send(addr);
                Ok(Started::Pid(pid))
            }
        })
        .shutdown(Shutdown::Timeout(DEFAULT_AWAIT_TIMEOUT));
        self.sup.start_child(spec).await?;
        let addr = addr_rx.try_recv().map_err(|_| {
            SupervisorError::StartFailed(ExitReason::error("the task did not start"))
        })?;
        Ok(Task { addr, rx, owner })
    }

    /// Run `fut` as a temporary child not linked to the caller, and deliver its outcome to `to`
    /// as one message, `wrap(task, outcome)`: `Ok(value)`, or `Err(reason)` if the task died
    /// without a value. Elixir's `Task.Supervisor.async_nolink` inside a GenServer, whose
    /// `handle_info` receives `{ref, result}` or `{:DOWN, ref, ...}`.
    ///
    /// The message is sent once the task's process has ended, whatever ended it.
    ///
    /// # Errors
    ///
    /// As [`async_nolink`](Self::async_nolink).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ferrotp::task::{TaskRef, TaskSupervisor};
    /// use ferrotp::{process, ExitReason, Message};
    ///
    /// let tasks = TaskSupervisor::start(Default::default()).await.unwrap();
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let owner = process::spawn(move |mut ctx| async move {
    ///     let me = ctx.addr();
    ///     let task = tasks
    ///         .async_nolink_send(async { 6 * 7 }, me, |task: TaskRef, outcome| (task, outcome))
    ///         .await
    ///         .unwrap();
    ///     if let Message::User((done, outcome)) = ctx.recv().await {
    ///         assert_eq!(done, task);
    ///         let _ = tx.send(outcome);
    ///     }
    ///     Ok(())
    /// });
    /// # let _: &ferrotp::Addr<(TaskRef, Result<i32, ExitReason>)> = &owner;
    /// assert_eq!(rx.await.unwrap(), Ok(42));
    /// # }
    /// ```
    pub async fn async_nolink_send<F, M>(
        &self,
        fut: F,
        to: impl Recipient<M>,
        wrap: impl FnOnce(TaskRef, Result<F::Output, ExitReason>) -> M + Send + 'static,
    ) -> Result<TaskRef, SupervisorError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        M: 'static,
    {
        let Task { addr, mut rx, .. } = self.start_task(fut, None).await?;
        let task_ref = TaskRef {
            pid: addr.pid(),
            reference: Reference::new(),
        };
        let deliver = move |reason: ExitReason| {
            // Read once the task has ended: its value is in the channel if it produced one.
            let outcome = rx.try_recv().map_err(|_| reason);
            to.deliver(wrap(task_ref, outcome));
        };
        // Runs in the dying task, after its last poll.
        if let Err(unrun) = ops::watch(addr.pid(), Box::new(move |down| deliver(down.reason))) {
            // Already ended: deliver from here, with the reason the task left.
            let reason = addr.exit_reason().unwrap_or(ExitReason::NoProc);
            unrun(crate::Down {
                reference: task_ref.reference,
                pid: task_ref.pid,
                reason,
            });
        }
        Ok(task_ref)
    }

    /// Start a supervised task that is restarted and stopped as `opts` say (Elixir's
    /// `Task.Supervisor.start_child/3` with `restart:` and `shutdown:`); `make` builds its
    /// future for each (re)start. Its result is discarded.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start_child`].
    pub async fn start_child<F, Fut>(
        &self,
        make: F,
        opts: TaskOptions,
    ) -> Result<Pid, SupervisorError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let spec = ChildSpec::worker("task", move |start| {
            let fut = make();
            async move {
                let addr = start
                    .builder()
                    .spawn(move |_: crate::Context| async move {
                        fut.await;
                        Ok(())
                    })
                    .map_err(ExitReason::from)?;
                Ok(Started::Pid(addr.pid()))
            }
        })
        .restart(opts.restart)
        .shutdown(opts.shutdown);
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
                ChildPid::Running(p) => Some(p),
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
