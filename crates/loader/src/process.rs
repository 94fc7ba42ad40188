//! A hot process: an ordinary GenServer of the host whose state and callbacks live in a module.
//!
//! Its pid, mailbox, links, monitors, name and supervisor are the host's, so they survive any
//! number of code changes; only the module state it points at is replaced. The callbacks run the
//! module's synchronous entry points and then carry out the effects the module asked for.

use std::borrow::Cow;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_abi::{effect, level, Bytes, HostApi, HostCtx, RStr, Status};
use ferrotp_runtime::gen_server::{
    self, CallResult, GenServer, HandleResult, Info, Init, ReplyTo, Server, ServerContext,
    StartOptions,
};
use ferrotp_runtime::supervisor::Restart;
use ferrotp_runtime::{ExitReason, Pid};

use crate::error::ModuleFault;
use crate::module::{ModuleSlot, SharedState, StateSlot};
use crate::version::StateHandle;

/// What a module asked for during one callback.
enum Effect {
    CastSelf(Vec<u8>),
    CastSelfAfter(Duration, Vec<u8>),
    CastNamed(String, Vec<u8>),
    Spawn(Vec<u8>),
}

/// The host context of one callback: the process it runs in and the effects it requested.
struct Sink<'a> {
    pid: Pid,
    module: &'a str,
    effects: Vec<Effect>,
}

static HOST_API: HostApi = HostApi {
    log: host_log,
    effect: host_effect,
};

unsafe extern "C" fn host_log(cx: *mut c_void, lvl: u32, msg: RStr) {
    // Nothing may unwind back into the module.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `cx` is the `Sink` of the running callback (`with_host`); `msg` is borrowed
        // for this call.
        let (sink, msg) = unsafe { (&*cx.cast::<Sink<'_>>(), msg.as_str()) };
        let (pid, module) = (sink.pid, sink.module);
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
                &mut *cx.cast::<Sink<'_>>(),
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
fn with_host<R>(pid: Pid, module: &str, f: impl FnOnce(&HostCtx) -> R) -> (R, Vec<Effect>) {
    let mut sink = Sink {
        pid,
        module,
        effects: Vec::new(),
    };
    let ctx = HostCtx {
        api: &HOST_API,
        cx: (&mut sink as *mut Sink<'_>).cast(),
    };
    let r = f(&ctx);
    (r, sink.effects)
}

/// Which interface a request was written for: the length and last hash of the client's
/// interface fingerprint (see `ferrotp_abi::Interface::FINGERPRINT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Speaking {
    len: usize,
    last: u64,
}

impl Speaking {
    pub(crate) fn of(fingerprint: &[u64]) -> Speaking {
        Speaking {
            len: fingerprint.len(),
            last: fingerprint.last().copied().unwrap_or_default(),
        }
    }

    /// Whether a module declaring `module` understands this client.
    pub(crate) fn understood_by(self, module: &[u64]) -> bool {
        self.len > 0 && module.get(self.len - 1) == Some(&self.last)
    }
}

/// A call or cast for a hot process: encoded, and marked with the interface it speaks.
pub(crate) struct HotRequest {
    pub(crate) speaking: Speaking,
    pub(crate) bytes: Vec<u8>,
}

/// A call for a hot process: the request, and where its reply goes (the encoded reply, or why
/// the process did not hand the request to its module).
pub(crate) struct HotCall {
    pub(crate) request: HotRequest,
    pub(crate) reply: ReplyTo<Result<Vec<u8>, Refusal>>,
}

/// Why a hot process did not hand a call to its module.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    /// The module could not decode the request.
    Decode(String),
    /// The process runs another interface.
    Interface { module: String, vsn: String },
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

/// The reason a process stops when an upgrade had to abandon its state.
fn state_lost(module: &str) -> ExitReason {
    ExitReason::error(format_args!(
        "the state of this `{module}` process was lost: a code change abandoned it"
    ))
}

impl HotProcess {
    /// Run `f` on the module state, with a host context; the process stops if the state is
    /// gone.
    fn with_state<R>(
        &self,
        f: impl FnOnce(&mut StateHandle, &HostCtx) -> R,
    ) -> Result<(R, Vec<Effect>), ExitReason> {
        let mut slot = self.state.lock();
        let Some(handle) = slot.handle.as_mut() else {
            return Err(state_lost(&self.slot.name));
        };
        let version = handle.version().clone();
        Ok(with_host(self.pid, &version.name, |host| f(handle, host)))
    }

    /// The module's refusal if it does not speak the client's interface.
    fn check(&self, speaking: Speaking) -> Result<(), Refusal> {
        let slot = self.state.lock();
        match slot.handle.as_ref() {
            Some(h) if !speaking.understood_by(&h.version().interface) => Err(Refusal::Interface {
                module: h.version().name.clone(),
                vsn: h.version().vsn.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// What the running version declares as its own interface (for casts it sends itself).
    fn own_speaking(&self) -> Speaking {
        let slot = self.state.lock();
        slot.handle
            .as_ref()
            .map(|h| Speaking::of(&h.version().interface))
            .unwrap_or(Speaking { len: 0, last: 0 })
    }

    fn apply(&mut self, effects: Vec<Effect>, ctx: &mut ServerContext<Self>) {
        for e in effects {
            match e {
                Effect::CastSelf(bytes) => ctx.server().cast(HotRequest {
                    speaking: self.own_speaking(),
                    bytes,
                }),
                Effect::CastSelfAfter(delay, bytes) => {
                    ctx.send_after(bytes, delay);
                }
                Effect::CastNamed(name, bytes) => {
                    Server::<HotProcess>::named(name).cast(HotRequest {
                        speaking: self.own_speaking(),
                        bytes,
                    })
                }
                // Started by the module's own dynamic supervisor, from a task of its own: this
                // process does not wait for the start (a start waits while an upgrade runs, and
                // the upgrade waits for this process), and a sibling's crash is not its own.
                Effect::Spawn(args) => {
                    let slot = self.slot.clone();
                    let pid = self.pid;
                    tokio::spawn(async move {
                        let Some(sup) = slot.supervisor().await else {
                            return;
                        };
                        let spec = child_spec(HotArgs {
                            slot: slot.clone(),
                            args,
                        })
                        .restart(Restart::Transient);
                        if let Err(e) = sup.start_child(spec).await {
                            tracing::warn!(module = %slot.name, %pid, error = %e, "a module's spawn failed");
                        }
                    });
                }
            }
        }
    }

    fn cast(&mut self, bytes: Vec<u8>, ctx: &mut ServerContext<Self>) -> HandleResult<Self> {
        let pid = self.pid;
        let (result, effects) = match self.with_state(|handle, host| handle.cast(host, &bytes)) {
            Ok(done) => done,
            Err(lost) => return HandleResult::Stop(lost),
        };
        match result {
            Ok(()) => {}
            // A message the running version cannot read is dropped with a log line, as a
            // GenServer logs an unexpected message; it is not a crash of the process.
            Err(ModuleFault::Decode(e)) => {
                tracing::error!(module = %self.slot.name, %pid, error = %e, "a cast did not decode; dropped");
            }
            Err(fault) => return HandleResult::Stop(exit_reason(fault)),
        }
        if !effects.is_empty() {
            self.apply(effects, ctx);
        }
        HandleResult::noreply()
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

/// A child spec for a hot process; its id is the module's name.
pub(crate) fn child_spec(args: HotArgs) -> ferrotp_runtime::supervisor::ChildSpec {
    let id = args.slot.name.clone();
    <HotProcess as ferrotp_runtime::supervisor::Child>::child_spec(args).id(id)
}

impl GenServer for HotProcess {
    type Args = HotArgs;
    type Call = HotCall;
    type Cast = HotRequest;
    /// Casts delivered by a timer (`cast_self_after`).
    type Info = Vec<u8>;
    type Continue = ();

    fn vsn(&self) -> Cow<'static, str> {
        Cow::Owned(self.state.lock().vsn.to_string())
    }

    async fn init(args: HotArgs, ctx: &mut ServerContext<Self>) -> Init<Self> {
        // Starts wait while an upgrade migrates the module's processes, then use the code the
        // upgrade installed.
        let gate = args.slot.gate.read().await;
        let version = args.slot.current();
        let pid = ctx.pid();
        let (result, effects) =
            with_host(pid, &version.name, |host| version.init(host, &args.args));
        match result {
            Ok(handle) => {
                let state = StateSlot::new(handle);
                args.slot.enter(pid, version.id, state.clone());
                // Entered: an upgrade that now takes the gate sees this process.
                drop(gate);
                let mut me = HotProcess {
                    slot: args.slot,
                    pid,
                    state,
                };
                me.apply(effects, ctx);
                Init::ok(me)
            }
            Err(fault) => Init::Stop(exit_reason(fault)),
        }
    }

    async fn handle_call(
        &mut self,
        HotCall {
            request,
            reply: from,
        }: HotCall,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        if let Err(refusal) = self.check(request.speaking) {
            return CallResult::reply(from, Err(refusal));
        }
        let (result, effects) =
            match self.with_state(|handle, host| handle.call(host, &request.bytes)) {
                Ok(done) => done,
                Err(lost) => return CallResult::Stop(lost),
            };
        match result {
            Ok(reply) => {
                if !effects.is_empty() {
                    self.apply(effects, ctx);
                }
                CallResult::reply(from, Ok(reply))
            }
            Err(ModuleFault::Decode(e)) => CallResult::reply(from, Err(Refusal::Decode(e))),
            Err(fault) => CallResult::Stop(exit_reason(fault)),
        }
    }

    async fn handle_cast(
        &mut self,
        request: HotRequest,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        if let Err(Refusal::Interface { module, vsn }) = self.check(request.speaking) {
            tracing::error!(pid = %self.pid, %module, %vsn, "a cast for another interface was refused; dropped");
            return HandleResult::noreply();
        }
        self.cast(request.bytes, ctx)
    }

    async fn handle_info(
        &mut self,
        info: Info<Vec<u8>>,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        match info {
            Info::Message(bytes) => self.cast(bytes, ctx),
            _ => HandleResult::noreply(),
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut ServerContext<Self>) {
        let pid = self.pid;
        let reason = reason.to_string();
        match self.with_state(|handle, host| handle.terminate(host, &reason)) {
            Ok((Ok(()), _)) => {}
            Ok((Err(fault), _)) => {
                tracing::error!(module = %self.slot.name, %pid, %fault, "a module's terminate failed")
            }
            Err(_) => {
                tracing::warn!(module = %self.slot.name, %pid, "terminate skipped: the state was abandoned by a code change")
            }
        }
    }
}
