//! The `#[repr(C)]` types that cross the boundary between the loader and a module.
//!
//! Rules every type here keeps: no Rust layouts (no `String`, `Vec`, trait objects or enums
//! with data), no `TypeId`, no unwinding. Input memory belongs to the caller and is only
//! borrowed for the call; output is *copied* into the caller's buffer through [`Out`], so
//! neither side ever frees memory the other allocated.

use std::ffi::c_void;
use std::marker::PhantomData;

/// Identifies a ferrotp module declaration: the first thing the loader checks.
pub const MAGIC: [u8; 8] = *b"FERROTP\0";

/// The version of this contract. A loader accepts only modules built against the same one.
pub const CONTRACT_VERSION: u32 = 2;

/// The symbol every module exports: its [`ModuleDecl`], a `static` (data, not a function), so
/// the loader reads the declaration without running any of the module's code.
pub const DECL_SYMBOL: &str = "ferrotp_module_decl";

/// A borrowed UTF-8 string.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RStr {
    ptr: *const u8,
    len: usize,
}

impl RStr {
    /// Borrow `s` for the duration of a call (or for ever, for a `'static` string).
    pub const fn new(s: &str) -> RStr {
        RStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The string.
    ///
    /// # Safety
    ///
    /// The `RStr` must have been made by [`RStr::new`] from a string that is still alive.
    pub unsafe fn as_str<'a>(self) -> &'a str {
        // SAFETY: by the caller's contract, ptr/len describe a live `str`.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len)) }
    }
}

/// Borrowed bytes: an encoded message, reply, argument or state.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Bytes<'a> {
    ptr: *const u8,
    len: usize,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> Bytes<'a> {
    /// Borrow `b` for a call.
    pub fn new(b: &'a [u8]) -> Self {
        Bytes {
            ptr: b.as_ptr(),
            len: b.len(),
            _borrow: PhantomData,
        }
    }

    /// The bytes.
    ///
    /// # Safety
    ///
    /// The `Bytes` must come from [`Bytes::new`] on a slice that is still alive.
    pub unsafe fn as_slice(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: by the caller's contract, ptr/len describe a live slice.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Where a callee writes its output: a callback that copies bytes into the caller's buffer.
///
/// The only way to make one is [`Out::to_vec`], which borrows the buffer for `'a`: an `Out`
/// cannot outlive the `Vec` it writes to, so [`put`](Out::put) is safe. A module receives a
/// `*mut Out` from the host for the duration of one entry point call and writes through it.
///
/// ```
/// use ferrotp_abi::Out;
///
/// let mut buf = Vec::new();
/// let mut out = Out::to_vec(&mut buf);
/// out.put(b"hello, ");
/// out.put(b"host");
/// assert_eq!(buf, b"hello, host");
/// ```
///
/// A buffer that is gone cannot be written to; this does not compile:
///
/// ```compile_fail
/// use ferrotp_abi::Out;
///
/// let mut out = { let mut v = Vec::new(); Out::to_vec(&mut v) };
/// out.put(b"x");
/// ```
#[repr(C)]
pub struct Out<'a> {
    cx: *mut c_void,
    write: unsafe extern "C" fn(cx: *mut c_void, ptr: *const u8, len: usize),
    _buffer: PhantomData<&'a mut Vec<u8>>,
}

impl<'a> Out<'a> {
    /// An `Out` that appends to `buf`.
    pub fn to_vec(buf: &'a mut Vec<u8>) -> Out<'a> {
        unsafe extern "C" fn append(cx: *mut c_void, ptr: *const u8, len: usize) {
            if len == 0 {
                return;
            }
            // SAFETY: `cx` is the `Vec` borrowed by `to_vec` for the `Out`'s lifetime, and
            // `put` is the only caller, with `ptr`/`len` from a live slice.
            unsafe {
                let buf = &mut *cx.cast::<Vec<u8>>();
                buf.extend_from_slice(std::slice::from_raw_parts(ptr, len));
            }
        }
        Out {
            cx: (buf as *mut Vec<u8>).cast(),
            write: append,
            _buffer: PhantomData,
        }
    }

    /// Copy `bytes` out to the caller.
    pub fn put(&mut self, bytes: &[u8]) {
        // SAFETY: an `Out` is only made by `to_vec`, whose buffer outlives it (`'a`) and whose
        // callback copies the bytes before returning.
        unsafe { (self.write)(self.cx, bytes.as_ptr(), bytes.len()) }
    }
}

impl std::fmt::Debug for Out<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out").finish_non_exhaustive()
    }
}

/// What an entry point reports. On anything but [`Status::OK`] the output holds a UTF-8
/// message saying what went wrong.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    /// Done; the output holds the result.
    pub const OK: Status = Status(0);
    /// The module's code returned an error.
    pub const ERROR: Status = Status(1);
    /// The module's code panicked; the panic was caught inside the module.
    pub const PANIC: Status = Status(2);
    /// Input bytes did not decode as the module's types.
    pub const DECODE: Status = Status(3);
}

/// A module's state, owned by the module: the loader holds the pointer and gives it back to
/// the module's entry points, never dereferencing or freeing it itself.
pub type StatePtr = *mut c_void;

/// Log levels of [`HostApi::log`].
pub mod level {
    /// `tracing::Level::ERROR`.
    pub const ERROR: u32 = 1;
    /// `tracing::Level::WARN`.
    pub const WARN: u32 = 2;
    /// `tracing::Level::INFO`.
    pub const INFO: u32 = 3;
    /// `tracing::Level::DEBUG`.
    pub const DEBUG: u32 = 4;
}

/// Effects of [`HostApi::effect`].
pub mod effect {
    /// Cast the payload to the calling process itself.
    pub const CAST_SELF: u32 = 1;
    /// Cast the payload to the calling process after `delay_ms`.
    pub const CAST_SELF_AFTER: u32 = 2;
    /// Cast the payload to the process of the same module registered as `target`.
    pub const CAST_NAMED: u32 = 3;
    /// Start another process of the same module with the payload as its arguments.
    pub const SPAWN: u32 = 4;
}

/// The functions the loader gives a module for its effects: the host's runtime, timers and
/// `tracing` subscriber do the work, so a module needs no async runtime of its own.
#[repr(C)]
#[allow(missing_debug_implementations)]
pub struct HostApi {
    /// Log `msg` at `level` through the host's `tracing` subscriber.
    pub log: unsafe extern "C" fn(cx: *mut c_void, level: u32, msg: RStr),
    /// Request an effect (see [`effect`]); applied by the host after the callback returns.
    pub effect: unsafe extern "C" fn(
        cx: *mut c_void,
        kind: u32,
        delay_ms: u64,
        target: RStr,
        payload: Bytes<'_>,
    ) -> Status,
}

/// The host's side of one callback: its function table and the context for this call.
#[repr(C)]
#[allow(missing_debug_implementations)]
pub struct HostCtx {
    /// The host's functions.
    pub api: *const HostApi,
    /// Opaque to the module; passed back to every host function.
    pub cx: *mut c_void,
}

/// The build a module came from. A loader refuses a module whose fingerprint differs from its
/// own: Rust has no stable ABI, so a module built by another compiler (or for another target)
/// cannot be trusted to agree on anything, even on how to unwind.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Fingerprint {
    /// `rustc -vV`'s release line and commit hash.
    pub rustc: RStr,
    /// The target triple.
    pub target: RStr,
    /// [`CONTRACT_VERSION`] as the module saw it.
    pub contract: u32,
    /// 1 if the module was built with `panic = "unwind"` (required: panics are caught inside
    /// the module only if it unwinds).
    pub panic_unwind: u8,
}

impl Fingerprint {
    /// The fingerprint of the build compiling this crate, with the given panic strategy.
    pub const fn current(panic_unwind: bool) -> Fingerprint {
        Fingerprint {
            rustc: RStr::new(env!("FERROTP_ABI_RUSTC")),
            target: RStr::new(env!("FERROTP_ABI_TARGET")),
            contract: CONTRACT_VERSION,
            panic_unwind: panic_unwind as u8,
        }
    }
}

/// The entry points of a module. Every one catches panics inside the module and reports them
/// as [`Status::PANIC`]; none unwinds into the host.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)]
pub struct EntryPoints {
    /// `init(args)` → a new state.
    pub init: unsafe extern "C" fn(
        host: *const HostCtx,
        args: Bytes<'_>,
        state: *mut StatePtr,
        err: *mut Out<'_>,
    ) -> Status,
    /// `handle_call(request)` → the encoded reply.
    pub handle_call: unsafe extern "C" fn(
        host: *const HostCtx,
        state: StatePtr,
        request: Bytes<'_>,
        reply: *mut Out<'_>,
    ) -> Status,
    /// `handle_cast(message)`.
    pub handle_cast: unsafe extern "C" fn(
        host: *const HostCtx,
        state: StatePtr,
        message: Bytes<'_>,
        err: *mut Out<'_>,
    ) -> Status,
    /// `terminate(reason)`; the state stays valid (drop it with `drop_state`).
    pub terminate: unsafe extern "C" fn(
        host: *const HostCtx,
        state: StatePtr,
        reason: RStr,
        err: *mut Out<'_>,
    ) -> Status,
    /// The state, encoded in this version's format.
    pub export_state: unsafe extern "C" fn(state: StatePtr, out: *mut Out<'_>) -> Status,
    /// A state in this version's format, decoded into a new state.
    pub import_state:
        unsafe extern "C" fn(bytes: Bytes<'_>, state: *mut StatePtr, err: *mut Out<'_>) -> Status,
    /// `code_change(from_vsn, old_state, extra)`: migrate a state exported by an older version
    /// into a new state of this version.
    pub code_change: unsafe extern "C" fn(
        from_vsn: RStr,
        old_state: Bytes<'_>,
        extra: Bytes<'_>,
        state: *mut StatePtr,
        err: *mut Out<'_>,
    ) -> Status,
    /// `code_change({down, to_vsn}, state, extra)`: encode this state in the older version's
    /// format, for a downgrade.
    pub downgrade: unsafe extern "C" fn(
        state: StatePtr,
        to_vsn: RStr,
        extra: Bytes<'_>,
        out: *mut Out<'_>,
    ) -> Status,
    /// Free a state made by this module.
    pub drop_state: unsafe extern "C" fn(state: StatePtr) -> Status,
    /// Check, at load time, that the module works: panics unwind and are caught inside it,
    /// and its codec round-trips.
    pub self_check: unsafe extern "C" fn(err: *mut Out<'_>) -> Status,
}

impl EntryPoints {
    /// Entry points from their addresses, in the order of the fields above
    /// ([`layout::ENTRY_POINTS`] of them): for a loader that read them from a library image
    /// rather than through a `&ModuleDecl` it cannot trust.
    ///
    /// # Safety
    ///
    /// Each address is that of a function with the signature of its field, following this
    /// contract: for a loader, the code of a module whose declaration it checked (contract
    /// version, and every address inside the library's executable segments). Calling an entry
    /// point made from anything else is undefined behaviour.
    pub unsafe fn from_addresses(
        addresses: [std::num::NonZeroUsize; layout::ENTRY_POINTS],
    ) -> EntryPoints {
        // SAFETY: `EntryPoints` is `repr(C)` and made of `layout::ENTRY_POINTS` function
        // pointers, each a non-null machine word like a `NonZeroUsize`; what they point to is
        // the caller's contract.
        unsafe { std::mem::transmute(addresses) }
    }
}

/// What a module exports through [`DECL_SYMBOL`].
#[repr(C)]
#[allow(missing_debug_implementations)]
pub struct ModuleDecl {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`CONTRACT_VERSION`].
    pub contract: u32,
    /// The module's name: the interface it implements.
    pub name: RStr,
    /// The module's version (`vsn`).
    pub vsn: RStr,
    /// The build the module came from.
    pub fingerprint: Fingerprint,
    /// The interface it implements: [`Interface::FINGERPRINT`](crate::Interface::FINGERPRINT).
    pub interface: InterfaceFingerprint,
    /// Its entry points.
    pub entry: EntryPoints,
}

/// An interface's fingerprint as a module declares it: a borrowed `'static` slice of hashes
/// (see [`Interface::FINGERPRINT`](crate::Interface::FINGERPRINT)).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InterfaceFingerprint {
    ptr: *const u64,
    len: usize,
}

impl InterfaceFingerprint {
    /// Declare `hashes`.
    pub const fn new(hashes: &'static [u64]) -> Self {
        InterfaceFingerprint {
            ptr: hashes.as_ptr(),
            len: hashes.len(),
        }
    }
}

/// Where each field of a [`ModuleDecl`] lies, in bytes from its start: for a loader that
/// reads a declaration as bytes from a library image, checking every pointer before following
/// it, instead of trusting a foreign `&ModuleDecl`. Pointers and lengths are native-endian
/// machine words.
pub mod layout {
    use std::mem::{offset_of, size_of};

    use super::{EntryPoints, Fingerprint, ModuleDecl};

    /// The size of a declaration.
    pub const SIZE: usize = size_of::<ModuleDecl>();
    /// Its alignment.
    pub const ALIGN: usize = std::mem::align_of::<ModuleDecl>();
    /// `magic`: 8 bytes.
    pub const MAGIC: usize = offset_of!(ModuleDecl, magic);
    /// `contract`: a `u32`.
    pub const CONTRACT: usize = offset_of!(ModuleDecl, contract);
    /// `name`: a string (pointer, length).
    pub const NAME: usize = offset_of!(ModuleDecl, name);
    /// `vsn`: a string.
    pub const VSN: usize = offset_of!(ModuleDecl, vsn);
    /// `fingerprint.rustc`: a string.
    pub const RUSTC: usize = offset_of!(ModuleDecl, fingerprint) + offset_of!(Fingerprint, rustc);
    /// `fingerprint.target`: a string.
    pub const TARGET: usize = offset_of!(ModuleDecl, fingerprint) + offset_of!(Fingerprint, target);
    /// `fingerprint.contract`: a `u32`.
    pub const FINGERPRINT_CONTRACT: usize =
        offset_of!(ModuleDecl, fingerprint) + offset_of!(Fingerprint, contract);
    /// `fingerprint.panic_unwind`: a `u8`.
    pub const PANIC_UNWIND: usize =
        offset_of!(ModuleDecl, fingerprint) + offset_of!(Fingerprint, panic_unwind);
    /// `interface`: a slice of `u64` (pointer, length).
    pub const INTERFACE: usize = offset_of!(ModuleDecl, interface);
    /// `entry`: the entry points, one function pointer each, in [`ENTRY_POINTS`] order.
    pub const ENTRY: usize = offset_of!(ModuleDecl, entry);
    /// How many entry points there are.
    pub const ENTRY_POINTS: usize = size_of::<EntryPoints>() / size_of::<usize>();
    /// A pointer-and-length pair (a string or a slice): the pointer first.
    pub const SLICE_LEN: usize = size_of::<usize>();
}

// SAFETY: a declaration is immutable and points only at `'static` strings, slices and
// functions.
unsafe impl Sync for ModuleDecl {}
// SAFETY: as above.
unsafe impl Send for ModuleDecl {}
