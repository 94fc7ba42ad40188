//! Child specifications: how a supervisor starts, restarts and stops one child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Restart;
use crate::{ExitReason, Pid};

/// What a child's start function reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// The child runs, linked to the supervisor.
    Pid(Pid),
    /// The child chose not to run (`init` returned `Ignore`); the supervisor keeps the spec
    /// (unless temporary) with no process.
    Ignore,
}

/// How a supervisor stops a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `exit(child, Kill)` at once; `terminate` does not run.
    BrutalKill,
    /// `exit(child, Shutdown)`, then `Kill` if it has not exited within the duration. A
    /// trapping GenServer runs `terminate` in that time.
    Timeout(Duration),
    /// `exit(child, Shutdown)` and wait as long as it takes (the default for supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor (a subtree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildType {
    /// A worker process.
    #[default]
    Worker,
    /// A supervisor.
    Supervisor,
}

/// The future a start function returns.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<Started, ExitReason>> + Send>>;

/// A start function: called in the supervisor's process, it must start the child *linked* to
/// it (`start_link`) and return once the child is initialised.
///
/// As in OTP, the supervisor waits for it: a start that never returns blocks the supervisor.
/// Give GenServer children a bound with
/// [`StartOptions::timeout`](crate::gen_server::StartOptions::timeout) in
/// [`child_spec_with`](crate::gen_server::child_spec_with): a slow `init` is then killed and
/// counts as a failed start.
pub type StartFn = Arc<dyn Fn() -> StartFuture + Send + Sync>;

/// How to start, restart and stop one child (OTP's child spec).
///
/// | field       | default                                  | OTP            |
/// |-------------|------------------------------------------|----------------|
/// | id          | required, unique in its supervisor       | `id`           |
/// | start       | required                                 | `start`        |
/// | restart     | `Permanent`                              | `restart`      |
/// | shutdown    | `Timeout(5 s)` for workers, `Infinity` for supervisors | `shutdown` |
/// | child type  | `Worker`                                 | `type`         |
/// | significant | `false`                                  | `significant`  |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ferrotp_runtime::supervisor::{ChildSpec, Restart, Shutdown, Started};
/// use ferrotp_runtime::process;
///
/// let spec = ChildSpec::worker("ticker", || async {
///     let addr = process::spawn_link::<(), _, _>(|_| std::future::pending());
///     Ok(Started::Pid(addr.pid()))
/// })
/// .restart(Restart::Transient)
/// .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
/// assert_eq!(&*spec.id, "ticker");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique name of the child in its supervisor.
    pub id: Arc<str>,
    /// How to start it.
    pub start: StartFn,
    /// When it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Whether its termination can shut its supervisor down (see `AutoShutdown`).
    pub significant: bool,
}

impl ChildSpec {
    /// Run the start function in the calling (supervisor) process; a panic in it is a failed
    /// start, not a crash of the supervisor.
    pub(crate) async fn run_start(&self) -> Result<Started, ExitReason> {
        match crate::process::panic::guarded((self.start)()).await {
            Ok(result) => result,
            Err(panicked) => Err(panicked),
        }
    }

    /// A worker: permanent, stopped with a 5 s shutdown timeout.
    pub fn worker<F, Fut>(id: impl Into<Arc<str>>, start: F) -> ChildSpec
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Started, ExitReason>> + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(move || Box::pin(start())),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            child_type: ChildType::Worker,
            significant: false,
        }
    }

    /// A supervisor child: permanent, stopped with `Infinity` (it stops its own children).
    pub fn supervisor<F, Fut>(id: impl Into<Arc<str>>, start: F) -> ChildSpec
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Started, ExitReason>> + Send + 'static,
    {
        ChildSpec {
            shutdown: Shutdown::Infinity,
            child_type: ChildType::Supervisor,
            ..ChildSpec::worker(id, start)
        }
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

    /// Set the id.
    pub fn id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.id = id.into();
        self
    }

    /// Mark the child significant (for `AutoShutdown`).
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("child_type", &self.child_type)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}
