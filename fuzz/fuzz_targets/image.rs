//! The library image check on arbitrary bytes: it never panics, never reads out of bounds,
//! and never maps anything (the loader only `dlopen`s images this check accepted).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = ferrotp_loader::fuzzing::inspect_image(bytes);
});
