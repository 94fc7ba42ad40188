//! The core's locks in debug builds: each counts the locks its thread holds, so that every
//! wake-up the runtime makes can assert that it holds none.
//!
//! Waking a task while holding the lock it is about to take makes the woken task run, find the
//! lock taken, spin and sleep again: a ring of processes measured 15 times slower that way.
//! Release builds use `parking_lot`'s lock as it is; debug builds (every test) check the rule
//! on every wake-up, so a regression fails the first test that exercises it.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// `parking_lot`'s mutex, counting its guards per thread.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);

/// A guard of [`Mutex`]; the count drops with it.
pub(crate) struct MutexGuard<'a, T>(parking_lot::MutexGuard<'a, T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(parking_lot::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        let guard = self.0.lock();
        HELD.with(|h| h.set(h.get() + 1));
        MutexGuard(guard)
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get() - 1));
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// How many of the core's locks this thread holds.
pub(crate) fn held() -> usize {
    HELD.with(Cell::get)
}
