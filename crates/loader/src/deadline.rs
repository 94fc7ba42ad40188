//! Module code with a deadline.
//!
//! Rust cannot stop a running function, so module code that may never return — a library's
//! initialisers and self-check, `export_state`, `code_change`, a state's destructor during an
//! upgrade — runs on a thread of its own. The caller waits for it at most its deadline and then
//! goes on without it; the thread is detached, so an abandoned one never keeps the program from
//! exiting. The wait is a blocking task of the runtime: on tokio's paused clock (tests) it
//! keeps virtual time from jumping past a deadline while real work is still running. The wait
//! watches a flag its future sets when dropped (its task cancelled, the runtime shutting
//! down), so it ends within [`SLICE`] of that and never holds up `Runtime::drop`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often a blocking wait looks whether it was cancelled.
pub(crate) const SLICE: Duration = Duration::from_millis(10);

/// Set when dropped: tells a blocking wait that nobody waits for it any more.
#[derive(Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// The flag the blocking side watches.
    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Receive on `rx` within `timeout` (one past the clock's range is no deadline), unless
/// `cancelled` is set first. Blocking: for a blocking task.
pub(crate) fn recv_within<T>(
    rx: &mpsc::Receiver<T>,
    timeout: Duration,
    cancelled: &AtomicBool,
) -> Result<T, Abandoned> {
    let deadline = Instant::now().checked_add(timeout);
    loop {
        if cancelled.load(Ordering::Acquire) {
            return Err(Abandoned::Cancelled);
        }
        let slice = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
            None => SLICE,
        };
        match rx.recv_timeout(slice) {
            Ok(value) => return Ok(value),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(Abandoned::Vanished),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Abandoned::TimedOut);
                }
            }
        }
    }
}

/// Why module code gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// It did not return in time; its thread is left to finish (or not) on its own.
    TimedOut,
    /// The thread ended without a result (a panic in the host's code around the call).
    Vanished,
    /// Nobody waits for it any more (the runtime is shutting down).
    Cancelled,
}

/// Run `f` on a detached thread named `ferrotp-<what>` and wait for its result at most
/// `timeout`.
pub(crate) async fn run<T, F>(what: &str, timeout: Duration, f: F) -> Result<T, Abandoned>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("ferrotp-{what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|_| Abandoned::Vanished)?;
    wait(rx, timeout).await
}

/// Wait, on a blocking task, for a result sent on `rx`.
pub(crate) async fn wait<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
    timeout: Duration,
) -> Result<T, Abandoned> {
    let cancel = Cancel::default();
    let flag = cancel.flag();
    let waited = tokio::task::spawn_blocking(move || {
        let got = recv_within(&rx, timeout, &flag);
        if flag.load(Ordering::Acquire) {
            // Nobody takes the result: its destructors (module code) must not run here.
            if let Ok(value) = got {
                drop_detached(value);
            }
            return Err(Abandoned::Cancelled);
        }
        got
    })
    .await;
    drop(cancel);
    waited.unwrap_or(Err(Abandoned::Cancelled))
}

/// Drop `value` on a detached thread: for module states whose destructors must not hold up
/// the process or the upgrade that let them go.
pub(crate) fn drop_detached<T: Send + 'static>(value: T) {
    // If no thread can be had, the closure is dropped unrun: `ManuallyDrop` then leaks the
    // states rather than running foreign destructors here.
    let value = std::mem::ManuallyDrop::new(value);
    let spawned = std::thread::Builder::new()
        .name("ferrotp-drop-states".into())
        .spawn(move || drop(std::mem::ManuallyDrop::into_inner(value)));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start a thread to drop old module states; they are leaked");
    }
}
