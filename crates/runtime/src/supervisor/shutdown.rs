//! OTP's shutdown protocol (`shutdown/1`): signal, wait, kill.

use tokio::time::Instant;

use super::{Restart, Shutdown};
use crate::process::{self, AwaitExit};
use crate::{ExitReason, Pid};

/// A child being shut down: its exit is watched from before the signal went out.
pub(crate) struct Stopping {
    pid: Pid,
    restart: Restart,
    shutdown: Shutdown,
    exited: AwaitExit,
    deadline: Option<Instant>,
}

/// Send `pid` its shutdown signal. `unlink` runs first, so the link delivers no `Exit` message
/// to the supervisor for this planned exit; the exit is watched directly (a child that
/// unlinked itself cannot hang its supervisor).
pub(crate) fn begin(
    pid: Pid,
    restart: Restart,
    shutdown: Shutdown,
    unlink: impl FnOnce(Pid),
) -> Stopping {
    let exited = process::await_exit(pid);
    unlink(pid);
    let signal = match shutdown {
        Shutdown::BrutalKill => ExitReason::Kill,
        Shutdown::Timeout(_) | Shutdown::Infinity => ExitReason::Shutdown,
    };
    let _ = process::exit(pid, signal);
    let deadline = match shutdown {
        // A timeout past the clock's range is `Infinity`.
        Shutdown::Timeout(d) => crate::timer::deadline_after(d),
        _ => None,
    };
    Stopping {
        pid,
        restart,
        shutdown,
        exited,
        deadline,
    }
}

impl Stopping {
    /// Wait for the exit, killing the child when its shutdown time is up. Returns the reason;
    /// an unexpected one is logged as a `shutdown_error`, as OTP does, and shutdown proceeds.
    pub(crate) async fn finish(mut self, supervisor: Pid, id: &str) -> ExitReason {
        let reason = match self.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, &mut self.exited).await {
                Ok(reason) => reason,
                Err(_) => {
                    tracing::warn!(
                        %supervisor, child = id, pid = %self.pid,
                        "child did not stop within its shutdown time; killing it"
                    );
                    let _ = process::exit(self.pid, ExitReason::Kill);
                    (&mut self.exited).await
                }
            },
            None => (&mut self.exited).await,
        };
        let expected = match self.shutdown {
            Shutdown::BrutalKill => reason == ExitReason::Killed,
            _ => reason == ExitReason::Shutdown,
        } || (self.restart != Restart::Permanent && reason.is_shutdown())
            // Already gone before the signal: nothing went wrong in the shutdown itself.
            || reason == ExitReason::NoProc;
        if !expected {
            tracing::error!(
                %supervisor, child = id, pid = %self.pid, reason = %reason,
                "shutdown_error: child exited with an unexpected reason"
            );
        }
        reason
    }
}
