//! What a supervisor and a dynamic supervisor both do with a child: start it, making sure they
//! are linked to it, and stop it with its shutdown spec.

use super::{shutdown, ChildInfo, ChildPid, ChildSpec, Started};
use crate::gen_server::{GenServer, ServerContext};
use crate::process::recent;
use crate::signal::ops;
use crate::{ExitReason, Pid};

/// A child as its supervisor tracks it.
pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    pub(crate) pid: ChildPid,
    /// Its key on the supervisor's [`Board`](crate::observe::Board): start order, never reused.
    pub(crate) key: u64,
}

impl Child {
    pub(crate) fn info(&self) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.clone(),
            pid: self.pid,
            child_type: self.spec.child_type,
            restart: self.spec.restart,
        }
    }
}

/// Start `spec`'s child from the supervisor's process, and make sure the supervisor is linked
/// to it.
///
/// OTP relies on the start function linking (`start_link`); a start function that forgot
/// would leave the child listed as running after it died, never restarted. Linking again is
/// free when the link exists. A child already dead by then is reported as if the link had
/// told: an exit signal from it, with its exit reason if the runtime still knows it (OTP's
/// `noproc` otherwise), which the supervisor handles as any other child exit.
pub(crate) async fn start<S: GenServer>(
    spec: &ChildSpec,
    ctx: &ServerContext<S>,
) -> Result<Started, ExitReason> {
    let started = spec.run_start().await?;
    if let Started::Pid(pid) = started {
        if !ctx.process.link_if_alive(pid) {
            let reason = recent::lookup(pid).unwrap_or(ExitReason::NoProc);
            let _ = ops::exit(pid, ctx.pid(), &reason);
        }
    }
    Ok(started)
}

/// Stop the child `pid` with `spec`'s shutdown: OTP's `shutdown/2`.
/// Returns the reason it exited with.
pub(crate) async fn stop<S: GenServer>(
    pid: Pid,
    spec: &ChildSpec,
    ctx: &ServerContext<S>,
) -> ExitReason {
    shutdown::begin(pid, spec.restart, spec.shutdown, |p| ctx.unlink(p))
        .finish(ctx.pid(), &spec.id)
        .await
}
