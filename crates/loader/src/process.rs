//! A hot process: an ordinary GenServer of the host whose state and callbacks live in a module.
//!
//! Its pid, mailbox, links, monitors, name and supervisor are the host's, so they survive any
//! number of code changes; only the module state it points at is replaced. The callbacks run the
//! module's synchronous entry points and then carry out the effects the module asked for.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_abi::{effect, level, Bytes, HostApi, HostCtx, RStr, Status};
use ferrotp_runtime::gen_server::{
    self, CallResult, GenServer, HandleResult, Info, Init, ReplyTo, Server, ServerContext,
    StartOptions,
};
use ferrotp_runtime::{ExitReason, Pid};
use parking_lot::Mutex;

use crate::error::ModuleFault;
use crate::module::{ModuleSlot, SharedState};
use crate::version::Version;

/// What a module asked for during one callback.
enum Effect {
    CastSelf(Vec<u8>),
    CastSelfAfter(Duration, Vec<u8>),
    CastNamed(String, Vec<u8>),
    Spawn(Vec<u8>),
}

/// The host context of one callback: the process it runs in and the effects it requested.
struct Sink {
    pid: Pid,
    module: *const str,
    effects: Vec<Effect>,
}

static HOST_API: HostApi = HostApi {
    log: host_log,
    effect: host_effect,
};

unsafe extern "C" fn host_log(cx: *mut c_void, lvl: u32, msg: RStr) {
    // Nothing may unwind back into the module.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `cx` is the `Sink` of the running callback; `msg` is borrowed for this call.
        let (sink, msg) = unsafe { (&*cx.cast::<Sink>(), msg.as_str()) };
        // SAFETY: the module name outlives the callback (it is the version's).
        let module = unsafe { &*sink.module };
        let pid = sink.pid;
        match lvl {
            level::ERROR => tracing::error!(target: "ferrotp::hot", %pid, module, "{msg}"),
            level::WARN => tracing::warn!(target: "ferrotp::hot", %pid, module, "{msg}"),
            level::INFO => tracing::info!(target: "ferrotp::hot", %pid, module, "{msg}"),
            _ => tracing::debug!(target: "ferrotp::hot", %pid, module, "{msg}"),
        }
    });
}

unsafe extern "C" fn host_effect(
    cx: *mut c_void,
    kind: u32,
    delay_ms: u64,
    target: RStr,
    payload: Bytes<'_>,
) -> Status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: as in `host_log`; the payload and target are borrowed for this call.
        let (sink, target, payload) = unsafe {
            (
                &mut *cx.cast::<Sink>(),
                target.as_str(),
                payload.as_slice().to_vec(),
            )
        };
        let e = match kind {
            effect::CAST_SELF => Effect::CastSelf(payload),
            effect::CAST_SELF_AFTER => {
                Effect::CastSelfAfter(Duration::from_millis(delay_ms), payload)
            }
            effect::CAST_NAMED => Effect::CastNamed(target.to_string(), payload),
            effect::SPAWN => Effect::Spawn(payload),
            _ => return Status::ERROR,
        };
        sink.effects.push(e);
        Status::OK
    }))
    .unwrap_or(Status::PANIC)
}

/// Run `f` with a host context for `pid`, returning its result and the effects requested.
fn with_host<R>(pid: Pid, version: &Version, f: impl FnOnce(&HostCtx) -> R) -> (R, Vec<Effect>) {
    let mut sink = Sink {
        pid,
        module: version.name.as_str() as *const str,
        effects: Vec::new(),
    };
    let ctx = HostCtx {
        api: &HOST_API,
        cx: (&mut sink as *mut Sink).cast(),
    };
    let r = f(&ctx);
    (r, sink.effects)
}

/// What a hot process starts from.
#[derive(Clone)]
pub(crate) struct HotArgs {
    pub(crate) slot: Arc<ModuleSlot>,
    pub(crate) args: Vec<u8>,
}

/// The host-side GenServer of a hot process.
pub(crate) struct HotProcess {
    slot: Arc<ModuleSlot>,
    pid: Pid,
    /// The module state, shared with the upgrade protocol (see [`SharedState`]).
    state: SharedState,
}

/// A module fault as the exit reason of the process it happened in.
pub(crate) fn exit_reason(fault: ModuleFault) -> ExitReason {
    match fault {
        ModuleFault::Panic { message, location } => ExitReason::Panic {
            message: message.into(),
            location: location.map(Into::into),
        },
        other => ExitReason::error(other),
    }
}

impl HotProcess {
    async fn apply(&mut self, effects: Vec<Effect>, ctx: &mut ServerContext<Self>) {
        for e in effects {
            match e {
                Effect::CastSelf(bytes) => ctx.server().cast(bytes),
                Effect::CastSelfAfter(delay, bytes) => {
                    ctx.send_after(bytes, delay);
                }
                Effect::CastNamed(name, bytes) => Server::<HotProcess>::named(name).cast(bytes),
                Effect::Spawn(args) => {
                    let started = start(
                        HotArgs {
                            slot: self.slot.clone(),
                            args,
                        },
                        StartOptions::new().link(),
                    )
                    .await;
                    if let Err(e) = started {
                        tracing::warn!(module = %self.slot.name, pid = %self.pid, error = %e, "a module's spawn failed");
                    }
                }
            }
        }
    }

    async fn cast(&mut self, bytes: Vec<u8>, ctx: &mut ServerContext<Self>) -> HandleResult<Self> {
        let pid = self.pid;
        let (result, effects) = {
            let state = self.state.lock();
            let handle = state.as_ref().expect(HOLDS_STATE);
            let version = &handle.version;
            let (result, effects) = with_host(pid, version, |host| {
                version.handle_cast(host, handle, &bytes)
            });
            if let Err(ModuleFault::Decode(e)) = &result {
                // A message the running version cannot read is dropped with a log line, as a
                // GenServer logs an unexpected message; it is not a crash of the process.
                tracing::error!(module = %version.name, vsn = %version.vsn, %pid, error = %e, "a cast did not decode; dropped");
            }
            (result, effects)
        };
        match result {
            Ok(()) | Err(ModuleFault::Decode(_)) => {
                if !effects.is_empty() {
                    self.apply(effects, ctx).await;
                }
                HandleResult::noreply()
            }
            Err(fault) => HandleResult::Stop(exit_reason(fault)),
        }
    }
}

const HOLDS_STATE: &str = "a hot process holds a state from init until it exits";

impl Drop for HotProcess {
    fn drop(&mut self) {
        self.slot.leave(self.pid);
    }
}

pub(crate) async fn start(
    args: HotArgs,
    opts: StartOptions,
) -> Result<Server<HotProcess>, gen_server::StartError> {
    gen_server::start_with::<HotProcess>(args, opts).await
}

impl GenServer for HotProcess {
    type Args = HotArgs;
    type Call = Vec<u8>;
    /// The encoded reply, or why the module rejected the request.
    type Reply = Result<Vec<u8>, String>;
    type Cast = Vec<u8>;
    /// Casts delivered by a timer (`cast_self_after`).
    type Info = Vec<u8>;
    type Continue = ();

    async fn init(args: HotArgs, ctx: &mut ServerContext<Self>) -> Init<Self> {
        // Starts wait while an upgrade migrates the module's processes, then use the code the
        // upgrade installed.
        let gate = args.slot.gate.read().await;
        let version = args.slot.current();
        let pid = ctx.pid();
        let (result, effects) = with_host(pid, &version, |host| version.init(host, &args.args));
        match result {
            Ok(handle) => {
                let state: SharedState = Arc::new(Mutex::new(Some(handle)));
                args.slot.enter(pid, version.id, state.clone());
                // Entered: an upgrade that now takes the gate sees this process. Released
                // before the effects, one of which may start another process of the module.
                drop(gate);
                let mut me = HotProcess {
                    slot: args.slot,
                    pid,
                    state,
                };
                me.apply(effects, ctx).await;
                Init::ok(me)
            }
            Err(fault) => Init::Stop(exit_reason(fault)),
        }
    }

    async fn handle_call(
        &mut self,
        request: Vec<u8>,
        from: ReplyTo<Self::Reply>,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        let pid = self.pid;
        let (result, effects) = {
            let state = self.state.lock();
            let handle = state.as_ref().expect(HOLDS_STATE);
            let version = &handle.version;
            with_host(pid, version, |host| {
                version.handle_call(host, handle, &request)
            })
        };
        match result {
            Ok(reply) => {
                if !effects.is_empty() {
                    self.apply(effects, ctx).await;
                }
                CallResult::reply(from, Ok(reply))
            }
            Err(ModuleFault::Decode(e)) => CallResult::reply(from, Err(e)),
            Err(fault) => CallResult::Stop(exit_reason(fault)),
        }
    }

    async fn handle_cast(
        &mut self,
        bytes: Vec<u8>,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        self.cast(bytes, ctx).await
    }

    async fn handle_info(
        &mut self,
        info: Info<Vec<u8>>,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        match info {
            Info::Message(bytes) => self.cast(bytes, ctx).await,
            _ => HandleResult::noreply(),
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut ServerContext<Self>) {
        let pid = self.pid;
        let reason = reason.to_string();
        let state = self.state.lock();
        let handle = state.as_ref().expect(HOLDS_STATE);
        let version = &handle.version;
        let (result, _) = with_host(pid, version, |host| {
            version.terminate(host, handle, &reason)
        });
        if let Err(fault) = result {
            tracing::error!(module = %version.name, %pid, %fault, "a module's terminate failed");
        }
    }
}
