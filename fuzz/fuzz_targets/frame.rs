//! Frames and handshakes from a hostile peer node: any bytes give a typed refusal, never a
//! panic or a hang.
#![no_main]

use ferrotp_dist::fuzzing::{accept_handshake, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the surface; the rest is what the peer sent.
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        parse_frame(rest);
    } else {
        // Without the cookie no input completes the handshake.
        assert!(!accept_handshake(rest));
    }
});
