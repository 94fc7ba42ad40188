//! Opening a module library: stage a private copy, load it eagerly, and validate everything
//! before any of its code runs as a process.
//!
//! Libraries are never closed. Unloading a Rust `cdylib` is unsound in practice: its
//! thread-local destructors are registered with the host's threads and run after `dlclose`
//! would have unmapped them (a crash at thread exit), and any `'static` the host still holds —
//! a `&'static str` from the declaration, a function pointer in a timer — would dangle. So
//! every library loaded stays mapped until the process exits; the loader counts them
//! ([`Loader::leaked_libraries`](crate::Loader::leaked_libraries)) so a long-running host can
//! see what its upgrades cost (a few MB each).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ferrotp_abi::{ModuleDecl, CONTRACT_VERSION, DECL_SYMBOL, MAGIC};

use crate::error::LoadError;

/// A library staged, opened and validated; mapped for the rest of the program.
pub(crate) struct OpenedLibrary {
    pub(crate) decl: &'static ModuleDecl,
}

static STAGED: AtomicU64 = AtomicU64::new(0);

/// Write `image` (the checked content of `source`) to a fresh file under `staging`. `dlopen`
/// caches libraries by path: opening a rebuilt library at its build path would hand back the
/// code already loaded.
fn stage(source: &Path, image: &[u8], staging: &Path) -> Result<PathBuf, LoadError> {
    let n = STAGED.fetch_add(1, Ordering::Relaxed);
    let file = source
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module".into());
    let staged = staging.join(format!("{}-{n}-{file}", std::process::id()));
    std::fs::write(&staged, image).map_err(|e| LoadError::Io {
        path: staged.clone(),
        source: e,
    })?;
    Ok(staged)
}

/// Check that `image` is a whole dynamic library before the dynamic loader sees it. `dlopen`
/// maps a file lazily: a library cut short (a build still being written) can open, resolve its
/// symbols and then crash the host with `SIGBUS` when it touches a page past the end.
pub(crate) fn check_image(path: &Path, image: &[u8]) -> Result<(), LoadError> {
    use object::{Object, ObjectKind, ObjectSegment};
    let looks_native = image.starts_with(b"\x7fELF")
        || image.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || image.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
        || image.starts_with(b"MZ");
    let file = match object::File::parse(image) {
        Ok(f) => f,
        Err(e) if looks_native => {
            return Err(LoadError::Truncated {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        }
        Err(e) => {
            return Err(LoadError::NotALibrary {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        }
    };
    for segment in file.segments() {
        if let Err(e) = segment.data() {
            return Err(LoadError::Truncated {
                path: path.to_path_buf(),
                detail: e.to_string(),
            });
        }
    }
    if file.kind() != ObjectKind::Dynamic {
        return Err(LoadError::NotALibrary {
            path: path.to_path_buf(),
            detail: format!("a {:?} object, not a dynamic library", file.kind()),
        });
    }
    Ok(())
}

fn classify_open_error(path: &Path, detail: String) -> LoadError {
    let path = path.to_path_buf();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("too short") || lower.contains("past end") || lower.contains("truncat") {
        LoadError::Truncated { path, detail }
    } else if lower.contains("invalid elf header")
        || lower.contains("not a dynamic")
        || lower.contains("wrong elf class")
        || lower.contains("not a mach-o")
        || lower.contains("bad exe format")
    {
        LoadError::NotALibrary { path, detail }
    } else {
        LoadError::Open { path, detail }
    }
}

/// Check, stage, open with every symbol resolved now, find and check the declaration.
///
/// `mapped` is called once the library is mapped, whatever happens next: from then on it stays
/// mapped for the rest of the program, refused or not.
pub(crate) fn open(
    source: &Path,
    image: &[u8],
    staging: &Path,
    mapped: impl FnOnce(),
) -> Result<OpenedLibrary, LoadError> {
    check_image(source, image)?;
    let staged = stage(source, image, staging)?;
    let opened = open_now(&staged);
    // Mapped or not, the staged file's directory entry is no longer needed.
    let _ = std::fs::remove_file(&staged);
    let library = opened.map_err(|detail| classify_open_error(source, detail))?;
    mapped();
    // SAFETY: the symbol is looked up by name; its type is the contract's, checked by the
    // magic and versions below before anything else is trusted.
    let get_decl: Result<libloading::Symbol<'_, extern "C" fn() -> *const ModuleDecl>, _> =
        unsafe { library.get(DECL_SYMBOL) };
    let decl_ptr = match get_decl {
        Ok(f) => f(),
        Err(_) => {
            // Never closed (see the module docs), even when refused: it ran its initialisers.
            std::mem::forget(library);
            return Err(LoadError::MissingSymbol {
                path: source.to_path_buf(),
            });
        }
    };
    std::mem::forget(library);
    // SAFETY: the library stays mapped for ever, so its static declaration is 'static. Only
    // the magic and contract version are read before they are checked.
    let decl: &'static ModuleDecl = unsafe { &*decl_ptr };
    validate(decl, source)?;
    Ok(OpenedLibrary { decl })
}

#[cfg(unix)]
fn open_now(path: &Path) -> Result<libloading::Library, String> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a library runs its initialisers; the trust policy admitted this file.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map(Into::into)
        .map_err(|e| e.to_string())
}

#[cfg(not(unix))]
fn open_now(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: as above; Windows resolves imports at load time.
    unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())
}

/// Check a declaration against this host. Pure, so every refusal is unit-tested.
pub(crate) fn validate(decl: &ModuleDecl, path: &Path) -> Result<(), LoadError> {
    let path = path.to_path_buf();
    if decl.magic != MAGIC {
        return Err(LoadError::BadMagic { path });
    }
    if decl.contract != CONTRACT_VERSION {
        return Err(LoadError::ContractMismatch {
            path,
            found: decl.contract,
            expected: CONTRACT_VERSION,
        });
    }
    let host = ferrotp_abi::Fingerprint::current(cfg!(panic = "unwind"));
    let theirs = decl.fingerprint;
    // SAFETY: the contract version matched, so the strings are `RStr`s made from 'static
    // strings of the module (which stays mapped).
    let (their_rustc, their_target, our_rustc, our_target) = unsafe {
        (
            theirs.rustc.as_str(),
            theirs.target.as_str(),
            host.rustc.as_str(),
            host.target.as_str(),
        )
    };
    if their_rustc != our_rustc {
        return Err(LoadError::CompilerMismatch {
            path,
            found: their_rustc.into(),
            expected: our_rustc.into(),
        });
    }
    if their_target != our_target {
        return Err(LoadError::TargetMismatch {
            path,
            found: their_target.into(),
            expected: our_target.into(),
        });
    }
    if theirs.contract != CONTRACT_VERSION {
        return Err(LoadError::ContractMismatch {
            path,
            found: theirs.contract,
            expected: CONTRACT_VERSION,
        });
    }
    if theirs.panic_unwind != 1 {
        return Err(LoadError::PanicAbort { path });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotp_abi::{Fingerprint, RStr};

    /// A declaration like the host's own, to be altered one field at a time.
    fn host_like() -> ModuleDecl {
        // Any real module's entry points will do; take a declaration built by this crate's
        // own copy of the contract through a throwaway module.
        #[ferrotp_abi::hot_interface(module = "m")]
        trait Probe {
            fn ping(&self) -> u8;
        }
        #[derive(serde::Serialize, serde::Deserialize)]
        struct M;
        impl Probe for M {
            fn ping(&self) -> u8 {
                1
            }
        }
        impl ferrotp_abi::HotModule for M {
            type Interface = ProbeInterface;
            const VSN: &'static str = "1";
            fn init((): (), _: &mut ferrotp_abi::Host<'_, ProbeInterface>) -> Result<Self, String> {
                Ok(M)
            }
        }
        ModuleDecl::of::<M>(true)
    }

    fn refusal(decl: &ModuleDecl) -> LoadError {
        validate(decl, Path::new("m.so")).unwrap_err()
    }

    #[test]
    fn the_hosts_own_build_is_accepted() {
        validate(&host_like(), Path::new("m.so")).unwrap();
    }

    #[test]
    fn another_magic_is_refused() {
        let mut d = host_like();
        d.magic = *b"NOTOURS\0";
        assert!(matches!(refusal(&d), LoadError::BadMagic { .. }));
    }

    #[test]
    fn another_contract_version_is_refused() {
        let mut d = host_like();
        d.contract = CONTRACT_VERSION + 1;
        assert!(matches!(refusal(&d), LoadError::ContractMismatch { .. }));
    }

    #[test]
    fn another_compiler_is_refused() {
        let mut d = host_like();
        d.fingerprint = Fingerprint {
            rustc: RStr::new("rustc 1.0.0 [someone else's]"),
            ..d.fingerprint
        };
        let e = refusal(&d);
        assert!(matches!(e, LoadError::CompilerMismatch { .. }));
        assert!(e
            .to_string()
            .contains("rebuild the module with the host's toolchain"));
    }

    #[test]
    fn another_target_is_refused() {
        let mut d = host_like();
        d.fingerprint = Fingerprint {
            target: RStr::new("wasm32-unknown-unknown"),
            ..d.fingerprint
        };
        assert!(matches!(refusal(&d), LoadError::TargetMismatch { .. }));
    }

    #[test]
    fn a_panic_abort_build_is_refused() {
        let mut d = host_like();
        d.fingerprint.panic_unwind = 0;
        assert!(matches!(refusal(&d), LoadError::PanicAbort { .. }));
    }

    #[test]
    fn text_is_not_a_library_and_a_cut_library_is_truncated() {
        assert!(matches!(
            check_image(Path::new("x"), b"hello"),
            Err(LoadError::NotALibrary { .. })
        ));
        assert!(matches!(
            check_image(Path::new("x"), b"\x7fELF\x02\x01\x01"),
            Err(LoadError::Truncated { .. })
        ));
    }
}
