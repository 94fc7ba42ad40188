//! Declaration validation on arbitrary declaration bytes inside a library's address space:
//! every pointer is checked against the library's segments before it is followed, so any
//! bytes give a typed refusal or a declaration, never a wild read.
//!
//! Half the inputs are raw bytes; the other half build a declaration that is valid except for
//! what the input chooses (string and fingerprint pointers and lengths, entry points, flags),
//! so the fuzzer reaches every check, not only the magic number.
#![no_main]

use ferrotp_abi::{layout, Fingerprint, CONTRACT_VERSION, MAGIC};
use ferrotp_loader::fuzzing::{read_declaration, CODE_AT, DATA_AT};
use libfuzzer_sys::fuzz_target;

const WORD: usize = std::mem::size_of::<usize>();

fn put(data: &mut [u8], at: usize, value: u64) {
    data[at..at + WORD].copy_from_slice(&(value as usize).to_ne_bytes());
}

/// A declaration followed by its strings and fingerprint, with the input's choices applied.
fn nearly_valid(choices: &[u8]) -> Vec<u8> {
    let host = Fingerprint::current(true);
    // SAFETY: the host's own fingerprint is made of 'static strings.
    let (rustc, target) = unsafe { (host.rustc.as_str(), host.target.as_str()) };
    let strings: [(usize, &[u8]); 4] = [
        (layout::NAME, b"counter"),
        (layout::VSN, b"1"),
        (layout::RUSTC, rustc.as_bytes()),
        (layout::TARGET, target.as_bytes()),
    ];
    let mut data = vec![0u8; layout::SIZE];
    data[layout::MAGIC..layout::MAGIC + 8].copy_from_slice(&MAGIC);
    data[layout::CONTRACT..layout::CONTRACT + 4].copy_from_slice(&CONTRACT_VERSION.to_ne_bytes());
    data[layout::FINGERPRINT_CONTRACT..layout::FINGERPRINT_CONTRACT + 4]
        .copy_from_slice(&CONTRACT_VERSION.to_ne_bytes());
    data[layout::PANIC_UNWIND] = 1;
    for (field, s) in strings {
        let at = data.len() as u64;
        data.extend_from_slice(s);
        put(&mut data, field, DATA_AT + at);
        put(&mut data, field + layout::SLICE_LEN, s.len() as u64);
    }
    while data.len() % 8 != 0 {
        data.push(0);
    }
    let fp = data.len() as u64;
    data.extend_from_slice(&[7u8; 16]);
    put(&mut data, layout::INTERFACE, DATA_AT + fp);
    put(&mut data, layout::INTERFACE + layout::SLICE_LEN, 2);
    for i in 0..layout::ENTRY_POINTS {
        put(&mut data, layout::ENTRY + i * WORD, CODE_AT + 16 * i as u64);
    }
    // Each pair of choice bytes overwrites one word of the declaration with a value near a
    // boundary: inside, at the edge of, or far outside the data and code.
    for pair in choices.chunks_exact(3) {
        let word = (pair[0] as usize % (layout::SIZE / WORD)) * WORD;
        let base = match pair[1] % 5 {
            0 => DATA_AT,
            1 => CODE_AT,
            2 => DATA_AT + data.len() as u64,
            3 => 0,
            _ => u64::MAX - 0xff,
        };
        put(&mut data, word, base.wrapping_add(pair[2] as u64));
    }
    data
}

fuzz_target!(|input: &[u8]| {
    let data = match input.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => nearly_valid(rest),
        _ => input.to_vec(),
    };
    if let Ok((name, vsn)) = read_declaration(&data) {
        // Whatever was accepted was read from inside the data given.
        assert!(name.len() + vsn.len() <= data.len());
    }
});
