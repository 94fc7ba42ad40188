//! loom models of the concurrent core: the runtime's real code for sends, exits, links,
//! monitors and call replies, run under loom's scheduler, which explores every interleaving of
//! the model's threads (up to two preemptions each) and fails on the first one that breaks an
//! assertion.
//!
//! Run them with `RUSTFLAGS="--cfg loom" cargo test -p ferrotp-runtime --release --lib models`
//! (`.ci/run` does, in its own target directory). What loom sees is what `crate::sync` swaps in:
//! each process's core lock, its mailbox lock, its kill flag and the call reply channel. The
//! process table and the name registry keep their normal implementations; their operations are
//! single lock-protected steps that a model treats as atomic.
//!
//! A process here is its cell, entered in the process table, without a tokio task: a model
//! thread plays its body and calls the same exit procedure the task would.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::message::Message;
use crate::process::cell::ProcessCell;
use crate::process::runner::{exit_process, Cause};
use crate::process::table;
use crate::{ExitReason, Pid};

mod links;
mod monitors;
mod reply;
mod send;

/// Check `f` under every interleaving with at most two preemptions per execution
/// (`LOOM_MAX_PREEMPTIONS` raises the bound for a longer run).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let explored = Arc::new(AtomicUsize::new(0));
    let counter = explored.clone();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    // Shown with `--nocapture`: the figure docs/fault-tests.md quotes.
    println!(
        "{}: {} interleavings",
        std::thread::current().name().unwrap_or("model"),
        explored.load(Ordering::Relaxed)
    );
}

/// A process as the core sees it: its cell, in the process table.
fn process<M: Send + 'static>(trap_exit: bool) -> Arc<ProcessCell<M>> {
    let pid = Pid::new_local();
    let cell = Arc::new(ProcessCell::new(pid, None, trap_exit));
    table::insert(pid, cell.clone());
    cell
}

/// The process's exit procedure, as its task runs it after the body returned.
fn exit<M: Send + 'static>(cell: &Arc<ProcessCell<M>>, reason: ExitReason) {
    exit_process(cell, pin!(None::<()>), reason, Cause::Returned);
}

/// Run `cell`'s exit procedure on a new model thread: the race partner of every model.
fn exit_on_thread<M: Send + 'static>(
    cell: &Arc<ProcessCell<M>>,
    reason: ExitReason,
) -> loom::thread::JoinHandle<()> {
    let cell = cell.clone();
    loom::thread::spawn(move || exit(&cell, reason))
}

/// Receive everything queued, as the process's `recv` would.
fn drain<M: Send + 'static>(cell: &ProcessCell<M>) -> Vec<Message<M>> {
    let mut mailbox = cell.mailbox.lock();
    std::iter::from_fn(|| mailbox.pop()).collect()
}
