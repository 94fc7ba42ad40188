//! A supervised worker that logs its life and crashes on request.

use ferrotp::Context;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp::gen_server::*;
use ferrotp::supervisor::{Child, ChildSpec, Shutdown};
use ferrotp::{ExitReason, Pid};

use super::server::Log;

#[derive(Clone)]
pub struct KidArgs {
    pub id: &'static str,
    pub log: Log,
    /// Starts fail while this is above zero (each failure decrements it).
    pub fail_starts: Arc<AtomicU32>,
    /// Take this long in terminate.
    pub slow_terminate: Option<Duration>,
}

impl KidArgs {
    pub fn new(id: &'static str, log: &Log) -> KidArgs {
        KidArgs {
            id,
            log: log.clone(),
            fail_starts: Arc::new(AtomicU32::new(0)),
            slow_terminate: None,
        }
    }
}

pub struct Kid {
    args: KidArgs,
}

pub enum KidCall {
    Pid(ReplyTo<Pid>),
}

impl GenServer for Kid {
    type Args = KidArgs;
    type Call = KidCall;
    type Cast = ExitReason;
    type Info = ();
    type Continue = ();

    async fn init(args: KidArgs, ctx: &mut ServerContext<Self>) -> Init<Self> {
        let failing = args
            .fail_starts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            args.log.push(format!("start-failed {}", args.id));
            return Init::Stop(ExitReason::error("cannot start"));
        }
        // Trapping, so a supervisor's shutdown runs terminate (and is logged).
        ctx.trap_exit(true);
        args.log.push(format!("start {}", args.id));
        Init::ok(Kid { args })
    }

    async fn handle_call(
        &mut self,
        call: KidCall,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        let KidCall::Pid(from) = call;
        CallResult::reply(from, ctx.pid())
    }

    /// A cast makes the kid exit with that reason.
    async fn handle_cast(
        &mut self,
        reason: ExitReason,
        _: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        HandleResult::Stop(reason)
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut ServerContext<Self>) {
        self.args
            .log
            .push(format!("stop {} {reason}", self.args.id));
        if let Some(d) = self.args.slow_terminate {
            tokio::time::sleep(d).await;
        }
    }
}

pub fn kid(id: &'static str, log: &Log) -> ChildSpec {
    Kid::child_spec(KidArgs::new(id, log)).id(id)
}

pub fn kid_with(args: KidArgs) -> ChildSpec {
    let id = args.id;
    Kid::child_spec(args).id(id)
}

/// A worker spec whose process never traps and ignores nothing: stopped by signals alone.
pub fn plain(id: &'static str) -> ChildSpec {
    ChildSpec::worker(id, |opts| async move {
        let addr = opts
            .builder()
            .spawn(|_: Context| std::future::pending())
            .map_err(ExitReason::from)?;
        Ok(ferrotp::supervisor::Started::Pid(addr.pid()))
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(1)))
}
