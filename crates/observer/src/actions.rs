//! What the page may do, when actions are on: the OTP operations an operator uses, and no
//! other. There is no action that sends a message into a process or replaces its state.

use std::time::Duration;

use ferrotp_runtime::observe::{self, ChildRef};
use ferrotp_runtime::{process, ExitReason};
use serde::Deserialize;

use crate::json::pid_from_key;
use crate::server::App;

/// How long `sys` actions wait for the server.
const SYS_TIMEOUT: Duration = Duration::from_secs(2);

/// One action, as the page posts it: `{"action": "kill", "pid": "42"}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum ActionRequest {
    /// `exit(Pid, kill)`.
    Kill { pid: String },
    /// `exit(Pid, shutdown)`.
    Shutdown { pid: String },
    /// `sys:suspend/1`.
    Suspend { pid: String },
    /// `sys:resume/1`.
    Resume { pid: String },
    /// `supervisor:terminate_child/2`: by id, or by pid (a dynamic supervisor's child).
    TerminateChild {
        supervisor: String,
        child: Option<String>,
        pid: Option<String>,
    },
    /// `supervisor:restart_child/2`.
    RestartChild { supervisor: String, child: String },
    /// Upgrade a hot module's processes to a version the loader has loaded before.
    Upgrade { module: String, vsn: String },
    /// Move a hot module's processes back to its old version.
    Rollback { module: String },
}

pub(crate) async fn run(app: &App, request: ActionRequest) -> Result<String, String> {
    let pid = |key: &str| pid_from_key(key).ok_or_else(|| format!("no such process: {key}"));
    match request {
        ActionRequest::Kill { pid: key } => {
            let p = pid(&key)?;
            process::exit(p, ExitReason::Kill).map_err(|e| e.to_string())?;
            Ok(format!("exit({p}, kill) sent"))
        }
        ActionRequest::Shutdown { pid: key } => {
            let p = pid(&key)?;
            process::exit(p, ExitReason::Shutdown).map_err(|e| e.to_string())?;
            Ok(format!("exit({p}, shutdown) sent"))
        }
        ActionRequest::Suspend { pid: key } => {
            let p = pid(&key)?;
            observe::suspend(p, SYS_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("{p} suspended"))
        }
        ActionRequest::Resume { pid: key } => {
            let p = pid(&key)?;
            observe::resume(p, SYS_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("{p} resumed"))
        }
        ActionRequest::TerminateChild {
            supervisor,
            child,
            pid: child_pid,
        } => {
            let sup = pid(&supervisor)?;
            let target = match (&child, &child_pid) {
                (_, Some(key)) => ChildRef::Pid(pid(key)?),
                (Some(id), None) => ChildRef::Id(id),
                (None, None) => return Err("terminate_child needs a child id or pid".into()),
            };
            observe::terminate_child(sup, target)
                .await
                .map_err(|e| e.to_string())?;
            Ok("child terminated".into())
        }
        ActionRequest::RestartChild { supervisor, child } => {
            let sup = pid(&supervisor)?;
            let started = observe::restart_child(sup, &child)
                .await
                .map_err(|e| e.to_string())?;
            Ok(match started {
                Some(p) => format!("child {child} restarted as {p}"),
                None => format!("child {child} ignored its start"),
            })
        }
        ActionRequest::Upgrade { module, vsn } => upgrade(app, &module, &vsn).await,
        ActionRequest::Rollback { module } => rollback(app, &module).await,
    }
}

#[cfg(feature = "hot")]
async fn upgrade(app: &App, module: &str, vsn: &str) -> Result<String, String> {
    let loader = app
        .loader
        .as_ref()
        .ok_or("no loader was given to the observer")?;
    let known = loader
        .known_versions(module)
        .into_iter()
        .rev()
        .find(|k| k.vsn == vsn)
        .ok_or_else(|| format!("the loader knows no version {vsn} of {module}"))?;
    let report = loader
        .upgrade_module(module, &known.path, b"")
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{module} {} -> {}: {} processes migrated",
        report.from, report.to, report.processes
    ))
}

#[cfg(feature = "hot")]
async fn rollback(app: &App, module: &str) -> Result<String, String> {
    let loader = app
        .loader
        .as_ref()
        .ok_or("no loader was given to the observer")?;
    let report = loader
        .downgrade(module, b"")
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{module} {} -> {}: {} processes moved back",
        report.from, report.to, report.processes
    ))
}

#[cfg(not(feature = "hot"))]
async fn upgrade(_app: &App, _module: &str, _vsn: &str) -> Result<String, String> {
    Err("hot modules need the observer's `hot` feature and a loader".into())
}

#[cfg(not(feature = "hot"))]
async fn rollback(_app: &App, _module: &str) -> Result<String, String> {
    Err("hot modules need the observer's `hot` feature and a loader".into())
}
