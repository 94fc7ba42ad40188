//! Supervision trees: OTP's supervisor.
//!
//! A supervisor starts its children in order, watches them through links (it traps exits), and
//! restarts them by its [`Strategy`] when they terminate, as long as they do not fail more
//! often than its restart [`Intensity`] allows. When they do, the supervisor stops all its
//! children (in reverse start order) and exits with `Shutdown`: its own supervisor sees a
//! child terminate and applies *its* rules. Failures escalate up the tree until some level can
//! restart the failing part into a known state. That is "let it crash".
//!
//! # Rules, as OTP's `supervisor.erl`
//!
//! * **Start**: children start one at a time in list order; each start returns after the
//!   child's `init`. If one fails, the ones already started are stopped in reverse order and
//!   the supervisor fails to start with [`SupervisorError::FailedToStartChild`].
//! * **Restart types** ([`Restart`]): permanent always, transient after an abnormal exit only,
//!   temporary never (and its spec is dropped).
//! * **Strategies** ([`Strategy`]): one-for-one restarts the child; one-for-all stops the
//!   others (reverse order) and restarts all; rest-for-one stops and restarts the children
//!   started after it. A group restart counts as **one** restart.
//! * **Intensity** ([`Intensity`]): the `(max_restarts + 1)`-th restart within `max_seconds`
//!   shuts the supervisor down with `Shutdown`. A failed restart is retried through the
//!   mailbox (other requests are served between attempts), and every attempt counts.
//! * **Links**: the supervisor links itself to every child it starts, whatever the start
//!   function did, so a start function that forgot to link cannot leave a dead child listed as
//!   running (OTP relies on `start_link`; ferrotp makes sure).
//! * **Shutdown**: children stop one at a time in reverse start order, each by its
//!   [`Shutdown`]: `exit(child, Shutdown)`, wait, then `Kill`; or `Kill` at once.
//! * **Signals**: the supervisor dies with its parent (running the shutdown first); exit
//!   signals from processes that are not its children are ignored.
//!
//! # Example
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::gen_server::{GenServer, Init, ServerContext};
//! use ferrotp::supervisor::{Child, ChildPid, Strategy, Supervisor, SupervisorFlags};
//!
//! struct Worker;
//! impl GenServer for Worker {
//!     type Args = ();
//!     type Call = ();
//!     type Cast = ();
//!     type Info = ();
//!     type Continue = ();
//!     async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
//!         Init::ok(Worker)
//!     }
//! }
//!
//! let sup = Supervisor::start(
//!     SupervisorFlags::new(Strategy::OneForOne),
//!     vec![
//!         Worker::child_spec(()).id("a"),
//!         Worker::child_spec(()).id("b"),
//!     ],
//! )
//! .await
//! .unwrap();
//! let children = sup.which_children().await.unwrap();
//! assert_eq!(children[0].id.as_ref(), "b"); // most recently started first
//! assert!(matches!(children[1].pid, ChildPid::Running(_)));
//! # }
//! ```

mod child;
mod child_spec;
mod dynamic;
mod error;
mod flags;
pub(crate) mod intensity;
mod module;
mod shutdown;
mod state;
mod strategy;

use std::sync::Arc;
use std::time::Duration;

pub use child_spec::{Child, ChildSpec, ChildType, Shutdown, StartFuture, Started};
pub use dynamic::{DynamicSupervisor, DynamicSupervisorFlags};
pub use error::{ChildSpecProblem, FlagsProblem, SupervisorError};
pub use flags::{AutoShutdown, SupervisorFlags};
pub use intensity::Intensity;
pub use module::{SupervisorInit, SupervisorModule};
pub use strategy::{Restart, Strategy};

pub(crate) use child_spec::{short_type_name, started};

use crate::gen_server::{self, Server, StartOptions, StopError};
use crate::registry::Name;
use crate::sys::{self, OldVsn, SysError};
use crate::{ExitReason, Pid};
use state::{SupCall, SupervisorState};

/// Where a child is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildPid {
    /// Running as this process.
    Running(Pid),
    /// Its last start failed; a retry is scheduled.
    Restarting,
    /// Not running (stopped, ignored, or a transient child that finished).
    Undefined,
}

/// One row of [`Supervisor::which_children`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// The child's id.
    pub id: Arc<str>,
    /// Its process, if running.
    pub pid: ChildPid,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Its restart type.
    pub restart: Restart,
}

/// What [`Supervisor::count_children`] reports (OTP's `count_children`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChildCounts {
    /// Child specs.
    pub specs: usize,
    /// Children running.
    pub active: usize,
    /// Specs of supervisor children, running or not.
    pub supervisors: usize,
    /// Specs of worker children, running or not.
    pub workers: usize,
}

impl ChildCounts {
    fn tally(children: impl Iterator<Item = (ChildPid, ChildType)>) -> ChildCounts {
        let mut counts = ChildCounts::default();
        for (pid, child_type) in children {
            counts.specs += 1;
            if matches!(pid, ChildPid::Running(_)) {
                counts.active += 1;
            }
            match child_type {
                ChildType::Worker => counts.workers += 1,
                ChildType::Supervisor => counts.supervisors += 1,
            }
        }
        counts
    }
}

/// A handle to a supervisor.
#[derive(Debug, Clone)]
pub struct Supervisor {
    server: Server<SupervisorState>,
}

impl Supervisor {
    /// Start a supervisor, not linked, and its children; returns once all started.
    ///
    /// # Errors
    ///
    /// Invalid flags or specs ([`SupervisorError::InvalidChildSpec`],
    /// [`SupervisorError::DuplicateChildId`], [`SupervisorError::InvalidFlags`]) before
    /// anything starts; [`SupervisorError::FailedToStartChild`] if a child fails to start.
    pub async fn start(
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
    ) -> Result<Supervisor, SupervisorError> {
        Self::start_with(flags, children, StartOptions::new()).await
    }

    /// Start a supervisor linked to the calling process.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_link(
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
    ) -> Result<Supervisor, SupervisorError> {
        Self::start_with(flags, children, StartOptions::new().link()).await
    }

    /// Start with options (a name, a link).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_with(
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
        opts: StartOptions,
    ) -> Result<Supervisor, SupervisorError> {
        // Reject bad input before anything runs (a module's init is checked in its process).
        flags.validate_children(&children)?;
        Self::start_module(module::Fixed { flags, children }, opts).await
    }

    /// Start a supervisor defined by its `init` callback, which runs in the supervisor's
    /// process (OTP's `supervisor:start_link(Module, Args)`).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Ignored`] if `init` returned `Ignore`; otherwise as
    /// [`start`](Self::start).
    pub async fn start_module(
        module: impl SupervisorModule,
        opts: StartOptions,
    ) -> Result<Supervisor, SupervisorError> {
        Self::start_arc(Arc::new(module), opts).await
    }

    async fn start_arc(
        module: Arc<dyn SupervisorModule>,
        opts: StartOptions,
    ) -> Result<Supervisor, SupervisorError> {
        match gen_server::start_with::<SupervisorState>(module, opts).await {
            Ok(server) => Ok(Supervisor { server }),
            Err(e) => Err(SupervisorError::from_start(e)),
        }
    }

    /// A child spec that runs a supervisor with these flags and children under another
    /// supervisor; its id is `"Supervisor"`.
    pub fn child_spec(flags: SupervisorFlags, children: Vec<ChildSpec>) -> ChildSpec {
        Self::module_child_spec(Arc::new(module::Fixed { flags, children }), "Supervisor")
    }

    pub(crate) fn module_child_spec(
        module: Arc<dyn SupervisorModule>,
        id: impl Into<Arc<str>>,
    ) -> ChildSpec {
        ChildSpec::supervisor(id, move |opts| {
            let module = module.clone();
            async move {
                match Supervisor::start_arc(module, opts).await {
                    Ok(sup) => Ok(Started::Pid(sup.running_pid())),
                    Err(SupervisorError::Ignored) => Ok(Started::Ignore),
                    Err(e) => Err(ExitReason::from(e)),
                }
            }
        })
    }

    /// A handle to the live supervisor `pid` (for example a supervisor child of another).
    ///
    /// # Errors
    ///
    /// [`LookupError`](crate::LookupError) if `pid` is not alive or not a supervisor.
    pub fn from_pid(pid: Pid) -> Result<Supervisor, crate::LookupError> {
        Ok(Supervisor {
            server: Server::from_pid(pid)?,
        })
    }

    /// A handle that reaches the supervisor registered under `name` (local or via) at each
    /// request.
    pub fn named(name: impl Into<Name>) -> Supervisor {
        Supervisor {
            server: Server::named(name),
        }
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> Option<Pid> {
        self.server.pid()
    }

    /// The pid of a handle made by a start, which addresses its process.
    fn running_pid(&self) -> Pid {
        self.server
            .pid()
            .expect("a started supervisor's handle addresses its process")
    }

    /// Re-run the supervisor's `init` and apply what changed, as OTP's release handler does on
    /// a supervisor's code change: suspend it, `code_change`, resume it. See
    /// [`SupervisorModule`] for the rules.
    ///
    /// # Errors
    ///
    /// [`SysError`] if the supervisor is not alive, or the new flags or specs are invalid
    /// (then nothing changed, and the supervisor runs on as it was).
    pub async fn change_code(&self, timeout: Option<Duration>) -> Result<(), SysError> {
        sys::suspend(&self.server, timeout).await?;
        let changed = sys::change_code(&self.server, OldVsn::Up(String::new()), "", timeout).await;
        let resumed = sys::resume(&self.server, timeout).await;
        changed.and(resumed)
    }

    async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(crate::gen_server::ReplyTo<T>) -> SupCall,
    ) -> Result<T, SupervisorError> {
        // Supervisor requests wait as long as they take (shutdowns may be slow), as OTP's.
        Ok(self.server.call_infinity(call).await?)
    }

    /// The children, most recently started first.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Call`] if the supervisor is not alive.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.call(SupCall::WhichChildren).await
    }

    /// Counts of specs, running children, supervisors and workers.
    ///
    /// # Errors
    ///
    /// As [`which_children`](Self::which_children).
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.call(SupCall::CountChildren).await
    }

    /// Add a child and start it. `Ok(None)` if its start returned `Ignore`.
    ///
    /// # Errors
    ///
    /// `AlreadyStarted`/`AlreadyPresent` for a known id, `InvalidChildSpec`, `StartFailed`
    /// (the spec is not kept).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Option<Pid>, SupervisorError> {
        self.call(|to| SupCall::StartChild(spec, to)).await?
    }

    /// Stop a child with its shutdown spec; it is not restarted. `Ok` also if it was not
    /// running. A temporary child's spec is removed.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown id.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.call(|to| SupCall::TerminateChild(id.into(), to))
            .await?
    }

    /// Start a stopped child again.
    ///
    /// # Errors
    ///
    /// `Running`, `Restarting`, `NotFound`, or `StartFailed`.
    pub async fn restart_child(&self, id: &str) -> Result<Option<Pid>, SupervisorError> {
        self.call(|to| SupCall::RestartChild(id.into(), to)).await?
    }

    /// Remove a stopped child's spec.
    ///
    /// # Errors
    ///
    /// `Running`, `Restarting` or `NotFound`.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.call(|to| SupCall::DeleteChild(id.into(), to)).await?
    }

    /// The spec of a child.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown id.
    pub async fn get_childspec(&self, id: &str) -> Result<ChildSpec, SupervisorError> {
        self.call(|to| SupCall::GetChildSpec(id.into(), to))
            .await?
            .ok_or(SupervisorError::NotFound)
    }

    /// Stop the supervisor: its children stop in reverse start order, then it exits with
    /// `reason`.
    ///
    /// # Errors
    ///
    /// As [`Server::stop`].
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        self.server.stop(reason, None).await
    }
}
