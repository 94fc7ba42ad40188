//! Reading a module's declaration without trusting it.
//!
//! The declaration is the module's own data: a hostile or broken library can put anything
//! there. So the loader never treats it as a `&ModuleDecl`. It reads the declaration as bytes
//! through a [`Memory`] that knows the library's loadable segments, field by field at the
//! offsets of [`ferrotp_abi::layout`], and follows a pointer only after checking that what it
//! points at lies inside a readable segment (strings, the interface fingerprint) or an
//! executable one (entry points). Strings must be UTF-8. A malformed declaration is a typed
//! [`LoadError`], never a wild read. A fuzz target runs [`read`] on arbitrary declaration
//! bytes.

use std::path::Path;

use ferrotp_abi::{layout, EntryPoints, CONTRACT_VERSION, MAGIC};

use crate::error::LoadError;
use crate::image::Segment;

/// An address space the declaration is read from: the mapped library, or (in tests and
/// fuzzing) a synthetic one.
pub(crate) trait Memory {
    /// `len` bytes at `addr`, if all of them lie in one readable segment.
    fn read(&self, addr: u64, len: usize) -> Option<&[u8]>;
    /// Whether `addr` lies in an executable segment.
    fn is_code(&self, addr: u64) -> bool;
}

/// The longest name, version or compiler string a declaration may carry.
const MAX_STRING: usize = 4096;
/// The most methods an interface fingerprint may list.
const MAX_FINGERPRINT: usize = 65_536;

/// A declaration, read and checked: everything the loader keeps of it.
pub(crate) struct Declaration {
    pub(crate) name: String,
    pub(crate) vsn: String,
    pub(crate) interface: Vec<u64>,
    pub(crate) entry: EntryPoints,
}

impl std::fmt::Debug for Declaration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Declaration")
            .field("name", &self.name)
            .field("vsn", &self.vsn)
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

const WORD: usize = std::mem::size_of::<usize>();

fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; WORD];
    w.copy_from_slice(&bytes[at..at + WORD]);
    usize::from_ne_bytes(w) as u64
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Read the declaration at `addr` in `memory` and check it against this host.
pub(crate) fn read(memory: &dyn Memory, addr: u64, path: &Path) -> Result<Declaration, LoadError> {
    let bad = |detail: String| LoadError::BadDeclaration {
        path: path.to_path_buf(),
        detail,
    };
    if addr % layout::ALIGN as u64 != 0 {
        return Err(bad(format!("it lies at {addr:#x}, which is not aligned")));
    }
    let decl = memory.read(addr, layout::SIZE).ok_or_else(|| {
        bad(format!(
            "{} bytes at {addr:#x} are not all readable data of the library",
            layout::SIZE
        ))
    })?;
    if decl[layout::MAGIC..layout::MAGIC + 8] != MAGIC {
        return Err(LoadError::BadMagic {
            path: path.to_path_buf(),
        });
    }
    let contract = u32_at(decl, layout::CONTRACT);
    if contract != CONTRACT_VERSION {
        return Err(LoadError::ContractMismatch {
            path: path.to_path_buf(),
            found: contract,
            expected: CONTRACT_VERSION,
        });
    }
    let string = |field: &str, at: usize| -> Result<String, LoadError> {
        let (ptr, len) = (word(decl, at), word(decl, at + layout::SLICE_LEN));
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= MAX_STRING)
            .ok_or_else(|| bad(format!("its {field} is {len} bytes long")))?;
        if len == 0 {
            return Ok(String::new());
        }
        let bytes = memory.read(ptr, len).ok_or_else(|| {
            bad(format!(
                "its {field} points outside the library's data ({ptr:#x})"
            ))
        })?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| bad(format!("its {field} is not UTF-8")))
    };
    let rustc = string("compiler", layout::RUSTC)?;
    let target = string("target", layout::TARGET)?;
    let host = ferrotp_abi::Fingerprint::current(cfg!(panic = "unwind"));
    // SAFETY: the host's own fingerprint is made of `'static` strings of this binary.
    let (our_rustc, our_target) = unsafe { (host.rustc.as_str(), host.target.as_str()) };
    if rustc != our_rustc {
        return Err(LoadError::CompilerMismatch {
            path: path.to_path_buf(),
            found: rustc,
            expected: our_rustc.into(),
        });
    }
    if target != our_target {
        return Err(LoadError::TargetMismatch {
            path: path.to_path_buf(),
            found: target,
            expected: our_target.into(),
        });
    }
    let fingerprint_contract = u32_at(decl, layout::FINGERPRINT_CONTRACT);
    if fingerprint_contract != CONTRACT_VERSION {
        return Err(LoadError::ContractMismatch {
            path: path.to_path_buf(),
            found: fingerprint_contract,
            expected: CONTRACT_VERSION,
        });
    }
    if decl[layout::PANIC_UNWIND] != 1 {
        return Err(LoadError::PanicAbort {
            path: path.to_path_buf(),
        });
    }
    let name = string("name", layout::NAME)?;
    if name.is_empty() {
        return Err(bad("its module name is empty".into()));
    }
    let vsn = string("version", layout::VSN)?;
    let interface = {
        let (ptr, len) = (
            word(decl, layout::INTERFACE),
            word(decl, layout::INTERFACE + layout::SLICE_LEN),
        );
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| (1..=MAX_FINGERPRINT).contains(&l))
            .ok_or_else(|| bad(format!("its interface fingerprint has {len} entries")))?;
        if ptr % 8 != 0 {
            return Err(bad("its interface fingerprint is not aligned".into()));
        }
        let bytes = memory.read(ptr, len * 8).ok_or_else(|| {
            bad(format!(
                "its interface fingerprint points outside the library's data ({ptr:#x})"
            ))
        })?;
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
            .collect()
    };
    let mut addresses = [std::num::NonZeroUsize::MIN; layout::ENTRY_POINTS];
    for (i, slot) in addresses.iter_mut().enumerate() {
        let addr = word(decl, layout::ENTRY + i * WORD);
        let code = usize::try_from(addr)
            .ok()
            .and_then(std::num::NonZeroUsize::new)
            .filter(|_| memory.is_code(addr))
            .ok_or_else(|| {
                bad(format!(
                    "entry point {i} ({addr:#x}) is not in the library's code"
                ))
            })?;
        *slot = code;
    }
    // SAFETY: every address lies in an executable segment of the library (checked above), in
    // the slot the contract gives its function, and the contract version matched: these are
    // the module's entry points. Running them is what loading a module means (see the trust
    // model in docs/hot-upgrades.md).
    let entry = unsafe { EntryPoints::from_addresses(addresses) };
    Ok(Declaration {
        name,
        vsn,
        interface,
        entry,
    })
}

/// The library as it is mapped in this process: its segments at `base`.
pub(crate) struct Mapped<'a> {
    pub(crate) base: u64,
    pub(crate) segments: &'a [Segment],
}

impl Mapped<'_> {
    fn segment(&self, addr: u64, len: u64) -> Option<&Segment> {
        let rel = addr.checked_sub(self.base)?;
        let end = rel.checked_add(len)?;
        self.segments
            .iter()
            .find(|s| s.start <= rel && end <= s.end)
    }
}

impl Memory for Mapped<'_> {
    fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let segment = self.segment(addr, len as u64)?;
        if !segment.read {
            return None;
        }
        let ptr = usize::try_from(addr).ok()? as *const u8;
        // SAFETY: [addr, addr + len) lies inside a readable loadable segment of a library
        // that is mapped for the rest of the program (libraries are never unloaded), so the
        // bytes are valid for reads for `'self` and beyond. What is read (the declaration, the
        // header, strings) is never written after the library's relocations were applied.
        Some(unsafe { std::slice::from_raw_parts(ptr, len) })
    }

    fn is_code(&self, addr: u64) -> bool {
        self.segment(addr, 1).is_some_and(|s| s.exec)
    }
}

/// A synthetic address space over plain bytes, for tests and fuzzing: each region is
/// `(address, bytes, executable)`.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) struct Synthetic {
    regions: Vec<(u64, Vec<u8>, bool)>,
}

#[cfg(any(test, feature = "fuzzing"))]
impl Synthetic {
    /// An address space with these regions.
    pub(crate) fn new(regions: Vec<(u64, Vec<u8>, bool)>) -> Self {
        Synthetic { regions }
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl Memory for Synthetic {
    fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.regions.iter().find_map(|(start, bytes, exec)| {
            let from = usize::try_from(addr.checked_sub(*start)?).ok()?;
            let to = from.checked_add(len)?;
            (!exec).then_some(())?;
            bytes.get(from..to)
        })
    }

    fn is_code(&self, addr: u64) -> bool {
        self.regions.iter().any(|(start, bytes, exec)| {
            *exec && addr >= *start && addr - *start < bytes.len() as u64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotp_abi::ModuleDecl;

    /// A declaration like the host's own, from a throwaway module built into this test.
    fn host_like() -> ModuleDecl {
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

    /// The declaration's bytes and the memory they live in: this process's own, where every
    /// pointer of `host_like()` is valid. Code is anywhere outside the data regions here.
    struct Live;

    impl Memory for Live {
        fn read(&self, addr: u64, len: usize) -> Option<&[u8]> {
            // SAFETY: only called on the test's own declaration and the 'static strings and
            // slices it points to.
            Some(unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) })
        }
        fn is_code(&self, addr: u64) -> bool {
            addr != 0
        }
    }

    fn read_decl(decl: &ModuleDecl) -> Result<Declaration, LoadError> {
        read(
            &Live,
            decl as *const ModuleDecl as usize as u64,
            Path::new("m.so"),
        )
    }

    #[test]
    fn the_hosts_own_build_is_accepted() {
        let d = read_decl(&host_like()).unwrap();
        assert_eq!((d.name.as_str(), d.vsn.as_str()), ("m", "1"));
        assert_eq!(d.interface.len(), 2, "the module hash plus one per method");
    }

    #[test]
    fn another_magic_is_refused() {
        let mut d = host_like();
        d.magic = *b"NOTOURS\0";
        assert!(matches!(read_decl(&d), Err(LoadError::BadMagic { .. })));
    }

    #[test]
    fn another_contract_version_is_refused() {
        let mut d = host_like();
        d.contract = CONTRACT_VERSION + 1;
        assert!(matches!(
            read_decl(&d),
            Err(LoadError::ContractMismatch { .. })
        ));
    }

    #[test]
    fn another_compiler_is_refused() {
        let mut d = host_like();
        d.fingerprint.rustc = ferrotp_abi::RStr::new("rustc 1.0.0 [someone else's]");
        let e = read_decl(&d).unwrap_err();
        assert!(matches!(e, LoadError::CompilerMismatch { .. }));
        assert!(e
            .to_string()
            .contains("rebuild the module with the host's toolchain"));
    }

    #[test]
    fn another_target_is_refused() {
        let mut d = host_like();
        d.fingerprint.target = ferrotp_abi::RStr::new("wasm32-unknown-unknown");
        assert!(matches!(
            read_decl(&d),
            Err(LoadError::TargetMismatch { .. })
        ));
    }

    #[test]
    fn a_panic_abort_build_is_refused() {
        let mut d = host_like();
        d.fingerprint.panic_unwind = 0;
        assert!(matches!(read_decl(&d), Err(LoadError::PanicAbort { .. })));
    }

    /// The declaration's bytes, to be corrupted and read from a synthetic library.
    fn bytes_of(decl: &ModuleDecl) -> Vec<u8> {
        // SAFETY: a plain repr(C) value read as bytes; padding is whatever it is.
        unsafe { std::slice::from_raw_parts(decl as *const ModuleDecl as *const u8, layout::SIZE) }
            .to_vec()
    }

    fn put_word(bytes: &mut [u8], at: usize, value: u64) {
        bytes[at..at + WORD].copy_from_slice(&(value as usize).to_ne_bytes());
    }

    /// A library image whose data segment holds the declaration at 0x1000 followed by its
    /// strings and fingerprint, and whose code segment is at 0x10_0000.
    fn synthetic(mut decl: Vec<u8>, strings: &[(usize, &[u8])], tail: &[u8]) -> Synthetic {
        let base = 0x1000u64;
        let mut data = Vec::new();
        let strings_at = layout::SIZE;
        let mut at = strings_at;
        let mut tail_bytes = Vec::new();
        for &(field, s) in strings {
            put_word(&mut decl, field, base + at as u64);
            put_word(&mut decl, field + layout::SLICE_LEN, s.len() as u64);
            tail_bytes.extend_from_slice(s);
            at += s.len();
        }
        data.extend_from_slice(&decl);
        data.extend_from_slice(&tail_bytes);
        data.extend_from_slice(tail);
        for i in 0..layout::ENTRY_POINTS {
            let code = 0x10_0000 + 16 * i as u64;
            data[layout::ENTRY + i * WORD..layout::ENTRY + (i + 1) * WORD]
                .copy_from_slice(&(code as usize).to_ne_bytes());
        }
        Synthetic::new(vec![
            (base, data, false),
            (0x10_0000, vec![0xc3; 4096], true),
        ])
    }

    fn valid_synthetic() -> Synthetic {
        let decl = host_like();
        let host = ferrotp_abi::Fingerprint::current(true);
        // SAFETY: 'static strings of this binary.
        let (rustc, target) = unsafe { (host.rustc.as_str(), host.target.as_str()) };
        let mut bytes = bytes_of(&decl);
        let fp_at = layout::SIZE + "m1".len() + rustc.len() + target.len();
        let fp_at = fp_at + (8 - fp_at % 8) % 8;
        put_word(&mut bytes, layout::INTERFACE, 0x1000 + fp_at as u64);
        put_word(&mut bytes, layout::INTERFACE + layout::SLICE_LEN, 1);
        let mut tail = vec![0u8; fp_at - (layout::SIZE + 2 + rustc.len() + target.len())];
        tail.extend_from_slice(&7u64.to_ne_bytes());
        synthetic(
            bytes,
            &[
                (layout::NAME, b"m"),
                (layout::VSN, b"1"),
                (layout::RUSTC, rustc.as_bytes()),
                (layout::TARGET, target.as_bytes()),
            ],
            &tail,
        )
    }

    #[test]
    fn a_declaration_read_from_a_library_image_is_accepted() {
        let d = read(&valid_synthetic(), 0x1000, Path::new("m.so")).unwrap();
        assert_eq!(
            (d.name.as_str(), d.interface.as_slice()),
            ("m", &[7u64][..])
        );
    }

    fn corrupted(at: usize, value: u64) -> LoadError {
        let mut memory = valid_synthetic();
        put_word(&mut memory.regions[0].1, at, value);
        read(&memory, 0x1000, Path::new("m.so")).unwrap_err()
    }

    #[test]
    fn a_string_pointing_outside_the_library_is_refused() {
        assert!(matches!(
            corrupted(layout::NAME, 0xdead_0000),
            LoadError::BadDeclaration { .. }
        ));
        assert!(matches!(
            corrupted(layout::NAME + layout::SLICE_LEN, 1 << 40),
            LoadError::BadDeclaration { .. }
        ));
    }

    #[test]
    fn an_entry_point_outside_the_code_is_refused() {
        assert!(matches!(
            corrupted(layout::ENTRY + 3 * WORD, 0x1000),
            LoadError::BadDeclaration { .. }
        ));
        assert!(matches!(
            corrupted(layout::ENTRY, 0),
            LoadError::BadDeclaration { .. }
        ));
    }

    #[test]
    fn a_fingerprint_outside_the_library_or_empty_is_refused() {
        assert!(matches!(
            corrupted(layout::INTERFACE, 0x9_0000),
            LoadError::BadDeclaration { .. }
        ));
        assert!(matches!(
            corrupted(layout::INTERFACE + layout::SLICE_LEN, 0),
            LoadError::BadDeclaration { .. }
        ));
    }

    #[test]
    fn a_declaration_past_the_end_or_misaligned_is_refused() {
        let memory = valid_synthetic();
        assert!(matches!(
            read(&memory, 0x1008 + 4096, Path::new("m.so")),
            Err(LoadError::BadDeclaration { .. })
        ));
        assert!(matches!(
            read(&memory, 0x1001, Path::new("m.so")),
            Err(LoadError::BadDeclaration { .. })
        ));
    }
}
