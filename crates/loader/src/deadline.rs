//! Module code with a deadline.
//!
//! Rust cannot stop a running function, so module code that may never return — a library's
//! initialisers and self-check, `export_state`, `code_change`, a state's destructor during an
//! upgrade — runs on a thread of its own. The caller waits for it at most its deadline and then
//! goes on without it; the thread is detached, so an abandoned one never keeps the program from
//! exiting. The wait is a blocking task of the runtime: on tokio's paused clock (tests) it
//! keeps virtual time from jumping past a deadline while real work is still running.

use std::sync::mpsc;
use std::time::Duration;

/// Why module code gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// It did not return in time; its thread is left to finish (or not) on its own.
    TimedOut,
    /// The thread ended without a result (a panic in the host's code around the call).
    Vanished,
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
    match tokio::task::spawn_blocking(move || rx.recv_timeout(timeout)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(mpsc::RecvTimeoutError::Timeout)) => Err(Abandoned::TimedOut),
        Ok(Err(mpsc::RecvTimeoutError::Disconnected)) | Err(_) => Err(Abandoned::Vanished),
    }
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
