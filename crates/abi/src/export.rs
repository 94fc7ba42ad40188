//! The module side of the contract: entry points generated for a [`HotModule`], each a thin
//! `extern "C"` shim that decodes its input, runs the callback inside `catch_unwind`, and
//! copies its output to the host.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::codec::{decode, encode};
use crate::ffi::{
    Bytes, EntryPoints, Fingerprint, HostCtx, InterfaceFingerprint, ModuleDecl, Out, RStr,
    StatePtr, Status, CONTRACT_VERSION, MAGIC,
};
use crate::host::Host;
use crate::module::{Dispatch, HotModule, Interface};

thread_local! {
    /// Where the panic hook leaves the location of the last panic on this thread.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Install (once per module) a panic hook that records where a panic happened instead of
/// printing it: the host reports it, as the process's exit reason, through its own `tracing`.
/// The module has its own copy of std, so this hook never replaces the host's.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| l.to_string());
            PANIC_LOCATION.with(|p| *p.borrow_mut() = location);
        }));
    });
}

/// Drop a caught panic's payload. Its destructor may itself panic: that second payload is
/// forgotten (a few bytes, once) rather than unwound into the host.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Run `f`, turning a panic into [`Status::PANIC`] with "message (at location)" written out.
///
/// # Safety
///
/// `out` is null or points to an [`Out`] valid for the whole call (the host's contract for
/// every entry point).
unsafe fn guarded(out: *mut Out<'_>, f: impl FnOnce(&mut Out<'_>) -> Status) -> Status {
    quiet_panics();
    // SAFETY: by the caller's contract.
    let Some(out) = (unsafe { out.as_mut() }) else {
        return Status::ERROR;
    };
    match catch_unwind(AssertUnwindSafe(|| f(out))) {
        Ok(status) => status,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-string payload".into());
            drop_payload(payload);
            let location = PANIC_LOCATION.with(|p| p.borrow_mut().take());
            let text = match location {
                Some(at) => format!("{message}\u{0}{at}"),
                None => message,
            };
            out.put(text.as_bytes());
            Status::PANIC
        }
    }
}

/// Encode `value` straight into the host's buffer: on the stack when small (a reply usually
/// is), so the module allocates nothing per call.
fn put_encoded<T: serde::Serialize>(out: &mut Out<'_>, value: &T) -> Status {
    let mut stack = [0u8; 256];
    match postcard::to_slice(value, &mut stack) {
        Ok(bytes) => {
            out.put(bytes);
            Status::OK
        }
        Err(_) => match encode(value) {
            Ok(bytes) => {
                out.put(&bytes);
                Status::OK
            }
            Err(e) => fail(out, Status::ERROR, e),
        },
    }
}

fn fail(out: &mut Out<'_>, status: Status, msg: impl std::fmt::Display) -> Status {
    out.put(msg.to_string().as_bytes());
    status
}

/// # Safety
///
/// `slot` is valid for a write of one pointer (the host's contract).
unsafe fn new_state<M>(state: M, slot: *mut StatePtr) -> Status {
    // SAFETY: by the caller's contract.
    unsafe { slot.write(Box::into_raw(Box::new(state)).cast()) };
    Status::OK
}

/// # Safety
/// `state` was made by `new_state::<M>` of this module and is not aliased during the call.
unsafe fn state_mut<'a, M>(state: StatePtr) -> &'a mut M {
    // SAFETY: by the caller's contract.
    unsafe { &mut *state.cast::<M>() }
}

type Args<M> = <<M as HotModule>::Interface as Interface>::Args;
type Call<M> = <<M as HotModule>::Interface as Interface>::Call;
type Cast<M> = <<M as HotModule>::Interface as Interface>::Cast;

// Every entry point below is called by the host with the pointers its contract describes
// (`EntryPoints`): inputs borrowed for the call, an `Out` valid for the call, state pointers
// made by this module's `new_state` and used by one caller at a time. Each SAFETY comment
// leans on that contract.

unsafe extern "C" fn init<M: HotModule>(
    host: *const HostCtx,
    args: Bytes<'_>,
    state: *mut StatePtr,
    err: *mut Out<'_>,
) -> Status {
    let body = |err: &mut Out<'_>| {
        // SAFETY: the entry point contract (above).
        let (args, host) = unsafe { (args.as_slice(), Host::from_ctx(&*host)) };
        let mut host = host;
        let args: Args<M> = match decode(args) {
            Ok(a) => a,
            Err(e) => return fail(err, Status::DECODE, e),
        };
        match M::init(args, &mut host) {
            // SAFETY: the entry point contract.
            Ok(s) => unsafe { new_state(s, state) },
            Err(reason) => fail(err, Status::ERROR, reason),
        }
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(err, body) }
}

unsafe extern "C" fn handle_call<M: HotModule>(
    host: *const HostCtx,
    state: StatePtr,
    request: Bytes<'_>,
    reply: *mut Out<'_>,
) -> Status {
    let body = |out: &mut Out<'_>| {
        // SAFETY: the entry point contract; the state is the calling process's alone.
        let (request, mut host, state) = unsafe {
            (
                request.as_slice(),
                Host::from_ctx(&*host),
                state_mut::<M>(state),
            )
        };
        let request: Call<M> = match decode(request) {
            Ok(r) => r,
            Err(e) => return fail(out, Status::DECODE, e),
        };
        let answer = <M::Interface as Dispatch<M>>::call(state, request, &mut host);
        put_encoded(out, &answer)
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(reply, body) }
}

unsafe extern "C" fn handle_cast<M: HotModule>(
    host: *const HostCtx,
    state: StatePtr,
    message: Bytes<'_>,
    err: *mut Out<'_>,
) -> Status {
    let body = |err: &mut Out<'_>| {
        // SAFETY: as in `handle_call`.
        let (message, mut host, state) = unsafe {
            (
                message.as_slice(),
                Host::from_ctx(&*host),
                state_mut::<M>(state),
            )
        };
        let message: Cast<M> = match decode(message) {
            Ok(m) => m,
            Err(e) => return fail(err, Status::DECODE, e),
        };
        <M::Interface as Dispatch<M>>::cast(state, message, &mut host);
        Status::OK
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(err, body) }
}

unsafe extern "C" fn terminate<M: HotModule>(
    host: *const HostCtx,
    state: StatePtr,
    reason: RStr,
    err: *mut Out<'_>,
) -> Status {
    let body = |_: &mut Out<'_>| {
        // SAFETY: as in `handle_call`; the reason is borrowed for the call.
        let (mut host, state, reason) = unsafe {
            (
                Host::from_ctx(&*host),
                state_mut::<M>(state),
                reason.as_str(),
            )
        };
        state.terminate(reason, &mut host);
        Status::OK
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(err, body) }
}

unsafe extern "C" fn export_state<M: HotModule>(state: StatePtr, out: *mut Out<'_>) -> Status {
    let body = |out: &mut Out<'_>| {
        // SAFETY: as in `handle_call`.
        let state = unsafe { state_mut::<M>(state) };
        match encode(&*state) {
            Ok(bytes) => {
                out.put(&bytes);
                Status::OK
            }
            Err(e) => fail(out, Status::ERROR, e),
        }
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(out, body) }
}

unsafe extern "C" fn import_state<M: HotModule>(
    bytes: Bytes<'_>,
    state: *mut StatePtr,
    err: *mut Out<'_>,
) -> Status {
    let body = |err: &mut Out<'_>| {
        // SAFETY: borrowed for the call.
        match decode::<M>(unsafe { bytes.as_slice() }) {
            // SAFETY: the entry point contract.
            Ok(s) => unsafe { new_state(s, state) },
            Err(e) => fail(err, Status::DECODE, e),
        }
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(err, body) }
}

unsafe extern "C" fn code_change<M: HotModule>(
    from_vsn: RStr,
    old_state: Bytes<'_>,
    extra: Bytes<'_>,
    state: *mut StatePtr,
    err: *mut Out<'_>,
) -> Status {
    let body = |err: &mut Out<'_>| {
        // SAFETY: all borrowed for the call.
        let (from, old, extra) =
            unsafe { (from_vsn.as_str(), old_state.as_slice(), extra.as_slice()) };
        match M::code_change(from, old, extra) {
            // SAFETY: the entry point contract.
            Ok(s) => unsafe { new_state(s, state) },
            Err(reason) => fail(err, Status::ERROR, reason),
        }
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(err, body) }
}

unsafe extern "C" fn downgrade<M: HotModule>(
    state: StatePtr,
    to_vsn: RStr,
    extra: Bytes<'_>,
    out: *mut Out<'_>,
) -> Status {
    let body = |out: &mut Out<'_>| {
        // SAFETY: as in `handle_call`; the rest is borrowed for the call.
        let (state, to, extra) =
            unsafe { (state_mut::<M>(state), to_vsn.as_str(), extra.as_slice()) };
        match state.downgrade(to, extra) {
            Ok(bytes) => {
                out.put(&bytes);
                Status::OK
            }
            Err(reason) => fail(out, Status::ERROR, reason),
        }
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(out, body) }
}

unsafe extern "C" fn drop_state<M: HotModule>(state: StatePtr) -> Status {
    quiet_panics();
    // A destructor that panics is reported, never unwound into the host.
    match catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by `new_state::<M>`, dropped once (the host's contract).
        drop(unsafe { Box::from_raw(state.cast::<M>()) })
    })) {
        Ok(()) => Status::OK,
        Err(payload) => {
            drop_payload(payload);
            Status::PANIC
        }
    }
}

unsafe extern "C" fn self_check<M: HotModule>(err: *mut Out<'_>) -> Status {
    let body = |err: &mut Out<'_>| {
        // Unwinding works in this build: a panic is caught here, not turned into an abort.
        let caught = catch_unwind(|| panic!("ferrotp self-check: deliberate panic"));
        if caught.is_ok() {
            return fail(err, Status::ERROR, "a deliberate panic was not raised");
        }
        if let Err(payload) = caught {
            drop_payload(payload);
        }
        let probe = (M::VSN.to_string(), 42u64);
        match encode(&probe).and_then(|b| decode::<(String, u64)>(&b)) {
            Ok(back) if back == probe => Status::OK,
            Ok(_) => fail(err, Status::ERROR, "the codec does not round-trip"),
            Err(e) => fail(err, Status::ERROR, e),
        }
    };
    // SAFETY: the entry point contract.
    unsafe { guarded(err, body) }
}

impl ModuleDecl {
    /// The declaration of module `M`. Used by [`export_module!`](crate::export_module), which
    /// passes the module crate's own panic strategy.
    pub const fn of<M: HotModule>(panic_unwind: bool) -> ModuleDecl {
        ModuleDecl {
            magic: MAGIC,
            contract: CONTRACT_VERSION,
            name: RStr::new(<M::Interface as Interface>::MODULE),
            vsn: RStr::new(M::VSN),
            fingerprint: Fingerprint::current(panic_unwind),
            interface: InterfaceFingerprint::new(<M::Interface as Interface>::FINGERPRINT),
            entry: EntryPoints {
                init: init::<M>,
                handle_call: handle_call::<M>,
                handle_cast: handle_cast::<M>,
                terminate: terminate::<M>,
                export_state: export_state::<M>,
                import_state: import_state::<M>,
                code_change: code_change::<M>,
                downgrade: downgrade::<M>,
                drop_state: drop_state::<M>,
                self_check: self_check::<M>,
            },
        }
    }
}

/// Export a [`HotModule`] from a `cdylib`: the one line that makes a module loadable.
///
/// Generates the `ferrotp_module_decl` static holding the module's [`ModuleDecl`], whose
/// entry points catch every panic. It is data, not code: the loader reads and checks it
/// without calling into the module. The crate must be built as a `cdylib` with
/// `panic = "unwind"` (the default), by the same compiler as the host.
#[macro_export]
macro_rules! export_module {
    ($module:ty) => {
        // The module crate's own docs need not describe the generated symbol, whose name is
        // the contract's (`DECL_SYMBOL`).
        #[allow(missing_docs, non_upper_case_globals)]
        #[no_mangle]
        pub static ferrotp_module_decl: $crate::ModuleDecl =
            $crate::ModuleDecl::of::<$module>(cfg!(panic = "unwind"));
    };
}
