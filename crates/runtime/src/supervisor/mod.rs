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
//! * **Restart types** ([`should_restart`]): permanent always, transient after an abnormal
//!   exit only, temporary never (and its spec is dropped).
//! * **Strategies** ([`restart_plan`]): one-for-one restarts the child; one-for-all stops the
//!   others (reverse order) and restarts all; rest-for-one stops and restarts the children
//!   started after it. A group restart counts as **one** restart.
//! * **Intensity** ([`add_restart`]): the `(max_restarts + 1)`-th restart within `max_seconds`
//!   shuts the supervisor down with `Shutdown`. A failed restart is retried through the
//!   mailbox (other requests are served between attempts), and every attempt counts.
//! * **Shutdown**: children stop one at a time in reverse start order, each by its
//!   [`Shutdown`]: `exit(child, Shutdown)`, wait, then `Kill`; or `Kill` at once.
//! * **Signals**: the supervisor dies with its parent (running the shutdown first); exit
//!   signals from processes that are not its children are ignored.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp_runtime::gen_server::{self, GenServer, Init, ServerContext};
//! use ferrotp_runtime::supervisor::{ChildPid, Strategy, Supervisor, SupervisorFlags};
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
//!         gen_server::child_spec::<Worker>("a", ()),
//!         gen_server::child_spec::<Worker>("b", ()),
//!     ],
//! )
//! .await
//! .unwrap();
//! let children = sup.which_children().await.unwrap();
//! assert_eq!(children[0].id.as_ref(), "b"); // most recently started first
//! assert!(matches!(children[1].pid, ChildPid::Running(_)));
//! # }
//! ```

mod child_spec;
pub mod dynamic;
mod error;
mod flags;
mod intensity;
mod shutdown;
mod state;
mod strategy;

use std::sync::Arc;

use parking_lot::Mutex;

pub use child_spec::{ChildSpec, ChildType, Shutdown, StartFn, StartFuture, Started};
pub use dynamic::{DynamicSupervisor, DynamicSupervisorFlags};
pub use error::SupervisorError;
pub use flags::{AutoShutdown, SupervisorFlags};
pub use intensity::{add_restart, Intensity};
pub use state::SupervisorState;
pub use strategy::{restart_plan, should_restart, Restart, RestartPlan, Strategy};

use crate::gen_server::{self, Server, StartError, StartOptions, StopError};
use crate::{ExitReason, Pid};
use state::{SupCall, SupervisorArgs};

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
        // Reject bad input before anything runs.
        flags.validate_children(&children)?;
        let failure = Arc::new(Mutex::new(None));
        let args = SupervisorArgs {
            flags,
            children,
            failure: failure.clone(),
        };
        match gen_server::start_with::<SupervisorState>(args, opts).await {
            Ok(server) => Ok(Supervisor { server }),
            Err(e) => Err(failure.lock().take().unwrap_or(match e {
                StartError::AlreadyStarted(pid) => SupervisorError::AlreadyStarted(pid),
                other => SupervisorError::Start(other.reason()),
            })),
        }
    }

    /// A child spec that runs a supervisor with these flags and children under another
    /// supervisor.
    pub fn child_spec(
        id: impl Into<Arc<str>>,
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
    ) -> ChildSpec {
        Self::child_spec_with(id, flags, children, StartOptions::new())
    }

    /// As [`child_spec`](Self::child_spec), registered under a name or with other options.
    pub fn child_spec_with(
        id: impl Into<Arc<str>>,
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
        opts: StartOptions,
    ) -> ChildSpec {
        let opts = opts.link();
        ChildSpec::supervisor(id, move || {
            let (children, opts) = (children.clone(), opts.clone());
            async move {
                match Supervisor::start_with(flags, children, opts).await {
                    Ok(sup) => Ok(Started::Pid(sup.pid().unwrap_or(Pid::RUNTIME))),
                    Err(e) => Err(ExitReason::error(e)),
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

    /// A handle that reaches the supervisor registered under `name`.
    pub fn named(name: impl Into<Arc<str>>) -> Supervisor {
        Supervisor {
            server: Server::named(name),
        }
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> Option<Pid> {
        self.server.pid()
    }

    /// The underlying server (for `sys`).
    pub fn server(&self) -> &Server<SupervisorState> {
        &self.server
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
