//! Reading a library image before the dynamic loader sees it.
//!
//! [`inspect`] is pure: it parses the bytes the trust policy admitted, and nothing is mapped
//! or run. It refuses what `dlopen` would choke on or crash with — not an object file, a file
//! cut short, an object of another kind or for another machine — and finds what the loader
//! needs afterwards: the library's loadable segments (where its code and data will lie once
//! mapped) and the declaration symbol. A fuzz target runs it on arbitrary bytes.

use std::path::Path;

use ferrotp_abi::{layout, DECL_SYMBOL};
use object::{Architecture, Object, ObjectKind, ObjectSegment, ObjectSymbol, SegmentFlags};

use crate::error::LoadError;

/// One loadable segment, at its address relative to where the library is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) read: bool,
    pub(crate) exec: bool,
    /// Where its bytes start in the file, and how many come from the file.
    pub(crate) file_offset: u64,
    pub(crate) file_size: u64,
}

/// What the loader learned from an image.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub(crate) segments: Vec<Segment>,
    /// The declaration's address relative to the mapping.
    pub(crate) decl: u64,
}

impl Image {
    /// The segment holding the start of the file (the object's header), which the loader
    /// compares once mapped to learn that it looks at this very image.
    pub(crate) fn header_segment(&self) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| s.read && s.file_offset == 0 && s.file_size > 0)
    }
}

/// The host's machine as `object` names it; `None` where this loader does not know it (the
/// declaration's target triple is still compared).
fn host_architecture() -> Option<Architecture> {
    Some(match std::env::consts::ARCH {
        "x86_64" => Architecture::X86_64,
        "x86" => Architecture::I386,
        "aarch64" => Architecture::Aarch64,
        "arm" => Architecture::Arm,
        "riscv64" => Architecture::Riscv64,
        "powerpc64" => Architecture::PowerPc64,
        "s390x" => Architecture::S390x,
        "loongarch64" => Architecture::LoongArch64,
        _ => return None,
    })
}

fn flags(flags: SegmentFlags) -> (bool, bool) {
    match flags {
        // PF_R = 4, PF_X = 1.
        SegmentFlags::Elf { p_flags } => (p_flags & 4 != 0, p_flags & 1 != 0),
        // VM_PROT_READ = 1, VM_PROT_EXECUTE = 4.
        SegmentFlags::MachO { initprot, .. } => (initprot & 1 != 0, initprot & 4 != 0),
        // IMAGE_SCN_MEM_READ, IMAGE_SCN_MEM_EXECUTE.
        SegmentFlags::Coff { characteristics } => (
            characteristics & 0x4000_0000 != 0,
            characteristics & 0x2000_0000 != 0,
        ),
        _ => (false, false),
    }
}

/// Check that `image` is a whole dynamic library for this machine exporting a declaration, and
/// describe it.
pub(crate) fn inspect(path: &Path, image: &[u8]) -> Result<Image, LoadError> {
    let looks_native = image.starts_with(b"\x7fELF")
        || image.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || image.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
        || image.starts_with(b"MZ");
    let truncated = |detail: String| LoadError::Truncated {
        path: path.to_path_buf(),
        detail,
    };
    let not_a_library = |detail: String| LoadError::NotALibrary {
        path: path.to_path_buf(),
        detail,
    };
    let file = match object::File::parse(image) {
        Ok(f) => f,
        Err(e) if looks_native => return Err(truncated(e.to_string())),
        Err(e) => return Err(not_a_library(e.to_string())),
    };
    if let Some(host) = host_architecture() {
        let found = file.architecture();
        let host_64 = cfg!(target_pointer_width = "64");
        if found != host || file.is_64() != host_64 || !native_endian(file.endianness()) {
            return Err(LoadError::TargetMismatch {
                path: path.to_path_buf(),
                found: format!(
                    "{found:?} ({}-bit, {:?})",
                    if file.is_64() { 64 } else { 32 },
                    file.endianness()
                ),
                expected: format!("{host:?} ({}-bit)", if host_64 { 64 } else { 32 }),
            });
        }
    }
    let mut segments = Vec::new();
    for segment in file.segments() {
        // A segment whose bytes lie past the end of the file: `dlopen` would map pages that
        // do not exist and the first touch would kill the host with `SIGBUS`.
        if let Err(e) = segment.data() {
            return Err(truncated(e.to_string()));
        }
        let (read, exec) = flags(segment.flags());
        let (file_offset, file_size) = segment.file_range();
        let start = segment.address();
        let end = start
            .checked_add(segment.size())
            .ok_or_else(|| not_a_library("a segment past the end of the address space".into()))?;
        segments.push(Segment {
            start,
            end,
            read,
            exec,
            file_offset,
            file_size,
        });
    }
    if file.kind() != ObjectKind::Dynamic {
        return Err(not_a_library(format!(
            "a {:?} object, not a dynamic library",
            file.kind()
        )));
    }
    let decl = file
        .dynamic_symbols()
        .chain(file.symbols())
        .find(|s| {
            s.is_definition()
                && s.name()
                    .is_ok_and(|n| n.trim_start_matches('_') == DECL_SYMBOL)
        })
        .ok_or_else(|| LoadError::MissingSymbol {
            path: path.to_path_buf(),
        })?;
    match decl.kind() {
        object::SymbolKind::Data => {}
        // Contract 1 exported a function returning the declaration; this contract exports
        // the declaration itself, so the loader never calls into a module to find it.
        object::SymbolKind::Text => {
            return Err(LoadError::ContractMismatch {
                path: path.to_path_buf(),
                found: 1,
                expected: ferrotp_abi::CONTRACT_VERSION,
            })
        }
        // Thread-local or otherwise indirect: `dlsym` would not return its place in the image.
        other => {
            return Err(LoadError::BadDeclaration {
                path: path.to_path_buf(),
                detail: format!("`{DECL_SYMBOL}` is a {other:?} symbol, not plain data"),
            })
        }
    }
    if decl.size() != 0 && decl.size() < layout::SIZE as u64 {
        return Err(LoadError::BadDeclaration {
            path: path.to_path_buf(),
            detail: format!(
                "`{DECL_SYMBOL}` is {} bytes, a declaration is {}",
                decl.size(),
                layout::SIZE
            ),
        });
    }
    Ok(Image {
        segments,
        decl: decl.address(),
    })
}

fn native_endian(e: object::Endianness) -> bool {
    matches!(
        (e, cfg!(target_endian = "little")),
        (object::Endianness::Little, true) | (object::Endianness::Big, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_a_library_and_a_cut_header_is_truncated() {
        assert!(matches!(
            inspect(Path::new("x"), b"hello"),
            Err(LoadError::NotALibrary { .. })
        ));
        assert!(matches!(
            inspect(Path::new("x"), b"\x7fELF\x02\x01\x01"),
            Err(LoadError::Truncated { .. })
        ));
    }
}
