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
        /// What is wrong and what to write instead.
        problem: String,
    },
    /// Two child specs share an id; nothing was started.
    #[error("duplicate child id {0:?}: ids must be unique in a supervisor")]
    DuplicateChildId(Arc<str>),
    /// The flags are invalid; nothing was started.
    #[error("invalid supervisor flags: {0}")]
    InvalidFlags(String),
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
    /// A dynamic supervisor is at `max_children`.
    #[error("max_children reached")]
    MaxChildren,
    /// The supervisor itself could not be reached.
    #[error("the supervisor did not answer: {0}")]
    Call(#[from] CallError),
    /// The supervisor did not start for another reason.
    #[error("the supervisor did not start: {0}")]
    Start(ExitReason),
}
