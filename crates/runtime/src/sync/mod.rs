//! The synchronisation primitives the concurrent core is built on: each process's core lock,
//! its mailbox lock, its kill flag and the reply channel of a call.
//!
//! They live behind this one module so that the loom models (`src/models/`, built with
//! `--cfg loom`) can run the core's real code with loom's instrumented primitives in their
//! place, and explore every interleaving of a send racing an exit, a link racing an exit, a
//! demonitor racing a `Down`, and a reply racing its call's timeout. In a normal build they are
//! `parking_lot`'s mutex, std's atomics and tokio's `oneshot`.

#[cfg(all(not(loom), not(debug_assertions)))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(all(not(loom), debug_assertions))]
mod tracked;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicBool;
#[cfg(not(loom))]
pub(crate) use tokio::sync::oneshot;
#[cfg(all(not(loom), debug_assertions))]
pub(crate) use tracked::{Mutex, MutexGuard};

#[cfg(loom)]
mod loom_mutex;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicBool;
#[cfg(loom)]
pub(crate) use loom_mutex::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) mod oneshot;

/// Wake `waker`, which must not happen while this thread holds one of the core's locks (the
/// woken task would spin on it); debug builds assert it.
#[inline]
pub(crate) fn wake(waker: std::task::Waker) {
    #[cfg(all(not(loom), debug_assertions))]
    assert_eq!(
        tracked::held(),
        0,
        "a waker was woken while a core lock was held"
    );
    waker.wake();
}

/// [`wake`] by reference.
#[inline]
pub(crate) fn wake_by_ref(waker: &std::task::Waker) {
    #[cfg(all(not(loom), debug_assertions))]
    assert_eq!(
        tracked::held(),
        0,
        "a waker was woken while a core lock was held"
    );
    waker.wake_by_ref();
}
