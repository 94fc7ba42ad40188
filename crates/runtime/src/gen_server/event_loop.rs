//! The server's receive loop: OTP's `gen_server:loop/5` and `handle_msg/3`.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::start::InitAck;
use super::{
    CallResult, GenServer, HandleResult, Info, Init, Next, Request, ServerContext, StartError,
};
use crate::observe::Callback;
use crate::process::panic::guarded;
use crate::sys::{self, Statistics, SystemRequest};
use crate::{Context, ExitReason, Message, Pid, ProcessResult};

pub(crate) async fn run<S: GenServer>(
    ctx: Context<Request<S>>,
    args: S::Args,
    parent: Option<Pid>,
    ack: oneshot::Sender<InitAck>,
) -> ProcessResult {
    crate::observe::register_sys_port::<S>();
    let mut sctx = ServerContext::new(ctx, parent);
    sctx.process.probe().enter(Some(Callback::Init));
    let init = guarded(S::init(args, &mut sctx)).await;
    sctx.process.probe().enter(None);
    // A stop requested through the context during `init` is `Init::Stop`.
    let init = match (init, sctx.take_stop()) {
        (Ok(Init::Ok(..)), Some(reason)) => Ok(Init::Stop(reason)),
        (other, _) => other,
    };
    let (state, next) = match init {
        Ok(Init::Ok(state, next)) => {
            let _ = ack.send(InitAck::Started);
            (state, next)
        }
        Ok(Init::Ignore) => return fail_start(&sctx, ack, StartError::Ignored, ExitReason::Normal),
        Ok(Init::Stop(r)) => {
            return fail_start(&sctx, ack, StartError::Stopped(r.clone()), r);
        }
        Ok(Init::Error(r)) => {
            return fail_start(&sctx, ack, StartError::Error(r), ExitReason::Normal)
        }
        Err(panicked) => {
            return fail_start(&sctx, ack, StartError::Exited(panicked.clone()), panicked);
        }
    };
    let mut server = Loop {
        state,
        ctx: sctx,
        suspended: false,
        handled: 0,
        timeout: None,
        deadline: None,
        continue_with: None,
    };
    server.apply(next);
    let reason = server.serve().await;
    if reason.is_normal() {
        Ok(())
    } else {
        Err(reason)
    }
}

/// `init` failed: tell the starter, and spare a trapping parent the `Exit` message (OTP 26
/// consumes it in `start_link`); a non-trapping parent still dies of an abnormal reason.
fn fail_start<S: GenServer>(
    ctx: &ServerContext<S>,
    ack: oneshot::Sender<InitAck>,
    error: StartError,
    reason: ExitReason,
) -> ProcessResult {
    if let Some(parent) = ctx.parent() {
        let parent_traps =
            crate::process::table::get(parent).is_some_and(|p| p.core().lock().trap_exit);
        if parent_traps {
            ctx.unlink(parent);
        }
    }
    let _ = ack.send(InitAck::Failed(error));
    if reason.is_normal() {
        Ok(())
    } else {
        Err(reason)
    }
}

struct Loop<S: GenServer> {
    state: S,
    ctx: ServerContext<S>,
    suspended: bool,
    handled: u64,
    /// The idle timeout of the last callback, and when it expires.
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    continue_with: Option<S::Continue>,
}

enum Incoming<S: GenServer> {
    Message(Message<Request<S>>),
    Timeout,
}

/// What the loop does after one message.
enum Flow {
    Continue,
    /// Stop: run `terminate` with the reason, then exit.
    Stop(ExitReason),
    /// Stop, replying once `terminate` has run.
    StopReply(ExitReason, super::PendingReply),
}

impl<S: GenServer> Loop<S> {
    #[inline(always)]
    fn apply(&mut self, next: Next<S::Continue>) {
        // The common case, checked inline in every callback's path: nothing to do after it.
        if matches!(next, Next::Wait) && self.timeout.is_none() && !self.ctx.has_continuation() {
            return;
        }
        self.apply_next(next);
    }

    /// A timeout, continuation or hibernation to set up after a callback: out of line, so the
    /// loop's common path does not carry its frame.
    #[inline(never)]
    fn apply_next(&mut self, next: Next<S::Continue>) {
        self.timeout = None;
        self.deadline = None;
        // A continuation or timeout asked for through the context replaces the returned
        // `Next`.
        let next = match (self.ctx.take_continuation(), self.ctx.take_timeout()) {
            (Some(c), _) => Next::Continue(c),
            (None, Some(t)) => Next::Timeout(t),
            (None, None) => next,
        };
        match next {
            Next::Wait => {}
            // A timeout past the clock's range never expires: OTP's `infinity`.
            Next::Timeout(t) => {
                self.timeout = Some(t);
                self.deadline = crate::timer::deadline_after(t);
            }
            Next::Continue(c) => self.continue_with = Some(c),
            Next::Hibernate => self.ctx.process.shrink_mailbox(),
        }
    }

    /// Serve until the server stops; returns the exit reason.
    ///
    /// The common path — a call or cast arriving while running with no idle timeout — is kept
    /// inline; the rarer states (suspended, timeouts, system requests, stopping) are boxed so
    /// the loop's state machine stays small and cheap to resume.
    async fn serve(&mut self) -> ExitReason {
        loop {
            let flow = if let Some(c) = self.continue_with.take() {
                // Before any queued message, as OTP's `{continue, C}`.
                self.ctx
                    .process
                    .probe()
                    .enter(Some(Callback::HandleContinue));
                let r = guarded(self.state.handle_continue(c, &mut self.ctx)).await;
                self.ctx.process.probe().enter(None);
                self.after(r)
            } else if !self.suspended && self.deadline.is_none() {
                match self.ctx.process.recv().await {
                    Message::User(Request::Call(request)) => {
                        self.handled += 1;
                        self.ctx.process.probe().enter(Some(Callback::HandleCall));
                        let r = guarded(self.state.handle_call(request, &mut self.ctx)).await;
                        self.ctx.process.probe().enter(None);
                        self.after_call(r)
                    }
                    Message::User(Request::Cast(msg)) => {
                        self.handled += 1;
                        self.ctx.process.probe().enter(Some(Callback::HandleCast));
                        let r = guarded(self.state.handle_cast(msg, &mut self.ctx)).await;
                        self.ctx.process.probe().enter(None);
                        self.after(r)
                    }
                    other => Box::pin(self.handle(other)).await,
                }
            } else {
                match Box::pin(self.receive()).await {
                    Incoming::Timeout => {
                        self.deadline = None;
                        self.ctx.process.probe().enter(Some(Callback::HandleInfo));
                        let r = guarded(self.state.handle_info(Info::Timeout, &mut self.ctx)).await;
                        self.ctx.process.probe().enter(None);
                        self.after(r)
                    }
                    Incoming::Message(m) => Box::pin(self.handle(m)).await,
                }
            };
            match flow {
                Flow::Continue => {}
                Flow::Stop(reason) => return Box::pin(self.terminate(reason)).await,
                Flow::StopReply(reason, reply) => {
                    // `terminate` first, then the reply, then the exit (OTP's order).
                    let reason = Box::pin(self.terminate(reason)).await;
                    reply.send();
                    return reason;
                }
            }
        }
    }

    #[inline]
    fn after_call(&mut self, r: Result<CallResult<S>, ExitReason>) -> Flow {
        let stop = self.ctx.take_stop();
        match (r, stop) {
            (Err(panicked), _) => Flow::Stop(panicked),
            (Ok(CallResult::NoReply(_)), Some(reason)) => Flow::Stop(reason),
            (Ok(CallResult::NoReply(next)), None) => {
                self.apply(next);
                Flow::Continue
            }
            (Ok(CallResult::Stop(reason)), _) => Flow::Stop(reason),
            (Ok(CallResult::StopReply(reason, reply)), _) => Flow::StopReply(reason, reply),
        }
    }

    async fn receive(&mut self) -> Incoming<S> {
        if self.suspended {
            // Only system requests and the parent's exit are served while suspended; the rest
            // stays queued, in order.
            let parent = self.ctx.parent();
            let m = self
                .ctx
                .process
                .recv_where(move |m| match m {
                    Message::User(Request::System(_)) => true,
                    Message::Exit(e) => Some(e.from) == parent,
                    _ => false,
                })
                .await;
            return Incoming::Message(m);
        }
        match self.deadline {
            None => Incoming::Message(self.ctx.process.recv().await),
            Some(deadline) => {
                tokio::select! {
                    // A queued message wins over an expired timeout (OTP's `receive ... after`).
                    biased;
                    m = self.ctx.process.recv() => Incoming::Message(m),
                    _ = tokio::time::sleep_until(deadline) => Incoming::Timeout,
                }
            }
        }
    }

    async fn handle(&mut self, m: Message<Request<S>>) -> Flow {
        let req = match m {
            Message::User(Request::System(req)) => return self.system(*req),
            // Only reached while trapping: the parent's exit stops the server (OTP rule 3).
            Message::Exit(e) if Some(e.from) == self.ctx.parent() => return Flow::Stop(e.reason),
            other => other,
        };
        self.deadline = None;
        self.handled += 1;
        match req {
            Message::User(Request::Call(request)) => {
                self.ctx.process.probe().enter(Some(Callback::HandleCall));
                let r = guarded(self.state.handle_call(request, &mut self.ctx)).await;
                self.ctx.process.probe().enter(None);
                self.after_call(r)
            }
            Message::User(Request::Cast(msg)) => {
                self.ctx.process.probe().enter(Some(Callback::HandleCast));
                let r = guarded(self.state.handle_cast(msg, &mut self.ctx)).await;
                self.ctx.process.probe().enter(None);
                self.after(r)
            }
            Message::User(Request::Info(msg)) => {
                self.ctx.process.probe().enter(Some(Callback::HandleInfo));
                let r = guarded(self.state.handle_info(Info::Message(msg), &mut self.ctx)).await;
                self.ctx.process.probe().enter(None);
                self.after(r)
            }
            Message::Exit(e) => {
                self.ctx.process.probe().enter(Some(Callback::HandleInfo));
                let r = guarded(self.state.handle_info(Info::Exit(e), &mut self.ctx)).await;
                self.ctx.process.probe().enter(None);
                self.after(r)
            }
            Message::Down(d) => {
                self.ctx.process.probe().enter(Some(Callback::HandleInfo));
                let r = guarded(self.state.handle_info(Info::Down(d), &mut self.ctx)).await;
                self.ctx.process.probe().enter(None);
                self.after(r)
            }
            Message::User(Request::System(_)) => unreachable!("handled above"),
        }
    }

    fn after(&mut self, r: Result<HandleResult<S>, ExitReason>) -> Flow {
        let stop = self.ctx.take_stop();
        match (r, stop) {
            (Err(panicked), _) => Flow::Stop(panicked),
            (Ok(HandleResult::NoReply(_)), Some(reason)) => Flow::Stop(reason),
            (Ok(HandleResult::NoReply(next)), None) => {
                self.apply(next);
                Flow::Continue
            }
            (Ok(HandleResult::Stop(reason)), _) => Flow::Stop(reason),
        }
    }

    /// Run `terminate`; if it panics, the panic is the exit reason.
    async fn terminate(&mut self, reason: ExitReason) -> ExitReason {
        self.ctx.process.probe().enter(Some(Callback::Terminate));
        let outcome = guarded(self.state.terminate(&reason, &mut self.ctx)).await;
        self.ctx.process.probe().enter(None);
        let reason = match outcome {
            Ok(()) => reason,
            Err(panicked) => panicked,
        };
        if !reason.is_shutdown() {
            tracing::error!(
                server = std::any::type_name::<S>(),
                pid = %self.ctx.pid(),
                reason = %reason,
                "GenServer terminating"
            );
        }
        reason
    }

    /// Serve a `sys` request.
    fn system(&mut self, req: SystemRequest<S>) -> Flow {
        match req {
            SystemRequest::Inspect(f) => f(&self.state),
            SystemRequest::Replace(f) => f(&mut self.state),
            // Only a requester still waiting for the answer suspends the server: a request
            // that timed out while the server was busy is ignored, so nothing is left
            // suspended by a caller that gave up. The caller's timeout closes the channel
            // before it gives up (`settle_timeout`), so the two sides always agree.
            SystemRequest::Suspend(ack) => {
                if ack.send(()).is_ok() {
                    self.suspended = true;
                    self.ctx.process.probe().set_suspended(true);
                }
            }
            SystemRequest::Resume(ack) => {
                self.suspended = false;
                self.ctx.process.probe().set_suspended(false);
                let _ = ack.send(());
            }
            SystemRequest::ChangeCode {
                old_vsn,
                extra,
                reply,
            } => {
                let result = if self.suspended {
                    sys::run_code_change(&mut self.state, &old_vsn, &extra)
                } else {
                    Err(sys::SysError::NotSuspended)
                };
                let _ = reply.send(result);
            }
            SystemRequest::Statistics(reply) => {
                let _ = reply.send(Statistics {
                    pid: self.ctx.pid(),
                    vsn: self.state.vsn(),
                    suspended: self.suspended,
                    messages_handled: self.handled,
                    mailbox_len: self.ctx.mailbox_len(),
                });
            }
            // `terminate` runs even when not trapping exits (OTP's `sys:terminate`).
            SystemRequest::Terminate(reason) => return Flow::Stop(reason),
        }
        // A plain timeout restarts in full after a system request (OTP's `system_continue`).
        if let (Some(t), Some(_)) = (self.timeout, self.deadline) {
            self.deadline = crate::timer::deadline_after(t);
        }
        Flow::Continue
    }
}
