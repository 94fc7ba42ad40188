//! loom's mutex with `parking_lot`'s interface (no poisoning), so the core's code is the same
//! in both builds.

pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        // A panic while the lock is held fails the model anyway; poisoning adds nothing.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
