//! Supervisor errors.

use std::sync::Arc;

use crate::gen_server::CallError;
use crate::{ExitReason, Pid};

/// A supervisor operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child spec is invalid; nothing was started.
    #[error("invalid child spec {id:?}: {problem}")]
    InvalidChildSpec {
        /// The child.
        id: Arc<str>,
        /// What is wrong.
        problem: ChildSpecProblem,
    },
    /// Two child specs share an id; nothing was started.
    #[error("duplicate child id {0:?}: ids must be unique in a supervisor")]
    DuplicateChildId(Arc<str>),
    /// The flags are invalid; nothing was started.
    #[error("invalid supervisor flags: {0}")]
    InvalidFlags(FlagsProblem),
    /// The supervisor's init (a [`SupervisorModule`](super::SupervisorModule)) returned
    /// `Ignore`: no process runs and none is left behind.
    #[error("the supervisor's init returned Ignore: no supervisor runs")]
    Ignored,
    /// A child failed to start during the supervisor's start: the children started before it
    /// were stopped in reverse order and the supervisor exited.
    #[error("child {id:?} failed to start: {reason}")]
    FailedToStartChild {
        /// The child.
        id: Arc<str>,
        /// Why.
        reason: ExitReason,
    },
    /// `start_child` with an id that is running.
    #[error("child is already started as {0}")]
    AlreadyStarted(Pid),
    /// `start_child` with an id that exists but is not running; use `restart_child`.
    #[error(
        "a child with this id is already present (not running): use restart_child or delete_child"
    )]
    AlreadyPresent,
    /// No child with this id (or pid).
    #[error("no such child")]
    NotFound,
    /// The operation needs the child not to be running.
    #[error("the child is running: terminate_child it first")]
    Running,
    /// The child is being restarted (its last start failed; a retry is scheduled).
    #[error("the child is being restarted")]
    Restarting,
    /// Starting the child failed.
    #[error("starting the child failed: {0}")]
    StartFailed(ExitReason),
    /// A dynamic supervisor is at `max_children` (children being restarted count).
    #[error("max_children reached: terminate a child first, or raise max_children")]
    MaxChildren,
    /// The supervisor itself could not be reached.
    #[error("the supervisor did not answer: {0}")]
    Call(#[from] CallError),
    /// The supervisor did not start for another reason.
    #[error("the supervisor did not start: {0}")]
    Start(ExitReason),
}

impl SupervisorError {
    /// The error a failed start of a supervisor's process stands for: the typed error its
    /// `init` stopped with, if it stopped with one.
    pub(crate) fn from_start(e: crate::gen_server::StartError) -> SupervisorError {
        use crate::gen_server::StartError;
        match e {
            StartError::AlreadyStarted(pid) => SupervisorError::AlreadyStarted(pid),
            StartError::Ignored => SupervisorError::Ignored,
            other => {
                let reason = other.reason();
                match reason.downcast_ref::<SupervisorError>() {
                    Some(typed) => typed.clone(),
                    None => SupervisorError::Start(reason),
                }
            }
        }
    }
}

/// What is wrong with a child spec (OTP's `check_childspec` reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChildSpecProblem {
    /// A permanent child is always restarted, so it cannot be the significant child whose end
    /// shuts its supervisor down (OTP's `bad_combination`).
    #[error(
        "a permanent child cannot be significant (bad_combination): make it transient or temporary"
    )]
    SignificantPermanent,
    /// A significant child needs a supervisor whose auto-shutdown reacts to it.
    #[error("significant children need auto_shutdown AnySignificant or AllSignificant (bad_combination)")]
    SignificantWithoutAutoShutdown,
    /// A dynamic supervisor has no auto-shutdown, so its children cannot be significant.
    #[error("a dynamic supervisor has no auto_shutdown: its children cannot be significant")]
    SignificantInDynamicSupervisor,
    /// `Shutdown::Timeout(0)` would kill at once; say so.
    #[error("a zero shutdown timeout kills at once: use Shutdown::BrutalKill")]
    ZeroShutdownTimeout,
    /// A spec built from one-shot arguments starts once, so it cannot be restarted.
    #[error("a child built from one-shot arguments (child_spec_once, worker_once) starts once: it must be temporary")]
    OneShotRestart,
}

/// What is wrong with supervisor flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlagsProblem {
    /// The intensity window is zero seconds (OTP's `invalid_period`).
    #[error("max_seconds must be at least 1 (OTP's invalid_period)")]
    ZeroPeriod,
    /// `max_children` of zero admits no child at all (Elixir's `invalid_max_children`).
    #[error("max_children must be at least 1 (Elixir's invalid_max_children); leave it unset for no limit")]
    ZeroMaxChildren,
}
