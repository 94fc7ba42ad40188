//! A hot process: an ordinary GenServer of the host whose state and callbacks live in a module.
//!
//! Its pid, mailbox, links, monitors, name and supervisor are the host's, so they survive any
//! number of code changes; only the module state it points at is replaced. The callbacks run the
//! module's synchronous entry points and then carry out the effects the module asked for.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_abi::{effect, level, Bytes, HostApi, HostCtx, RStr, Status};
use ferrotp_runtime::gen_server::{
    self, CallResult, GenServer, HandleResult, Info, Init, ReplyTo, Server, ServerContext,
    StartOptions,
};
use ferrotp_runtime::{ExitReason, Pid};

use crate::error::ModuleFault;
use crate::module::ModuleSlot;
use crate::version::{StateHandle, Version};

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
    /// The module state. A `RefCell` because an upgrade swaps it through `sys::with_state`,
    /// which lends the state by shared reference, while the process is suspended.
    state: RefCell<Option<StateHandle>>,
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
    fn handle(&mut self) -> &StateHandle {
        self.state
            .get_mut()
            .as_ref()
            .expect("a hot process always holds a state between callbacks")
    }

    /// Encode the state in its own version's format (an upgrade's first step).
    pub(crate) fn export(&self) -> (Arc<Version>, Result<Vec<u8>, ModuleFault>) {
        let state = self.state.borrow();
        let handle = state.as_ref().expect("a hot process always holds a state");
        (handle.version.clone(), handle.version.export_state(handle))
    }

    /// Encode the state in `to_vsn`'s format with its own (newer) version's `downgrade`.
    pub(crate) fn export_down(
        &self,
        to_vsn: &str,
        extra: &[u8],
    ) -> (Arc<Version>, Result<Vec<u8>, ModuleFault>) {
        let state = self.state.borrow();
        let handle = state.as_ref().expect("a hot process always holds a state");
        (
            handle.version.clone(),
            handle.version.downgrade(handle, to_vsn, extra),
        )
    }

    /// Commit an upgrade: run `new` from now on; the old state is dropped by its own module.
    pub(crate) fn swap(&self, new: StateHandle) {
        self.slot.enter(self.pid, new.version.id);
        let old = self.state.replace(Some(new));
        drop(old);
    }

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
        let handle = self.handle();
        let version = &handle.version;
        let (result, effects) = with_host(pid, version, |host| {
            version.handle_cast(host, handle, &bytes)
        });
        match result {
            Ok(()) => {
                if !effects.is_empty() {
                    self.apply(effects, ctx).await;
                }
                HandleResult::noreply()
            }
            // A message the running version cannot read is dropped with a log line, as a
            // GenServer logs an unexpected message; it is not a crash of the process.
            Err(ModuleFault::Decode(e)) => {
                tracing::error!(module = %version.name, vsn = %version.vsn, %pid, error = %e, "a cast did not decode; dropped");
                HandleResult::noreply()
            }
            Err(fault) => HandleResult::Stop(exit_reason(fault)),
        }
    }
}

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
                args.slot.enter(pid, version.id);
                // Entered: an upgrade that now takes the gate sees this process. Released
                // before the effects, one of which may start another process of the module.
                drop(gate);
                let mut me = HotProcess {
                    slot: args.slot,
                    pid,
                    state: RefCell::new(Some(handle)),
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
        let handle = self.handle();
        let version = &handle.version;
        let (result, effects) = with_host(pid, version, |host| {
            version.handle_call(host, handle, &request)
        });
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
        let handle = self.handle();
        let version = handle.version.clone();
        let reason = reason.to_string();
        let (result, _) = with_host(pid, &version, |host| {
            version.terminate(host, handle, &reason)
        });
        if let Err(fault) = result {
            tracing::error!(module = %version.name, %pid, %fault, "a module's terminate failed");
        }
    }
}
