//! The few things an observer may do to a running system, by pid: OTP's `sys:suspend/1` and
//! `sys:resume/1`, and a supervisor's `terminate_child` and `restart_child`. Killing a process
//! is [`process::exit`](crate::process::exit).

use std::time::Duration;

use super::status::sys_port;
use super::supervisors::{self, SupervisorKind};
use crate::supervisor::{ChildPid, Supervisor, SupervisorError};
use crate::sys::SysError;
use crate::Pid;

/// Why a control request was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No live local process has this pid.
    #[error("no such process (noproc)")]
    NoProc,
    /// `sys` requests need a GenServer (supervisors and agents are GenServers).
    #[error("the process is not a GenServer: it serves no sys requests")]
    NotAServer,
    /// The pid is not a live local supervisor.
    #[error("the process is not a supervisor")]
    NotASupervisor,
    /// The supervisor has no child with this id, or several (a dynamic supervisor's children
    /// are named by pid).
    #[error("no such child: {0}")]
    NoSuchChild(String),
    /// What the supervisor cannot do: a dynamic supervisor has no `restart_child`, as in
    /// Elixir.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// The `sys` request failed (for example, no answer in time).
    #[error("{0}")]
    Sys(SysError),
    /// The supervisor refused.
    #[error("{0}")]
    Supervisor(SupervisorError),
}

/// A child, by its id (a static supervisor's) or its pid (either kind's running children).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildRef<'a> {
    /// The child's id in its supervisor's specs.
    Id(&'a str),
    /// The child's running process.
    Pid(Pid),
}

/// `sys:suspend/1` on GenServer `pid`, waiting at most `timeout`: it serves only system
/// requests until [`resume`]d; its callers and senders queue up.
///
/// # Errors
///
/// [`ControlError::NoProc`], [`ControlError::NotAServer`], or the `sys` request's error.
pub async fn suspend(pid: Pid, timeout: Duration) -> Result<(), ControlError> {
    let port = port(pid)?;
    (port.suspend)(pid, timeout)
        .await
        .map_err(ControlError::Sys)
}

/// `sys:resume/1` on GenServer `pid`, waiting at most `timeout`.
///
/// # Errors
///
/// As [`suspend`].
pub async fn resume(pid: Pid, timeout: Duration) -> Result<(), ControlError> {
    let port = port(pid)?;
    (port.resume)(pid, timeout).await.map_err(ControlError::Sys)
}

fn port(pid: Pid) -> Result<super::status::SysPort, ControlError> {
    if crate::process::table::get(pid).is_none() {
        return Err(ControlError::NoProc);
    }
    sys_port(pid).ok_or(ControlError::NotAServer)
}

/// Supervisor `supervisor`'s `terminate_child`: the child is stopped with its shutdown spec; a
/// static supervisor keeps its spec (restart it with [`restart_child`]), a dynamic one forgets
/// it.
///
/// # Errors
///
/// [`ControlError::NotASupervisor`], [`ControlError::NoSuchChild`], or the supervisor's
/// refusal.
pub async fn terminate_child(supervisor: Pid, child: ChildRef<'_>) -> Result<(), ControlError> {
    let view = supervisors::supervisor(supervisor, None, usize::MAX)
        .ok_or(ControlError::NotASupervisor)?;
    match view.kind {
        SupervisorKind::Static(_) => {
            let id = match child {
                ChildRef::Id(id) => id.to_owned(),
                ChildRef::Pid(pid) => view
                    .children
                    .iter()
                    .find(|c| c.pid == ChildPid::Running(pid))
                    .map(|c| c.id.to_string())
                    .ok_or_else(|| ControlError::NoSuchChild(pid.to_string()))?,
            };
            static_supervisor(supervisor)?
                .terminate_child(&id)
                .await
                .map_err(|e| match e {
                    SupervisorError::NotFound => ControlError::NoSuchChild(id),
                    e => ControlError::Supervisor(e),
                })
        }
        SupervisorKind::Dynamic => {
            let ChildRef::Pid(pid) = child else {
                return Err(ControlError::NoSuchChild(
                    "a dynamic supervisor's children are named by pid".into(),
                ));
            };
            let terminate =
                supervisors::dynamic_control(supervisor).ok_or(ControlError::NotASupervisor)?;
            terminate(pid).await.map_err(|e| match e {
                SupervisorError::NotFound => ControlError::NoSuchChild(pid.to_string()),
                e => ControlError::Supervisor(e),
            })
        }
    }
}

/// Supervisor `supervisor`'s `restart_child`: start a terminated child again from its spec.
///
/// # Errors
///
/// [`ControlError::Unsupported`] for a dynamic supervisor; [`ControlError::NotASupervisor`],
/// [`ControlError::NoSuchChild`], or the supervisor's refusal (the child runs already).
pub async fn restart_child(supervisor: Pid, id: &str) -> Result<Option<Pid>, ControlError> {
    let view = supervisors::supervisor(supervisor, None, 0).ok_or(ControlError::NotASupervisor)?;
    if view.kind == SupervisorKind::Dynamic {
        return Err(ControlError::Unsupported(
            "a dynamic supervisor has no restart_child",
        ));
    }
    static_supervisor(supervisor)?
        .restart_child(id)
        .await
        .map_err(|e| match e {
            SupervisorError::NotFound => ControlError::NoSuchChild(id.to_owned()),
            e => ControlError::Supervisor(e),
        })
}

fn static_supervisor(pid: Pid) -> Result<Supervisor, ControlError> {
    Supervisor::from_pid(pid).map_err(|_| ControlError::NotASupervisor)
}
