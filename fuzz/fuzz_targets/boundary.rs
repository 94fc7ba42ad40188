//! Decoding at the module boundary: messages, replies, arguments and states arrive as bytes
//! on both sides. The module's entry points decode requests, casts, arguments, exported states
//! and migrated states; the host decodes replies. Arbitrary bytes must give a decode status or
//! a typed error, never a panic across the boundary or an unbounded allocation.
#![no_main]

use std::ffi::c_void;

use ferrotp_abi::{
    codec, Bytes, Host, HostApi, HostCtx, HotModule, ModuleDecl, Out, RStr, StatePtr, Status,
};
use hot_counter_api::{Counter, CounterInterface, CounterReply, Sequence};
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};

/// A module with a state richer than the counter's: strings, vectors, maps and options all
/// cross the boundary.
#[derive(Serialize, Deserialize)]
struct Rich {
    count: u64,
    notes: Vec<String>,
    seen: std::collections::BTreeMap<u64, Option<String>>,
}

impl Counter for Rich {
    fn get(&self) -> u64 {
        self.count
    }
    fn describe(&self) -> String {
        format!("{} notes", self.notes.len())
    }
    fn version(&self) -> String {
        Self::VSN.into()
    }
    fn sequence(&self) -> Sequence {
        Sequence {
            received: 0,
            last: 0,
            out_of_order: 0,
        }
    }
    fn add(&mut self, n: u64) {
        self.count = self.count.wrapping_add(n);
    }
    fn seq(&mut self, n: u64) {
        self.seen.insert(n, None);
    }
    fn crash(&mut self) {}
    fn add_later(&mut self, _: u64, _: u64, _: &mut Host<'_, CounterInterface>) {}
    fn spawn(&mut self, _: u64, _: &mut Host<'_, CounterInterface>) {}
}

impl HotModule for Rich {
    type Interface = CounterInterface;
    const VSN: &'static str = "fuzz";
    fn init(count: u64, _: &mut Host<'_, CounterInterface>) -> Result<Self, String> {
        Ok(Rich {
            count,
            notes: Vec::new(),
            seen: Default::default(),
        })
    }
}

unsafe extern "C" fn log(_: *mut c_void, _: u32, _: RStr) {}
unsafe extern "C" fn effect(_: *mut c_void, _: u32, _: u64, _: RStr, _: Bytes<'_>) -> Status {
    Status::OK
}
static API: HostApi = HostApi { log, effect };

fn host() -> HostCtx {
    HostCtx {
        api: &API,
        cx: std::ptr::null_mut(),
    }
}

fn with_out(f: impl FnOnce(*mut Out<'_>) -> Status) -> Status {
    let mut buf = Vec::new();
    let mut out = Out::to_vec(&mut buf);
    let status = f(&mut out);
    if status != Status::OK {
        assert!(!buf.is_empty() || status == Status::ERROR, "a failure says why");
    }
    status
}

fuzz_target!(|data: &[u8]| {
    let decl = ModuleDecl::of::<Rich>(true);
    let e = decl.entry;
    let host = host();
    let bytes = Bytes::new(data);
    // SAFETY (every call below): entry points of a module built into this binary, given a
    // host context, borrowed input, state slots and outputs that live across the call, and
    // states made by this module's own `init`/`import_state`/`code_change`.
    unsafe {
        let mut fresh: StatePtr = std::ptr::null_mut();
        let args = codec::encode(&1u64).unwrap();
        assert_eq!(
            with_out(|out| (e.init)(&host, Bytes::new(&args), &mut fresh, out)),
            Status::OK
        );
        // A request, a cast and arguments made of the fuzzed bytes.
        with_out(|out| (e.handle_call)(&host, fresh, bytes, out));
        with_out(|out| (e.handle_cast)(&host, fresh, bytes, out));
        let mut other: StatePtr = std::ptr::null_mut();
        if with_out(|out| (e.init)(&host, bytes, &mut other, out)) == Status::OK {
            (e.drop_state)(other);
        }
        // A state exported by a version, and one to migrate.
        for entry in [0, 1] {
            let mut state: StatePtr = std::ptr::null_mut();
            let status = if entry == 0 {
                with_out(|out| (e.import_state)(bytes, &mut state, out))
            } else {
                with_out(|out| {
                    (e.code_change)(RStr::new("0"), bytes, Bytes::new(&[]), &mut state, out)
                })
            };
            if status == Status::OK {
                with_out(|out| (e.export_state)(state, out));
                (e.drop_state)(state);
            }
        }
        (e.drop_state)(fresh);
    }
    // The host's side: a reply from a module.
    let _ = codec::decode::<CounterReply>(data);
});
