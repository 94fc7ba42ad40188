//! A panic caught inside a module costs nothing once it has been reported: its payload is
//! freed, not forgotten.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicIsize, Ordering};

use ferrotp_abi::{hot_interface, Bytes, Host, HostApi, HostCtx, HotModule, ModuleDecl, Out, RStr};
use ferrotp_abi::{StatePtr, Status};
use serde::{Deserialize, Serialize};

/// Bytes currently allocated by this test binary.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[hot_interface(module = "crashy", args = u32)]
trait Crashy {
    fn ping(&self) -> u32;
}

#[derive(Serialize, Deserialize)]
struct Module;

impl Crashy for Module {
    fn ping(&self) -> u32 {
        1
    }
}

impl HotModule for Module {
    type Interface = CrashyInterface;
    const VSN: &'static str = "1";
    fn init(n: u32, _: &mut Host<'_, CrashyInterface>) -> Result<Self, String> {
        panic!("init {n} refuses to start");
    }
}

unsafe extern "C" fn no_log(_: *mut c_void, _: u32, _: RStr) {}
unsafe extern "C" fn no_effect(_: *mut c_void, _: u32, _: u64, _: RStr, _: Bytes<'_>) -> Status {
    Status::ERROR
}

static API: HostApi = HostApi {
    log: no_log,
    effect: no_effect,
};

/// Call the module's `init`, which panics; return what it reported.
fn failed_init(decl: &ModuleDecl, args: &[u8]) -> (Status, Vec<u8>) {
    let host = HostCtx {
        api: &API,
        cx: std::ptr::null_mut(),
    };
    let mut state: StatePtr = std::ptr::null_mut();
    let mut buf = Vec::new();
    let status = {
        let mut out = Out::to_vec(&mut buf);
        // SAFETY: the entry point of a declaration built in this binary, with a host context,
        // arguments, a state slot and an output all valid for the call.
        unsafe { (decl.entry.init)(&host, Bytes::new(args), &mut state, &mut out) }
    };
    (status, buf)
}

#[test]
fn a_caught_panic_leaks_nothing() {
    let decl = ModuleDecl::of::<Module>(true);
    let args = ferrotp_abi::codec::encode(&7u32).unwrap();
    let (status, report) = failed_init(&decl, &args);
    assert_eq!(status, Status::PANIC);
    assert!(String::from_utf8_lossy(&report).contains("init 7 refuses to start"));
    // Warm up thread-locals and the panic machinery, then count.
    for _ in 0..100 {
        failed_init(&decl, &args);
    }
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..10_000 {
        failed_init(&decl, &args);
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    assert!(grown < 1024, "10,000 caught panics kept {grown} bytes");
}
