//! Elixir's `DynamicSupervisor`: children started on demand, all alike, one-for-one.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::child::{self, Child};
use super::flags::check_spec;
use super::strategy::should_restart;
use super::{
    shutdown, ChildCounts, ChildInfo, ChildPid, ChildSpec, ChildSpecProblem, FlagsProblem,
    Intensity, Started, SupervisorError,
};
use crate::gen_server::{
    self, CallResult, GenServer, HandleResult, Info, Init, ReplyTo, Server, ServerContext,
    StartOptions, StopError,
};
use crate::observe::{self, Board, EventKind, SupervisorKind};
use crate::registry::Name;
use crate::{ExitReason, Pid};

/// How a dynamic supervisor behaves.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use ferrotp::supervisor::DynamicSupervisorFlags;
///
/// let flags = DynamicSupervisorFlags::new().max_children(100);
/// assert_eq!(flags.max_children, Some(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DynamicSupervisorFlags {
    /// Restart intensity (3 in 5 s by default, as Elixir's).
    pub intensity: Intensity,
    /// The most children it holds, restarting ones included; `None` is unlimited.
    pub max_children: Option<usize>,
}

impl DynamicSupervisorFlags {
    /// Elixir's defaults: 3 restarts in 5 s, unlimited children.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `max_children`.
    pub fn max_children(mut self, n: usize) -> Self {
        self.max_children = Some(n);
        self
    }

    /// Restarts tolerated within `max_seconds`.
    pub fn max_restarts(mut self, n: u32) -> Self {
        self.intensity.max_restarts = n;
        self
    }

    /// The intensity window, in whole seconds (at least 1).
    pub fn max_seconds(mut self, seconds: u64) -> Self {
        self.intensity.max_seconds = seconds;
        self
    }
}

impl DynamicSupervisorFlags {
    /// Elixir's checks of `DynamicSupervisor.init/1`'s options.
    pub(crate) fn validate(&self) -> Result<(), SupervisorError> {
        if self.intensity.max_seconds == 0 {
            return Err(SupervisorError::InvalidFlags(FlagsProblem::ZeroPeriod));
        }
        if self.max_children == Some(0) {
            return Err(SupervisorError::InvalidFlags(FlagsProblem::ZeroMaxChildren));
        }
        Ok(())
    }
}

type MakeSpec<E> = Box<dyn FnOnce(&E) -> ChildSpec + Send>;

/// A dynamic supervisor's calls, each with its typed reply.
pub(crate) enum DynCall<E> {
    StartChild(MakeSpec<E>, ReplyTo<Result<Option<Pid>, SupervisorError>>),
    TerminateChild(Pid, ReplyTo<Result<(), SupervisorError>>),
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<ChildCounts>),
}

/// A dynamic child: its spec, where it is, and the pid it is known by — its running pid, or,
/// while a failed restart is retried, the pid it had (OTP's `{restarting, OldPid}`), by which
/// it can still be terminated.
struct DynChild {
    child: Child,
    known_as: Pid,
}

/// The state of a dynamic supervisor; `E` is its `extra_arguments`, handed to every child
/// spec built with [`DynamicSupervisor::start_child_with`].
pub(crate) struct DynamicState<E> {
    flags: DynamicSupervisorFlags,
    extra: E,
    children: HashMap<u64, DynChild>,
    /// Running children by pid, and restarting ones by the pid they had.
    by_pid: HashMap<Pid, u64>,
    next_key: u64,
    /// The child table as the observer reads it, and the restarts counted against the
    /// intensity.
    board: Arc<Board>,
}

impl<E> fmt::Debug for DynamicState<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicState")
            .field("flags", &self.flags)
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}

impl<E: Send + Sync + 'static> GenServer for DynamicState<E> {
    type Args = (DynamicSupervisorFlags, E);
    type Call = DynCall<E>;
    /// Retry the restart of the child with this key.
    type Cast = u64;
    type Info = ();
    type Continue = ();

    async fn init((flags, extra): Self::Args, ctx: &mut ServerContext<Self>) -> Init<Self> {
        ctx.trap_exit(true);
        if let Err(e) = flags.validate() {
            return Init::Stop(ExitReason::from(e));
        }
        Init::ok(DynamicState {
            flags,
            extra,
            children: HashMap::new(),
            by_pid: HashMap::new(),
            next_key: 0,
            board: Board::publish(
                ctx.pid(),
                SupervisorKind::Dynamic,
                flags.intensity,
                Some(terminate_by_pid::<E>(ctx.pid())),
            ),
        })
    }

    async fn handle_call(
        &mut self,
        call: DynCall<E>,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        match call {
            DynCall::StartChild(make, to) => {
                let started = self.start_child(make, ctx).await;
                CallResult::reply(to, started)
            }
            DynCall::TerminateChild(pid, to) => {
                let done = self.terminate_child(pid, ctx).await;
                CallResult::reply(to, done)
            }
            DynCall::WhichChildren(to) => {
                CallResult::reply(to, self.children.values().map(|c| c.child.info()).collect())
            }
            DynCall::CountChildren(to) => CallResult::reply(
                to,
                ChildCounts::tally(
                    self.children
                        .values()
                        .map(|c| (c.child.pid, c.child.spec.child_type)),
                ),
            ),
        }
    }

    async fn handle_cast(&mut self, key: u64, ctx: &mut ServerContext<Self>) -> HandleResult<Self> {
        match self.children.get(&key) {
            // Still to be retried: not terminated meanwhile.
            Some(c) if c.child.pid == ChildPid::Restarting => self.restart(key, ctx).await,
            _ => HandleResult::noreply(),
        }
    }

    async fn handle_info(
        &mut self,
        info: Info<()>,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        let Info::Exit(exit) = info else {
            return HandleResult::noreply();
        };
        let Some(&key) = self.by_pid.get(&exit.from) else {
            return HandleResult::noreply();
        };
        if self.children[&key].child.pid != ChildPid::Running(exit.from) {
            // A restarting child's old pid: its exit was handled already.
            return HandleResult::noreply();
        }
        let restart = self.children[&key].child.spec.restart;
        let child_id = self.children[&key].child.spec.id.clone();
        let restarting = should_restart(restart, &exit.reason);
        if restarting || !exit.reason.is_shutdown() {
            observe::record(EventKind::Crash {
                pid: exit.from,
                supervisor: ctx.pid(),
                child_id: child_id.clone(),
                reason: exit.reason.clone(),
                restarting,
            });
        }
        if !restarting {
            self.remove(key);
            return HandleResult::noreply();
        }
        tracing::error!(
            supervisor = %ctx.pid(), child = &*child_id,
            pid = %exit.from, reason = %exit.reason, location = exit.reason.panic_location(),
            "dynamic child terminated; restarting"
        );
        self.board.exited(key, &exit.reason);
        self.children.get_mut(&key).expect("found above").child.pid = ChildPid::Undefined;
        self.restart(key, ctx).await
    }

    async fn terminate(&mut self, _reason: &ExitReason, ctx: &mut ServerContext<Self>) {
        // All at once, each with its own shutdown, as Elixir's DynamicSupervisor.
        let me = ctx.pid();
        let stopping: Vec<_> = self
            .children
            .values()
            .filter_map(|c| match c.child.pid {
                ChildPid::Running(pid) => Some((
                    c.child.spec.id.clone(),
                    shutdown::begin(pid, c.child.spec.restart, c.child.spec.shutdown, |p| {
                        ctx.unlink(p)
                    }),
                )),
                _ => None,
            })
            .collect();
        for (id, s) in stopping {
            s.finish(me, &id).await;
        }
        self.children.clear();
        self.by_pid.clear();
        self.board.clear();
    }
}

impl<E: Send + Sync + 'static> DynamicState<E> {
    fn remove(&mut self, key: u64) -> Option<DynChild> {
        let c = self.children.remove(&key)?;
        self.by_pid.remove(&c.known_as);
        self.board.remove(key);
        Some(c)
    }

    async fn start_child(
        &mut self,
        make: MakeSpec<E>,
        ctx: &ServerContext<Self>,
    ) -> Result<Option<Pid>, SupervisorError> {
        if self
            .flags
            .max_children
            .is_some_and(|max| self.children.len() >= max)
        {
            return Err(SupervisorError::MaxChildren);
        }
        let spec = make(&self.extra);
        if spec.significant {
            return Err(SupervisorError::InvalidChildSpec {
                id: spec.id.clone(),
                problem: ChildSpecProblem::SignificantInDynamicSupervisor,
            });
        }
        check_spec(&spec)?;
        match child::start(&spec, ctx).await {
            Ok(Started::Pid(pid)) => {
                let key = self.next_key;
                self.next_key += 1;
                self.by_pid.insert(pid, key);
                self.board.put(
                    key,
                    &spec.id,
                    spec.child_type,
                    spec.restart,
                    ChildPid::Running(pid),
                );
                self.children.insert(
                    key,
                    DynChild {
                        child: Child {
                            spec,
                            pid: ChildPid::Running(pid),
                            key,
                        },
                        known_as: pid,
                    },
                );
                Ok(Some(pid))
            }
            Ok(Started::Ignore) => Ok(None),
            Err(reason) => Err(SupervisorError::StartFailed(reason)),
        }
    }

    /// Stop the child known as `pid` — running, or being restarted after it ran as `pid` —
    /// and forget it.
    async fn terminate_child(
        &mut self,
        pid: Pid,
        ctx: &ServerContext<Self>,
    ) -> Result<(), SupervisorError> {
        let key = *self.by_pid.get(&pid).ok_or(SupervisorError::NotFound)?;
        let c = self.remove(key).expect("indexed by pid");
        if let ChildPid::Running(running) = c.child.pid {
            child::stop(running, &c.child.spec, ctx).await;
        }
        Ok(())
    }

    async fn restart(&mut self, key: u64, ctx: &mut ServerContext<Self>) -> HandleResult<Self> {
        if !self.board.allow_restart() {
            tracing::error!(
                supervisor = %ctx.pid(),
                "reached_max_restart_intensity: dynamic supervisor shutting down"
            );
            observe::record(EventKind::Escalation {
                supervisor: ctx.pid(),
                child_id: self.children[&key].child.spec.id.clone(),
            });
            return HandleResult::Stop(ExitReason::Shutdown);
        }
        let spec = self.children[&key].child.spec.clone();
        match child::start(&spec, ctx).await {
            Ok(Started::Pid(pid)) => {
                let c = self.children.get_mut(&key).expect("restarting");
                self.by_pid.remove(&c.known_as);
                c.child.pid = ChildPid::Running(pid);
                c.known_as = pid;
                self.by_pid.insert(pid, key);
                self.board.restarted(key, ChildPid::Running(pid));
                observe::record(EventKind::Restart {
                    supervisor: ctx.pid(),
                    child_id: spec.id.clone(),
                    pid,
                });
            }
            Ok(Started::Ignore) => {
                self.remove(key);
            }
            Err(reason) => {
                tracing::error!(
                    supervisor = %ctx.pid(), child = &*spec.id, reason = %reason,
                    "restart failed; retrying"
                );
                // Listed as restarting, known by its old pid, until the retry.
                self.children.get_mut(&key).expect("restarting").child.pid = ChildPid::Restarting;
                self.board.set_pid(key, ChildPid::Restarting);
                ctx.server().cast(key);
            }
        }
        HandleResult::noreply()
    }
}

/// `terminate_child` on dynamic supervisor `sup`, for observers that know it only by pid. It
/// holds the pid, not a handle: the supervisor's state owns this, and must not keep its own
/// process alive.
fn terminate_by_pid<E: Send + Sync + 'static>(sup: Pid) -> crate::observe::TerminateChild {
    Arc::new(move |child| {
        Box::pin(async move {
            DynamicSupervisor::<E>::from_pid(sup)
                .map_err(|_| SupervisorError::NotFound)?
                .terminate_child(child)
                .await
        })
    })
}

/// A handle to a dynamic supervisor (Elixir's `DynamicSupervisor`), whose `extra_arguments`
/// are of type `E`.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::Context;
/// use ferrotp::supervisor::{ChildSpec, DynamicSupervisor, DynamicSupervisorFlags, Started};
///
/// let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new().max_children(2)).await.unwrap();
/// let worker = || ChildSpec::worker("worker", |opts| async move {
///     let addr = opts.builder().spawn(|_: Context| std::future::pending()).unwrap();
///     Ok(Started::Pid(addr.pid()))
/// });
/// sup.start_child(worker()).await.unwrap();
/// sup.start_child(worker()).await.unwrap();
/// assert!(sup.start_child(worker()).await.is_err()); // max_children
/// assert_eq!(sup.count_children().await.unwrap().active, 2);
/// # }
/// ```
pub struct DynamicSupervisor<E: Send + Sync + 'static = ()> {
    server: Server<DynamicState<E>>,
}

impl<E: Send + Sync + 'static> Clone for DynamicSupervisor<E> {
    fn clone(&self) -> Self {
        DynamicSupervisor {
            server: self.server.clone(),
        }
    }
}

impl<E: Send + Sync + 'static> fmt::Debug for DynamicSupervisor<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynamicSupervisor")
            .field(&self.server.pid())
            .finish()
    }
}

impl DynamicSupervisor<()> {
    /// Start a dynamic supervisor with no extra arguments, not linked.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::InvalidFlags`] for invalid flags (nothing is started).
    pub async fn start(flags: DynamicSupervisorFlags) -> Result<Self, SupervisorError> {
        Self::start_with(flags, (), StartOptions::new()).await
    }

    /// Start a dynamic supervisor with no extra arguments, linked to the caller.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_link(flags: DynamicSupervisorFlags) -> Result<Self, SupervisorError> {
        Self::start_with(flags, (), StartOptions::new().link()).await
    }

    /// A child spec running a dynamic supervisor under another supervisor; its id is
    /// `"DynamicSupervisor"`.
    pub fn child_spec(flags: DynamicSupervisorFlags) -> ChildSpec {
        Self::child_spec_with_extra(flags, ())
    }
}

impl<E: Send + Sync + 'static> DynamicSupervisor<E> {
    /// Start with `extra_arguments` and options.
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisor::start`].
    pub async fn start_with(
        flags: DynamicSupervisorFlags,
        extra_arguments: E,
        opts: StartOptions,
    ) -> Result<Self, SupervisorError> {
        // Reject bad flags before anything runs, as `Supervisor::start` does.
        flags.validate()?;
        gen_server::start_with::<DynamicState<E>>((flags, extra_arguments), opts)
            .await
            .map(|server| DynamicSupervisor { server })
            .map_err(SupervisorError::from_start)
    }

    /// A child spec running a dynamic supervisor with these `extra_arguments` under another
    /// supervisor; a clone of them for each (re)start. Its id is `"DynamicSupervisor"`.
    pub fn child_spec_with_extra(flags: DynamicSupervisorFlags, extra_arguments: E) -> ChildSpec
    where
        E: Clone,
    {
        ChildSpec::worker_with(
            "DynamicSupervisor",
            extra_arguments,
            move |extra, opts| async move {
                match DynamicSupervisor::start_with(flags, extra, opts).await {
                    Ok(sup) => Ok(Started::Pid(sup.running_pid())),
                    Err(e) => Err(ExitReason::from(e)),
                }
            },
        )
        .supervisor_child()
    }

    fn running_pid(&self) -> Pid {
        self.server
            .pid()
            .expect("a started supervisor's handle addresses its process")
    }

    /// A handle to the live dynamic supervisor `pid` (for example a child of a supervisor).
    ///
    /// # Errors
    ///
    /// [`LookupError`](crate::LookupError) if `pid` is not alive or is not a dynamic supervisor
    /// with extra arguments of type `E`.
    pub fn from_pid(pid: Pid) -> Result<Self, crate::LookupError> {
        Ok(DynamicSupervisor {
            server: Server::from_pid(pid)?,
        })
    }

    /// A handle that reaches the dynamic supervisor registered under `name` (local or via) at
    /// each request.
    pub fn named(name: impl Into<Name>) -> Self {
        DynamicSupervisor {
            server: Server::named(name),
        }
    }

    /// Its pid.
    pub fn pid(&self) -> Option<Pid> {
        self.server.pid()
    }

    async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(ReplyTo<T>) -> DynCall<E>,
    ) -> Result<T, SupervisorError> {
        Ok(self.server.call_infinity(call).await?)
    }

    /// Start a child from `spec` (its id is informative only). `Ok(None)` if it ignored.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::MaxChildren`], [`SupervisorError::StartFailed`].
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Option<Pid>, SupervisorError> {
        self.start_child_with(move |_| spec).await
    }

    /// Start a child from the spec `make` builds with the supervisor's `extra_arguments`
    /// (Elixir prepends them to the child's start arguments).
    ///
    /// # Errors
    ///
    /// As [`start_child`](Self::start_child).
    pub async fn start_child_with(
        &self,
        make: impl FnOnce(&E) -> ChildSpec + Send + 'static,
    ) -> Result<Option<Pid>, SupervisorError> {
        self.call(|to| DynCall::StartChild(Box::new(make), to))
            .await?
    }

    /// Stop the child `pid` with its shutdown spec; it is not restarted. A child whose restart
    /// failed and is being retried is found by the pid it had, and removed (OTP's rule).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`] if `pid` is not a child (any more).
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        self.call(|to| DynCall::TerminateChild(pid, to)).await?
    }

    /// The children, in no particular order; a child whose restart is being retried is
    /// listed as [`ChildPid::Restarting`].
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Call`] if the supervisor is not alive.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.call(DynCall::WhichChildren).await
    }

    /// Counts of children.
    ///
    /// # Errors
    ///
    /// As [`which_children`](Self::which_children).
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.call(DynCall::CountChildren).await
    }

    /// Stop the supervisor: all children stop concurrently, then it exits with `reason`.
    ///
    /// # Errors
    ///
    /// As [`Server::stop`].
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        self.server.stop(reason, None).await
    }
}
