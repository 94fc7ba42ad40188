//! Seeds for the randomised tests: from the environment when given, fixed otherwise, so that
//! CI runs the same cases every time and a failure can be replayed.

use std::sync::Once;

/// The seed proptest runs with: `PROPTEST_RNG_SEED` if set, else a fixed one.
///
/// Printed once; cargo shows a test's output only when the test fails, so the seed appears
/// exactly when it is needed. (proptest also records a failing case in the test's
/// `.proptest-regressions` file, which replays it on every later run.)
pub fn proptest_seed() -> u64 {
    static PRINTED: Once = Once::new();
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0f0f_2026);
    PRINTED.call_once(|| println!("proptest seed {seed}: rerun with PROPTEST_RNG_SEED={seed}"));
    seed
}
