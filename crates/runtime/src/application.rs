//! Running a supervision tree as a program: start the root supervisor, stop it in order on
//! Ctrl-C or SIGTERM, and turn the outcome into an exit status.
//!
//! ```no_run
//! # use ferrotp_runtime as ferrotp;
//! use ferrotp::application::Application;
//! use ferrotp::supervisor::{Strategy, SupervisorFlags};
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     let children = vec![/* child specs */];
//!     Application::run(SupervisorFlags::new(Strategy::OneForOne), children).await
//! }
//! ```

use std::future::Future;
use std::process::ExitCode;

use crate::process;
use crate::supervisor::{ChildSpec, Supervisor, SupervisorError, SupervisorFlags};
use crate::ExitReason;

/// How an application ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// A shutdown was requested (signal or trigger) and the tree stopped in order.
    Requested,
    /// The root supervisor exited on its own — its restart intensity was exhausted, or a
    /// significant child ended it — with this reason.
    RootExited(ExitReason),
}

impl Stopped {
    /// `SUCCESS` for a requested stop or a root that ended `Normal`; `FAILURE` for any other
    /// root exit, `Shutdown` included: a root that gave up after too many restarts exits
    /// `Shutdown` in OTP, and a program whose tree gave up has failed, as Erlang's application
    /// controller treats a permanent application that stops.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Stopped::Requested => ExitCode::SUCCESS,
            Stopped::RootExited(ExitReason::Normal) => ExitCode::SUCCESS,
            Stopped::RootExited(_) => ExitCode::FAILURE,
        }
    }
}

/// A running supervision tree with a root supervisor.
#[derive(Debug, Clone)]
pub struct Application {
    root: Supervisor,
}

impl Application {
    /// Start the root supervisor and its children, in order.
    ///
    /// # Errors
    ///
    /// As [`Supervisor::start`].
    pub async fn start(
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
    ) -> Result<Self, SupervisorError> {
        Ok(Application {
            root: Supervisor::start(flags, children).await?,
        })
    }

    /// The root supervisor.
    pub fn root(&self) -> &Supervisor {
        &self.root
    }

    /// Wait until `shutdown` completes or the root exits on its own. On `shutdown`, the whole
    /// tree is stopped in order (each supervisor stops its children in reverse start order,
    /// each child by its shutdown spec) before this returns.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) -> Stopped {
        let Some(pid) = self.root.pid() else {
            return Stopped::RootExited(ExitReason::NoProc);
        };
        let root_exit = process::await_exit(pid);
        tokio::select! {
            reason = root_exit => {
                tracing::error!(%pid, %reason, "root supervisor exited");
                Stopped::RootExited(reason)
            }
            () = shutdown => {
                tracing::info!(%pid, "shutdown requested; stopping the supervision tree");
                match self.root.stop(ExitReason::Shutdown).await {
                    Ok(()) => Stopped::Requested,
                    Err(e) => Stopped::RootExited(ExitReason::error(e)),
                }
            }
        }
    }

    /// Start the tree, run it until Ctrl-C or SIGTERM (or until the root exits), stop it in
    /// order, and return the process exit code.
    pub async fn run(flags: SupervisorFlags, children: Vec<ChildSpec>) -> ExitCode {
        match Application::start(flags, children).await {
            Ok(app) => app.run_until(shutdown_signal()).await.exit_code(),
            Err(e) => {
                tracing::error!(error = %e, "application failed to start");
                ExitCode::FAILURE
            }
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    // tokio has no signal handling in a loom build (the loom models never run an application).
    #[cfg(loom)]
    std::future::pending::<()>().await;
    #[cfg(all(unix, not(loom)))]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(all(not(unix), not(loom)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
