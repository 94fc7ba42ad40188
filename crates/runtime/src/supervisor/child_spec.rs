//! Child specifications: how a supervisor starts, restarts and stops one child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::Restart;
use crate::gen_server::{self, GenServer, StartError, StartOptions};
use crate::registry::Name;
use crate::{ExitReason, Pid};

/// What a child's start function reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// The child runs as this process.
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

type StartFn = Arc<dyn Fn(StartOptions) -> StartFuture + Send + Sync>;

/// How to start, restart and stop one child (OTP's child spec), built from whatever is started.
///
/// Every startable thing returns one, with a default id, and every spec is adjusted the same
/// way:
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use std::time::Duration;
/// use ferrotp::gen_server::{GenServer, Init, ServerContext};
/// use ferrotp::registry::{Keys, Registry};
/// use ferrotp::supervisor::{Child, DynamicSupervisor, DynamicSupervisorFlags, Restart, Shutdown};
///
/// # struct Cache;
/// # impl GenServer for Cache {
/// #     type Args = usize; type Call = (); type Cast = (); type Info = (); type Continue = ();
/// #     async fn init(_: usize, _: &mut ServerContext<Self>) -> Init<Self> { Init::ok(Cache) }
/// # }
/// let children = vec![
///     Registry::<String, ()>::child_spec(Keys::Unique).name("sessions"),
///     Cache::child_spec(1024).name("cache").restart(Restart::Transient),
///     DynamicSupervisor::child_spec(DynamicSupervisorFlags::new())
///         .id("workers")
///         .shutdown(Shutdown::Timeout(Duration::from_secs(30))),
/// ];
/// assert_eq!(&*children[1].id, "Cache");
/// ```
///
/// | field       | default                                  | OTP            |
/// |-------------|------------------------------------------|----------------|
/// | id          | what is started (the type's name), unique in its supervisor | `id` |
/// | start       | set by the constructor                   | `start`        |
/// | restart     | `Permanent`; `Temporary` for one-shot arguments | `restart` |
/// | shutdown    | `Timeout(5 s)` for workers, `Infinity` for supervisors | `shutdown` |
/// | child type  | `Worker`, or `Supervisor` for supervisors | `type`        |
/// | significant | `false`                                  | `significant`  |
/// | name        | none: local or via                       | the `Name` in the start arguments |
///
/// A start function is called in the supervisor's process with the [`StartOptions`] it must
/// start the child with: linked to the supervisor, and under the spec's name. The supervisor
/// links itself to each child it starts anyway, so a start function that forgets to link
/// cannot disable supervision.
///
/// # Arguments by value
///
/// A spec owns its child's start arguments and hands them to each start by value: a clone per
/// start for arguments that are `Clone` ([`Child::child_spec`], [`ChildSpec::worker_with`]),
/// or the arguments themselves, once, for a child that needs a one-shot resource such as a
/// `TcpStream` ([`Child::child_spec_once`], [`ChildSpec::worker_once`]). Such a child cannot
/// be started twice, so it is temporary; a supervisor refuses it with another restart type
/// ([`ChildSpecProblem::OneShotRestart`](super::ChildSpecProblem::OneShotRestart)). Once
/// started, its spec is spent: a supervisor that runs its `init` again (restarted by its own
/// supervisor, or upgraded) leaves it out, as it would a temporary child that has ended, and
/// a dynamic supervisor's `start_child` with it fails with an error saying so.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique name of the child in its supervisor.
    pub id: Arc<str>,
    /// When it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Whether its termination can shut its supervisor down (see `AutoShutdown`).
    pub significant: bool,
    start: StartFn,
    options: StartOptions,
    /// Started from one-shot arguments: it can be started once. Set once they are used.
    pub(crate) one_shot: Option<Arc<AtomicBool>>,
}

impl ChildSpec {
    /// A worker started by `start`, called with the start options at each start (the
    /// arguments it needs are its own captures).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// use ferrotp::Context;
    /// use ferrotp::supervisor::{ChildSpec, Started};
    ///
    /// let spec = ChildSpec::worker("ticker", |opts| async move {
    ///     // Linked to the supervisor, under the spec's name if it has one.
    ///     let addr = opts
    ///         .builder()
    ///         .spawn(|_: Context| std::future::pending())
    ///         .map_err(ferrotp::ExitReason::from)?;
    ///     Ok(Started::Pid(addr.pid()))
    /// });
    /// assert_eq!(&*spec.id, "ticker");
    /// ```
    pub fn worker<F, Fut>(id: impl Into<Arc<str>>, start: F) -> ChildSpec
    where
        F: Fn(StartOptions) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Started, ExitReason>> + Send + 'static,
    {
        ChildSpec::from_fn(id, Arc::new(move |opts| Box::pin(start(opts))), None)
    }

    /// A worker started by `start(args, options)`, with a clone of `args` at each start.
    pub fn worker_with<A, F, Fut>(id: impl Into<Arc<str>>, args: A, start: F) -> ChildSpec
    where
        A: Clone + Send + 'static,
        F: Fn(A, StartOptions) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Started, ExitReason>> + Send + 'static,
    {
        // Behind a lock only so that the spec is `Sync` for any `Send` arguments.
        let args = Mutex::new(args);
        ChildSpec::from_fn(
            id,
            Arc::new(move |opts| Box::pin(start(args.lock().clone(), opts))),
            None,
        )
    }

    /// A temporary worker started once by `start(args, options)`, which gets `args`
    /// themselves: for a child that owns a one-shot resource (a socket, a channel end).
    pub fn worker_once<A, F, Fut>(id: impl Into<Arc<str>>, args: A, start: F) -> ChildSpec
    where
        A: Send + 'static,
        F: FnOnce(A, StartOptions) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Started, ExitReason>> + Send + 'static,
    {
        let once = Mutex::new(Some((args, start)));
        let spent = Arc::new(AtomicBool::new(false));
        let mark = spent.clone();
        let id: Arc<str> = id.into();
        let spec_id = id.clone();
        ChildSpec::from_fn(
            id,
            Arc::new(move |opts| match once.lock().take() {
                Some((args, start)) => {
                    mark.store(true, Ordering::Release);
                    Box::pin(start(args, opts))
                }
                None => {
                    let reason = ExitReason::error(format_args!(
                        "child {spec_id:?} was built from one-shot arguments and has started \
                         once already: build a new spec to start it again"
                    ));
                    Box::pin(std::future::ready(Err(reason)))
                }
            }),
            Some(spent),
        )
        .restart(Restart::Temporary)
    }

    /// A supervisor child: as [`worker`](Self::worker), stopped with `Infinity` (it stops its
    /// own children first).
    pub fn supervisor<F, Fut>(id: impl Into<Arc<str>>, start: F) -> ChildSpec
    where
        F: Fn(StartOptions) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Started, ExitReason>> + Send + 'static,
    {
        ChildSpec::worker(id, start).supervisor_child()
    }

    fn from_fn(
        id: impl Into<Arc<str>>,
        start: StartFn,
        one_shot: Option<Arc<AtomicBool>>,
    ) -> ChildSpec {
        ChildSpec {
            id: id.into(),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            child_type: ChildType::Worker,
            significant: false,
            start,
            options: StartOptions::new(),
            one_shot,
        }
    }

    /// Built from one-shot arguments.
    pub(crate) fn is_one_shot(&self) -> bool {
        self.one_shot.is_some()
    }

    /// Built from one-shot arguments that an earlier start used: it can never start again.
    pub(crate) fn is_spent(&self) -> bool {
        self.one_shot
            .as_ref()
            .is_some_and(|spent| spent.load(Ordering::Acquire))
    }

    /// Mark the child a supervisor: stopped with `Infinity` unless set otherwise.
    pub(crate) fn supervisor_child(mut self) -> ChildSpec {
        self.child_type = ChildType::Supervisor;
        self.shutdown = Shutdown::Infinity;
        self
    }

    /// Set the id.
    pub fn id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.id = id.into();
        self
    }

    /// Start the child under `name` — a local name, or a [`Via`](crate::registry::Via) name
    /// such as a [`Registry`](crate::registry::Registry) key. Clients built from the name
    /// follow the child across restarts.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.options = self.options.name(name);
        self
    }

    /// The name the child starts under, if any.
    pub fn name_ref(&self) -> Option<&Name> {
        self.options.name_ref()
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

    /// Mark the child significant (for `AutoShutdown`).
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Bound the child's start: a GenServer whose `init` takes longer is killed, and the
    /// start fails. As in OTP, a supervisor waits for each start, so an unbounded `init` that
    /// hangs blocks its supervisor.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.options = self.options.timeout(timeout);
        self
    }

    /// Bound the child's mailbox (for GenServer children; see
    /// [`StartOptions::mailbox_capacity`]).
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.options = self.options.mailbox_capacity(capacity);
        self
    }

    /// Run the start function in the calling (supervisor) process, with options that link the
    /// child to it; a panic in the start function is a failed start, not a crash of the
    /// supervisor.
    pub(crate) async fn run_start(&self) -> Result<Started, ExitReason> {
        let start = (self.start)(self.options.clone().link());
        match crate::process::panic::guarded(start).await {
            Ok(result) => result,
            Err(panicked) => Err(panicked),
        }
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
            .field("name", &self.options.name_ref())
            .field("one_shot", &self.is_one_shot())
            .finish_non_exhaustive()
    }
}

/// A type's name without its module path (`Cache<u32>` for `app::cache::Cache<u32>`): the
/// default id of a child.
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let (path, generics) = full.split_at(full.find('<').unwrap_or(full.len()));
    let name = path.rsplit("::").next().unwrap_or(path);
    format!("{name}{generics}")
}

/// A GenServer's start outcome, as a start function reports it.
pub(crate) fn started<S: GenServer>(
    outcome: Result<gen_server::Server<S>, StartError>,
) -> Result<Started, ExitReason> {
    match outcome {
        Ok(server) => match server.pid() {
            Some(pid) => Ok(Started::Pid(pid)),
            // A handle from `start` addresses its process; it has a pid even once dead.
            None => Err(ExitReason::NoProc),
        },
        Err(StartError::Ignored) => Ok(Started::Ignore),
        Err(e) => Err(e.reason()),
    }
}

/// Child specs for every GenServer, as Elixir's `use GenServer` defines `child_spec/1`: the id
/// is the type's name (without its module path), the restart `Permanent`, the shutdown 5 s.
///
/// Implemented for every [`GenServer`]; servers declared with `#[gen_server]` also get an
/// inherent `child_spec` that takes `init`'s arguments one by one, like their `start`.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::gen_server::{GenServer, Init, ServerContext};
/// use ferrotp::supervisor::{Child, Strategy, Supervisor, SupervisorFlags};
///
/// struct Cache(usize);
/// impl GenServer for Cache {
///     type Args = usize; type Call = (); type Cast = (); type Info = (); type Continue = ();
///     async fn init(size: usize, _: &mut ServerContext<Self>) -> Init<Self> { Init::ok(Cache(size)) }
/// }
///
/// let sup = Supervisor::start(
///     SupervisorFlags::new(Strategy::OneForOne),
///     vec![Cache::child_spec(1024).name("cache")],
/// )
/// .await
/// .unwrap();
/// assert_eq!(sup.count_children().await.unwrap().active, 1);
/// # }
/// ```
pub trait Child: GenServer {
    /// A spec that starts the server with a clone of `args` at each (re)start.
    fn child_spec(args: Self::Args) -> ChildSpec
    where
        Self::Args: Clone,
    {
        ChildSpec::worker_with(short_type_name::<Self>(), args, |args, opts| async move {
            started(gen_server::start_with::<Self>(args, opts).await)
        })
    }

    /// A temporary spec that starts the server once, with `args` themselves (for arguments
    /// that are not `Clone`, such as a socket).
    fn child_spec_once(args: Self::Args) -> ChildSpec {
        ChildSpec::worker_once(short_type_name::<Self>(), args, |args, opts| async move {
            started(gen_server::start_with::<Self>(args, opts).await)
        })
    }
}

impl<S: GenServer> Child for S {}
