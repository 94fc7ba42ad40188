//! One loaded version of a module, and the safe face of its entry points.

use std::ffi::c_void;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use ferrotp_abi::{Bytes, EntryPoints, HostCtx, ModuleDecl, Out, RStr, StatePtr, Status};

use crate::error::{LoadError, ModuleFault};
use crate::library::OpenedLibrary;

/// A loaded version of a module. Its library stays mapped for ever (see
/// [`Loader::leaked_libraries`](crate::Loader::leaked_libraries)).
pub(crate) struct Version {
    /// Unique per load: two loads of the same `vsn` (a rebuild) are different versions.
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) vsn: String,
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
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
fn run(entry: impl FnOnce(&mut Out) -> Status) -> Result<Vec<u8>, ModuleFault> {
    let mut buf = Vec::new();
    let status = entry(&mut Out::to_vec(&mut buf));
    outcome(status, buf)
}

impl Version {
    pub(crate) fn new(
        id: u64,
        lib: OpenedLibrary,
        path: PathBuf,
        sha256: String,
    ) -> Result<Version, LoadError> {
        let decl: &'static ModuleDecl = lib.decl;
        // SAFETY: validated declaration of a library that stays mapped.
        let (name, vsn) = unsafe {
            (
                decl.name.as_str().to_string(),
                decl.vsn.as_str().to_string(),
            )
        };
        let version = Version {
            id,
            name,
            vsn,
            path: path.clone(),
            sha256,
            entry: decl.entry,
        };
        // SAFETY: a validated entry point; `out` lives across the call.
        run(|out| unsafe { (version.entry.self_check)(out) }).map_err(|fault| {
            LoadError::SelfCheck {
                path,
                detail: fault.to_string(),
            }
        })?;
        Ok(version)
    }

    pub(crate) fn init(
        self: &Arc<Self>,
        host: &HostCtx,
        args: &[u8],
    ) -> Result<StateHandle, ModuleFault> {
        let mut state: StatePtr = std::ptr::null_mut();
        // SAFETY: validated entry point; every pointer is valid for the call.
        run(|out| unsafe { (self.entry.init)(host, Bytes::new(args), &mut state, out) })?;
        Ok(StateHandle::new(state, self.clone()))
    }

    pub(crate) fn handle_call(
        &self,
        host: &HostCtx,
        state: &StateHandle,
        request: &[u8],
    ) -> Result<Vec<u8>, ModuleFault> {
        debug_assert_eq!(state.version.id, self.id);
        // SAFETY: the state belongs to this version and to the calling process alone.
        run(|out| unsafe { (self.entry.handle_call)(host, state.ptr, Bytes::new(request), out) })
    }

    pub(crate) fn handle_cast(
        &self,
        host: &HostCtx,
        state: &StateHandle,
        message: &[u8],
    ) -> Result<(), ModuleFault> {
        // SAFETY: as in `handle_call`.
        run(|out| unsafe { (self.entry.handle_cast)(host, state.ptr, Bytes::new(message), out) })
            .map(drop)
    }

    pub(crate) fn terminate(
        &self,
        host: &HostCtx,
        state: &StateHandle,
        reason: &str,
    ) -> Result<(), ModuleFault> {
        // SAFETY: as in `handle_call`.
        run(|out| unsafe { (self.entry.terminate)(host, state.ptr, RStr::new(reason), out) })
            .map(drop)
    }

    pub(crate) fn export_state(&self, state: &StateHandle) -> Result<Vec<u8>, ModuleFault> {
        // SAFETY: as in `handle_call`.
        run(|out| unsafe { (self.entry.export_state)(state.ptr, out) })
    }

    pub(crate) fn downgrade(
        &self,
        state: &StateHandle,
        to_vsn: &str,
        extra: &[u8],
    ) -> Result<Vec<u8>, ModuleFault> {
        // SAFETY: as in `handle_call`.
        run(|out| unsafe {
            (self.entry.downgrade)(state.ptr, RStr::new(to_vsn), Bytes::new(extra), out)
        })
    }

    pub(crate) fn code_change(
        self: &Arc<Self>,
        from_vsn: &str,
        old_state: &[u8],
        extra: &[u8],
    ) -> Result<StateHandle, ModuleFault> {
        let mut state: StatePtr = std::ptr::null_mut();
        // SAFETY: validated entry point; every pointer is valid for the call.
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

    pub(crate) fn import_state(self: &Arc<Self>, bytes: &[u8]) -> Result<StateHandle, ModuleFault> {
        let mut state: StatePtr = std::ptr::null_mut();
        // SAFETY: as in `code_change`.
        run(|out| unsafe { (self.entry.import_state)(Bytes::new(bytes), &mut state, out) })?;
        Ok(StateHandle::new(state, self.clone()))
    }
}

/// A module state, owned by the module that made it; dropped by that module's `drop_state`.
pub(crate) struct StateHandle {
    ptr: StatePtr,
    pub(crate) version: Arc<Version>,
}

// SAFETY: `HotModule` requires `Send` of every state, and a handle is used by one process (or,
// while that process is suspended, by the upgrade) at a time.
unsafe impl Send for StateHandle {}

impl StateHandle {
    fn new(ptr: *mut c_void, version: Arc<Version>) -> Self {
        StateHandle { ptr, version }
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
