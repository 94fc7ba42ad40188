//! Opening a module library: inspect the admitted bytes, stage exactly those bytes, map them
//! with every symbol resolved, and read the declaration without trusting it.
//!
//! Libraries are never closed. Unloading a Rust `cdylib` is unsound in practice: its
//! thread-local destructors are registered with the host's threads and run after `dlclose`
//! would have unmapped them (a crash at thread exit), and any `'static` the host still holds —
//! a function pointer in a timer, say — would dangle. So every library loaded stays mapped
//! until the process exits; the loader counts them
//! ([`Loader::leaked_libraries`](crate::Loader::leaked_libraries)) so a long-running host can
//! see what its upgrades cost (a few MB each).

use std::path::Path;

use ferrotp_abi::DECL_SYMBOL;

use crate::decl::{self, Declaration, Mapped, Memory};
use crate::error::LoadError;
use crate::image;
use crate::stage::Staging;

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

/// Inspect, stage, map and read the declaration of the library admitted from `source`.
///
/// `mapped` is called once the library is mapped, whatever happens next: from then on it stays
/// mapped for the rest of the program, refused or not.
pub(crate) fn open(
    source: &Path,
    image: &[u8],
    staging: &Staging,
    mapped: impl FnOnce(),
) -> Result<Declaration, LoadError> {
    let info = image::inspect(source, image)?;
    let staged = staging.stage(image)?;
    let opened = open_now(&staged.path);
    staged.finish(opened.is_ok());
    let library = opened.map_err(|detail| classify_open_error(source, detail))?;
    mapped();
    // SAFETY: the symbol's address is taken, nothing is read or called through it here: the
    // declaration is read below through bounds-checked reads only.
    let symbol: Result<libloading::Symbol<'_, *const u8>, _> =
        unsafe { library.get(DECL_SYMBOL.as_bytes()) };
    let addr = symbol.map(|s| *s as usize as u64);
    // Never closed (see the module docs), even when refused: it ran its initialisers.
    std::mem::forget(library);
    let addr = addr.map_err(|_| LoadError::MissingSymbol {
        path: source.to_path_buf(),
    })?;
    let base = addr
        .checked_sub(info.decl)
        .ok_or_else(|| LoadError::BadDeclaration {
            path: source.to_path_buf(),
            detail: "the declaration is not where the image says it is".into(),
        })?;
    let memory = Mapped {
        base,
        segments: &info.segments,
    };
    // The mapping must show the very image that was inspected: its first bytes, where the
    // image maps them. Only then do the segment bounds above describe this memory.
    let header = info
        .header_segment()
        .ok_or_else(|| LoadError::BadDeclaration {
            path: source.to_path_buf(),
            detail: "the image maps no header".into(),
        })?;
    let n = header.file_size.min(64) as usize;
    let seen = memory.read(base.wrapping_add(header.start), n);
    if seen != image.get(..n) {
        return Err(LoadError::BadDeclaration {
            path: source.to_path_buf(),
            detail: "the mapped library is not the inspected image".into(),
        });
    }
    decl::read(&memory, addr, source)
}

#[cfg(unix)]
fn open_now(path: &Path) -> Result<libloading::Library, String> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a library runs its initialisers; the trust policy admitted these bytes
    // and they were staged where nobody else can change them (see `stage`).
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map(Into::into)
        .map_err(|e| e.to_string())
}

#[cfg(not(unix))]
fn open_now(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: as above; Windows resolves imports at load time.
    unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())
}
