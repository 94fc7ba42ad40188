//! The External Term Format decoder on arbitrary bytes: what a hostile peer node can send.
//! Any input gives a typed error or a term; a term encodes, and decodes back to itself.
#![no_main]

use ferrotp_dist::{DecodeLimits, Term};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits, so that nesting and inflation bounds are reached, not just the input's end.
    let limits = DecodeLimits::default().max_depth(64).max_inflated(1 << 16);
    let Ok(term) = Term::decode_with(data, &limits) else {
        return;
    };
    let _ = term.to_string();
    let bytes = term.encode().expect("a decoded term encodes");
    assert_eq!(Term::decode(&bytes).expect("our encoding decodes"), term);
});
