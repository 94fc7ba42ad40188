//! One loaded version of a module, and the safe face of its entry points.
//!
//! Entry points are only ever called with what the contract promises them: buffers that live
//! across the call, and a state made by the same version. The latter is kept by construction:
//! every callback on a state is a method of its [`StateHandle`], which knows its version.

use std::ffi::c_void;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use ferrotp_abi::{Bytes, EntryPoints, HostCtx, Out, RStr, StatePtr, Status};

use crate::decl::Declaration;
use crate::error::{LoadError, ModuleFault};

/// A loaded version of a module. Its library stays mapped for ever (see
/// [`Loader::leaked_libraries`](crate::Loader::leaked_libraries)).
pub(crate) struct Version {
    /// Unique per load: two loads of the same `vsn` (a rebuild) are different versions.
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) vsn: String,
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    /// The interface fingerprint it declares (see `ferrotp_abi::Interface::FINGERPRINT`).
    pub(crate) interface: Vec<u64>,
    entry: EntryPoints,
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} vsn {} (load #{})", self.name, self.vsn, self.id)
    }
}

/// Turn a status and the output buffer into a result.
fn outcome(status: Status, out: Vec<u8>) -> Result<Vec<u8>, ModuleFault> {
    let text = || String::from_utf8_lossy(&out).into_owned();
    match status {
        Status::OK => Ok(out),
        Status::PANIC => {
            let text = text();
            let (message, location) = match text.split_once('\u{0}') {
                Some((m, at)) => (m.to_string(), Some(at.to_string())),
                None => (text, None),
            };
            Err(ModuleFault::Panic { message, location })
        }
        Status::DECODE => Err(ModuleFault::Decode(text())),
        _ => Err(ModuleFault::Error(text())),
    }
}

/// Call an entry point with an output buffer and read what it reports.
fn run(entry: impl FnOnce(*mut Out<'_>) -> Status) -> Result<Vec<u8>, ModuleFault> {
    let mut buf = Vec::new();
    let status = {
        let mut out = Out::to_vec(&mut buf);
        entry(&mut out)
    };
    outcome(status, buf)
}

impl Version {
    /// A version from a checked declaration; runs the module's self-check.
    pub(crate) fn new(
        id: u64,
        decl: Declaration,
        path: PathBuf,
        sha256: String,
    ) -> Result<Version, LoadError> {
        let version = Version {
            id,
            name: decl.name,
            vsn: decl.vsn,
            path: path.clone(),
            sha256,
            interface: decl.interface,
            entry: decl.entry,
        };
        // SAFETY: a checked entry point; `out` lives across the call.
        run(|out| unsafe { (version.entry.self_check)(out) }).map_err(|fault| {
            LoadError::SelfCheck {
                path,
                detail: fault.to_string(),
            }
        })?;
        Ok(version)
    }

    /// Start a state from encoded arguments.
    pub(crate) fn init(
        self: &Arc<Self>,
        host: &HostCtx,
        args: &[u8],
    ) -> Result<StateHandle, ModuleFault> {
        let mut state: StatePtr = std::ptr::null_mut();
        // SAFETY: a checked entry point; every pointer is valid for the call.
        run(|out| unsafe { (self.entry.init)(host, Bytes::new(args), &mut state, out) })?;
        Ok(StateHandle::new(state, self.clone()))
    }

    /// Migrate a state exported by version `from_vsn` into a state of this version.
    pub(crate) fn code_change(
        self: &Arc<Self>,
        from_vsn: &str,
        old_state: &[u8],
        extra: &[u8],
    ) -> Result<StateHandle, ModuleFault> {
        let mut state: StatePtr = std::ptr::null_mut();
        // SAFETY: a checked entry point; every pointer is valid for the call.
        run(|out| unsafe {
            (self.entry.code_change)(
                RStr::new(from_vsn),
                Bytes::new(old_state),
                Bytes::new(extra),
                &mut state,
                out,
            )
        })?;
        Ok(StateHandle::new(state, self.clone()))
    }

    /// Read a state written in this version's format.
    pub(crate) fn import_state(self: &Arc<Self>, bytes: &[u8]) -> Result<StateHandle, ModuleFault> {
        let mut state: StatePtr = std::ptr::null_mut();
        // SAFETY: as in `code_change`.
        run(|out| unsafe { (self.entry.import_state)(Bytes::new(bytes), &mut state, out) })?;
        Ok(StateHandle::new(state, self.clone()))
    }
}

/// A module state, owned by the version of the module that made it, which every callback on
/// it runs and which drops it (`drop_state`).
pub(crate) struct StateHandle {
    ptr: StatePtr,
    version: Arc<Version>,
}

// SAFETY: `HotModule` requires `Send` of every state, and a handle is used by one thread at a
// time: its process, or, while that process is suspended, the upgrade that took it.
unsafe impl Send for StateHandle {}

impl StateHandle {
    fn new(ptr: *mut c_void, version: Arc<Version>) -> Self {
        StateHandle { ptr, version }
    }

    /// The version whose state this is.
    pub(crate) fn version(&self) -> &Arc<Version> {
        &self.version
    }

    /// `handle_call(request)` → the encoded reply.
    pub(crate) fn call(&mut self, host: &HostCtx, request: &[u8]) -> Result<Vec<u8>, ModuleFault> {
        let (entry, ptr) = (self.version.entry.handle_call, self.ptr);
        // SAFETY: the state is this version's, borrowed mutably for the call.
        run(|out| unsafe { entry(host, ptr, Bytes::new(request), out) })
    }

    /// `handle_cast(message)`.
    pub(crate) fn cast(&mut self, host: &HostCtx, message: &[u8]) -> Result<(), ModuleFault> {
        let (entry, ptr) = (self.version.entry.handle_cast, self.ptr);
        // SAFETY: as in `call`.
        run(|out| unsafe { entry(host, ptr, Bytes::new(message), out) }).map(drop)
    }

    /// `terminate(reason)`.
    pub(crate) fn terminate(&mut self, host: &HostCtx, reason: &str) -> Result<(), ModuleFault> {
        let (entry, ptr) = (self.version.entry.terminate, self.ptr);
        // SAFETY: as in `call`.
        run(|out| unsafe { entry(host, ptr, RStr::new(reason), out) }).map(drop)
    }

    /// The state in its own version's format.
    pub(crate) fn export(&mut self) -> Result<Vec<u8>, ModuleFault> {
        let (entry, ptr) = (self.version.entry.export_state, self.ptr);
        // SAFETY: as in `call`.
        run(|out| unsafe { entry(ptr, out) })
    }

    /// The state in the older version `to_vsn`'s format (a downgrade, run by the newer code).
    pub(crate) fn downgrade(&mut self, to_vsn: &str, extra: &[u8]) -> Result<Vec<u8>, ModuleFault> {
        let (entry, ptr) = (self.version.entry.downgrade, self.ptr);
        // SAFETY: as in `call`.
        run(|out| unsafe { entry(ptr, RStr::new(to_vsn), Bytes::new(extra), out) })
    }
}

impl Drop for StateHandle {
    fn drop(&mut self) {
        // SAFETY: made by this version's module, dropped exactly once, here.
        let status = unsafe { (self.version.entry.drop_state)(self.ptr) };
        if status != Status::OK {
            tracing::error!(module = %self.version.name, vsn = %self.version.vsn, "a module state's destructor panicked; ignored");
        }
    }
}
