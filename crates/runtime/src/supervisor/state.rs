//! The supervisor process: a GenServer that traps exits and applies OTP's rules.

use std::sync::Arc;

use super::child::{self, Child};
use super::strategy::{restart_plan, should_restart};
use super::{
    AutoShutdown, ChildInfo, ChildPid, ChildSpec, Restart, Started, SupervisorError,
    SupervisorFlags, SupervisorInit, SupervisorModule,
};
use crate::gen_server::{CallResult, GenServer, HandleResult, Info, Init, ReplyTo, ServerContext};
use crate::observe::{self, Board, EventKind, SupervisorKind};
use crate::sys::OldVsn;
use crate::{ExitReason, Pid};

type StartResult = Result<Option<Pid>, SupervisorError>;
type Done = Result<(), SupervisorError>;

/// A supervisor's calls, each with its typed reply.
pub(crate) enum SupCall {
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<super::ChildCounts>),
    StartChild(ChildSpec, ReplyTo<StartResult>),
    TerminateChild(Arc<str>, ReplyTo<Done>),
    RestartChild(Arc<str>, ReplyTo<StartResult>),
    DeleteChild(Arc<str>, ReplyTo<Done>),
    GetChildSpec(Arc<str>, ReplyTo<Option<ChildSpec>>),
}

pub(crate) enum SupCast {
    /// Retry the restart of a child whose last start failed (OTP's `try_again_restart`).
    TryAgain(Arc<str>),
}

/// The state of a supervisor process.
pub(crate) struct SupervisorState {
    /// What `init` is re-run from on a code change.
    module: Arc<dyn SupervisorModule>,
    flags: SupervisorFlags,
    /// In start order.
    children: Vec<Child>,
    /// The child table as the observer reads it, and the restarts counted against the
    /// intensity.
    board: Arc<Board>,
    next_key: u64,
}

impl std::fmt::Debug for SupervisorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorState")
            .field("flags", &self.flags)
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}

impl GenServer for SupervisorState {
    type Args = Arc<dyn SupervisorModule>;
    type Call = SupCall;
    type Cast = SupCast;
    type Info = ();
    type Continue = ();

    async fn init(module: Arc<dyn SupervisorModule>, ctx: &mut ServerContext<Self>) -> Init<Self> {
        ctx.trap_exit(true);
        let (flags, specs) = match module.init() {
            SupervisorInit::Ok(flags, specs) => (flags, specs),
            SupervisorInit::Ignore => return Init::Ignore,
        };
        if let Err(e) = flags.validate_children(&specs) {
            return Init::Stop(ExitReason::from(e));
        }
        let specs = without_spent(specs, Some(ctx.pid()));
        let board = Board::publish(
            ctx.pid(),
            SupervisorKind::Static(flags.strategy),
            flags.intensity,
            None,
        );
        let mut state = SupervisorState {
            module,
            flags,
            children: Vec::with_capacity(specs.len()),
            board,
            next_key: 0,
        };
        // One at a time, in order: each child's start returns after its init.
        for spec in specs {
            match child::start(&spec, ctx).await {
                Ok(Started::Pid(pid)) => state.push(spec, ChildPid::Running(pid)),
                Ok(Started::Ignore) if spec.restart == Restart::Temporary => {}
                Ok(Started::Ignore) => state.push(spec, ChildPid::Undefined),
                Err(reason) => {
                    tracing::error!(
                        supervisor = %ctx.pid(), child = &*spec.id, reason = %reason,
                        "child failed to start; stopping the children already started"
                    );
                    state.terminate_all(ctx).await;
                    // OTP's `{shutdown, {failed_to_start_child, Id, Reason}}`, keeping the
                    // typed error for the starter.
                    return Init::Stop(ExitReason::shutdown_with_error(
                        SupervisorError::FailedToStartChild {
                            id: spec.id.clone(),
                            reason,
                        },
                    ));
                }
            }
        }
        Init::ok(state)
    }

    async fn handle_call(
        &mut self,
        call: SupCall,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        match call {
            // Most recently started first, as OTP's which_children.
            SupCall::WhichChildren(to) => {
                CallResult::reply(to, self.children.iter().rev().map(Child::info).collect())
            }
            SupCall::CountChildren(to) => CallResult::reply(to, self.counts()),
            SupCall::StartChild(spec, to) => {
                let started = self.start_new_child(spec, ctx).await;
                self.publish();
                CallResult::reply(to, started)
            }
            SupCall::TerminateChild(id, to) => {
                let done = self.terminate_child(&id, ctx).await;
                self.publish();
                CallResult::reply(to, done)
            }
            SupCall::RestartChild(id, to) => {
                let started = self.restart_child(&id, ctx).await;
                self.publish();
                CallResult::reply(to, started)
            }
            SupCall::DeleteChild(id, to) => {
                let deleted = self.delete_child(&id);
                self.publish();
                CallResult::reply(to, deleted)
            }
            SupCall::GetChildSpec(id, to) => {
                CallResult::reply(to, self.find(&id).map(|i| self.children[i].spec.clone()))
            }
        }
    }

    async fn handle_cast(
        &mut self,
        cast: SupCast,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        match cast {
            SupCast::TryAgain(id) => match self.find(&id) {
                Some(i) if self.children[i].pid == ChildPid::Restarting => {
                    self.children[i].pid = ChildPid::Undefined;
                    let next = self.restart(i, ctx).await;
                    self.publish();
                    next
                }
                // Terminated or deleted meanwhile: nothing to retry.
                _ => HandleResult::noreply(),
            },
        }
    }

    async fn handle_info(
        &mut self,
        info: Info<()>,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        match info {
            Info::Exit(exit) => match self.find_pid(exit.from) {
                Some(i) => {
                    self.children[i].pid = ChildPid::Undefined;
                    self.board.exited(self.children[i].key, &exit.reason);
                    let next = self.child_exited(i, exit.from, exit.reason, ctx).await;
                    self.publish();
                    next
                }
                // A stray exit signal from a process that is not a child: ignored, as OTP.
                None => HandleResult::noreply(),
            },
            _ => {
                tracing::warn!(supervisor = %ctx.pid(), "supervisor received an unexpected message");
                HandleResult::noreply()
            }
        }
    }

    async fn terminate(&mut self, _reason: &ExitReason, ctx: &mut ServerContext<Self>) {
        self.terminate_all(ctx).await;
        self.publish();
    }

    /// OTP's supervisor upgrade: `init` runs again; see [`SupervisorModule`] for what changes.
    fn code_change(&self, _old: &OldVsn, _extra: &str) -> Result<Option<Self>, ExitReason> {
        let (flags, specs) = match self.module.init() {
            SupervisorInit::Ok(flags, specs) => (flags, specs),
            SupervisorInit::Ignore => return Ok(None),
        };
        flags.validate_children(&specs).map_err(ExitReason::from)?;
        let specs = without_spent(specs, crate::process::current());
        let mut children: Vec<Child> = self
            .children
            .iter()
            .map(|c| Child {
                spec: c.spec.clone(),
                pid: c.pid,
                key: c.key,
            })
            .collect();
        let mut next_key = self.next_key;
        for spec in specs {
            match children.iter_mut().find(|c| c.spec.id == spec.id) {
                Some(kept) => kept.spec = spec,
                None => {
                    children.push(Child {
                        spec,
                        pid: ChildPid::Undefined,
                        key: next_key,
                    });
                    next_key += 1;
                }
            }
        }
        let upgraded = SupervisorState {
            module: self.module.clone(),
            flags,
            children,
            board: self.board.clone(),
            next_key,
        };
        upgraded
            .board
            .set_flags(SupervisorKind::Static(flags.strategy), flags.intensity);
        upgraded.publish();
        Ok(Some(upgraded))
    }
}

/// Leave out the specs whose one-shot arguments an earlier start used. Their child was
/// temporary: a supervisor that runs `init` again (restarted by its own supervisor, or
/// upgraded) treats it as one that has ended, instead of failing on a start that can never
/// succeed.
fn without_spent(specs: Vec<ChildSpec>, supervisor: Option<Pid>) -> Vec<ChildSpec> {
    specs
        .into_iter()
        .filter(|spec| {
            let spent = spec.is_spent();
            if spent {
                tracing::info!(
                    supervisor = ?supervisor, child = &*spec.id,
                    "one-shot child already started once; left out"
                );
            }
            !spent
        })
        .collect()
}

impl SupervisorState {
    /// Add a child at the end of the start order, and to the observer's copy of the table (one
    /// row: a whole `publish` per child made starting n children cost n² / 2 row updates).
    fn push(&mut self, spec: ChildSpec, pid: ChildPid) {
        self.board
            .put(self.next_key, &spec.id, spec.child_type, spec.restart, pid);
        self.children.push(Child {
            spec,
            pid,
            key: self.next_key,
        });
        self.next_key += 1;
    }

    /// Bring the observer's copy of the child table up to date.
    fn publish(&self) {
        self.board.sync(
            self.children
                .iter()
                .map(|c| (c.key, &c.spec.id, c.spec.child_type, c.spec.restart, c.pid)),
        );
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| &*c.spec.id == id)
    }

    fn find_pid(&self, pid: Pid) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.pid == ChildPid::Running(pid))
    }

    fn counts(&self) -> super::ChildCounts {
        super::ChildCounts::tally(self.children.iter().map(|c| (c.pid, c.spec.child_type)))
    }

    /// A child terminated on its own: OTP's `restart_child` / `do_restart`.
    async fn child_exited(
        &mut self,
        i: usize,
        pid: Pid,
        reason: ExitReason,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        let spec = self.children[i].spec.clone();
        if !should_restart(spec.restart, &reason) {
            if spec.restart == Restart::Temporary && !reason.is_shutdown() {
                tracing::error!(
                    supervisor = %ctx.pid(), child = &*spec.id, %pid, reason = %reason,
                    location = reason.panic_location(),
                    "temporary child terminated; not restarted"
                );
                observe::record(EventKind::Crash {
                    pid,
                    supervisor: ctx.pid(),
                    child_id: spec.id.clone(),
                    reason: reason.clone(),
                    restarting: false,
                });
            }
            if spec.restart == Restart::Temporary {
                self.children.remove(i);
            }
            return self.auto_shutdown(&spec, ctx);
        }
        tracing::error!(
            supervisor = %ctx.pid(), child = &*spec.id, %pid, reason = %reason,
            location = reason.panic_location(),
            "child terminated; restarting"
        );
        observe::record(EventKind::Crash {
            pid,
            supervisor: ctx.pid(),
            child_id: spec.id.clone(),
            reason,
            restarting: true,
        });
        self.restart(i, ctx).await
    }

    /// Shut down if a significant child ended for good (OTP's `do_auto_shutdown`).
    fn auto_shutdown(&self, spec: &ChildSpec, ctx: &ServerContext<Self>) -> HandleResult<Self> {
        if !spec.significant {
            return HandleResult::noreply();
        }
        let shut_down = match self.flags.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.spec.significant && matches!(c.pid, ChildPid::Running(_))),
        };
        if shut_down {
            tracing::info!(
                supervisor = %ctx.pid(), child = &*spec.id,
                "significant child terminated; auto-shutdown"
            );
            HandleResult::Stop(ExitReason::Shutdown)
        } else {
            HandleResult::noreply()
        }
    }

    /// Restart child `i` under the strategy, counting one restart against the intensity.
    async fn restart(&mut self, i: usize, ctx: &mut ServerContext<Self>) -> HandleResult<Self> {
        if !self.board.allow_restart() {
            tracing::error!(
                supervisor = %ctx.pid(), child = &*self.children[i].spec.id,
                max_restarts = self.flags.intensity.max_restarts,
                max_seconds = self.flags.intensity.max_seconds,
                "reached_max_restart_intensity: shutting down"
            );
            observe::record(EventKind::Escalation {
                supervisor: ctx.pid(),
                child_id: self.children[i].spec.id.clone(),
            });
            return HandleResult::Stop(ExitReason::Shutdown);
        }
        let shape: Vec<(Restart, bool)> = self
            .children
            .iter()
            .map(|c| (c.spec.restart, matches!(c.pid, ChildPid::Running(_))))
            .collect();
        let plan = restart_plan(self.flags.strategy, &shape, i);
        for &j in &plan.terminate {
            self.stop_child(j, ctx).await;
        }
        let failed_id = self.children[i].spec.id.clone();
        for &j in &plan.restart {
            let spec = self.children[j].spec.clone();
            match child::start(&spec, ctx).await {
                Ok(Started::Pid(pid)) => {
                    tracing::info!(supervisor = %ctx.pid(), child = &*spec.id, %pid, "child restarted");
                    self.children[j].pid = ChildPid::Running(pid);
                    self.board
                        .restarted(self.children[j].key, ChildPid::Running(pid));
                    observe::record(EventKind::Restart {
                        supervisor: ctx.pid(),
                        child_id: spec.id.clone(),
                        pid,
                    });
                }
                Ok(Started::Ignore) => self.children[j].pid = ChildPid::Undefined,
                Err(reason) => {
                    // Retry later, through the mailbox, so stop and other requests are served
                    // meanwhile; the children after it stay down until the retry.
                    tracing::error!(
                        supervisor = %ctx.pid(), child = &*spec.id, reason = %reason,
                        "restart failed; retrying"
                    );
                    self.children[j].pid = ChildPid::Restarting;
                    ctx.server().cast(SupCast::TryAgain(spec.id.clone()));
                    break;
                }
            }
        }
        // Temporary bystanders that were terminated are gone for good.
        self.children.retain(|c| {
            c.spec.restart != Restart::Temporary
                || matches!(c.pid, ChildPid::Running(_))
                || c.spec.id == failed_id
        });
        HandleResult::noreply()
    }

    /// Stop child `j` with its shutdown spec; its pid becomes undefined.
    async fn stop_child(&mut self, j: usize, ctx: &mut ServerContext<Self>) {
        if let ChildPid::Running(pid) = self.children[j].pid {
            let reason = child::stop(pid, &self.children[j].spec, ctx).await;
            // The observer shows a stopped bystander as stopped, with why, at once.
            self.board.exited(self.children[j].key, &reason);
        }
        self.children[j].pid = ChildPid::Undefined;
    }

    /// Stop every child, one at a time, in reverse start order.
    async fn terminate_all(&mut self, ctx: &mut ServerContext<Self>) {
        for j in (0..self.children.len()).rev() {
            self.stop_child(j, ctx).await;
        }
    }

    async fn start_new_child(
        &mut self,
        spec: ChildSpec,
        ctx: &ServerContext<Self>,
    ) -> Result<Option<Pid>, SupervisorError> {
        self.flags.validate_child(&spec)?;
        if let Some(i) = self.find(&spec.id) {
            return Err(match self.children[i].pid {
                ChildPid::Running(pid) => SupervisorError::AlreadyStarted(pid),
                _ => SupervisorError::AlreadyPresent,
            });
        }
        match child::start(&spec, ctx).await {
            Ok(Started::Pid(pid)) => {
                self.push(spec, ChildPid::Running(pid));
                Ok(Some(pid))
            }
            Ok(Started::Ignore) => {
                if spec.restart != Restart::Temporary {
                    self.push(spec, ChildPid::Undefined);
                }
                Ok(None)
            }
            Err(reason) => Err(SupervisorError::StartFailed(reason)),
        }
    }

    async fn terminate_child(
        &mut self,
        id: &str,
        ctx: &mut ServerContext<Self>,
    ) -> Result<(), SupervisorError> {
        let i = self.find(id).ok_or(SupervisorError::NotFound)?;
        self.stop_child(i, ctx).await;
        if self.children[i].spec.restart == Restart::Temporary {
            self.children.remove(i);
        }
        Ok(())
    }

    async fn restart_child(
        &mut self,
        id: &str,
        ctx: &ServerContext<Self>,
    ) -> Result<Option<Pid>, SupervisorError> {
        let i = self.find(id).ok_or(SupervisorError::NotFound)?;
        match self.children[i].pid {
            ChildPid::Running(_) => return Err(SupervisorError::Running),
            ChildPid::Restarting => return Err(SupervisorError::Restarting),
            ChildPid::Undefined => {}
        }
        let spec = self.children[i].spec.clone();
        match child::start(&spec, ctx).await {
            Ok(Started::Pid(pid)) => {
                self.children[i].pid = ChildPid::Running(pid);
                self.board
                    .restarted(self.children[i].key, ChildPid::Running(pid));
                Ok(Some(pid))
            }
            Ok(Started::Ignore) => Ok(None),
            Err(reason) => Err(SupervisorError::StartFailed(reason)),
        }
    }

    fn delete_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let i = self.find(id).ok_or(SupervisorError::NotFound)?;
        match self.children[i].pid {
            ChildPid::Running(_) => Err(SupervisorError::Running),
            ChildPid::Restarting => Err(SupervisorError::Restarting),
            ChildPid::Undefined => {
                self.children.remove(i);
                Ok(())
            }
        }
    }
}
