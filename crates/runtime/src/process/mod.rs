//! Lightweight, isolated processes.
//!
//! A process is a tokio task with an identity ([`Pid`]), a mailbox, a link set, a monitor set
//! and a `trap_exit` flag. Spawning one costs one task and one small allocation; there is no
//! thread per process and no global lock on the send path.
//!
//! # Isolation
//!
//! All of a process's code runs inside one `catch_unwind` boundary. A panic ends *that* process
//! with [`crate::ExitReason::Panic`] (message and location) and is passed on
//! to its links and monitors like any other exit; no other process and not the runtime are
//! affected. This needs `panic = "unwind"` (the default); with `panic = "abort"` a panic ends
//! the whole program, and ferrotp cannot change that.
//!
//! # Links, monitors and exit signals
//!
//! A process ends when its body returns (`Ok(())` is `Normal`, `Err(reason)` is `reason`; see
//! [`crate::ProcessResult`]), when it panics, or when an exit signal terminates it. A process
//! that terminates sends an exit signal carrying its reason to every process linked to it, and
//! a [`Down`](crate::Down) message to every process monitoring it.
//!
//! * **Links** are bidirectional and there is at most one between two processes; `link` twice
//!   is one link, and `unlink` from either side removes it. Once `unlink` returns, the link
//!   has no further effect on the caller (an `Exit` message may already be queued).
//! * **Monitors** are unidirectional and independent: monitoring the same process twice gives
//!   two references and two `Down`s. Monitoring a dead process gives an immediate `Down` with
//!   [`crate::ExitReason::NoProc`]. `demonitor` removes the monitor, and
//!   with `flush` also an already queued `Down`.
//! * **What an exit signal does** is the table of Erlang's reference manual, §"Receiving Exit
//!   Signals", in its order: a signal through a link that was removed is dropped;
//!   `exit(pid, Kill)` terminates the receiver with `Killed`, trapping or not; a receiver that
//!   traps exits gets any other signal as an [`Exit`](crate::Exit) message (a `Kill` that came
//!   through a link included); `Normal` is dropped, unless the receiver sent it to itself;
//!   any other reason terminates the receiver with that reason.
//! * **Ordering**: signals and messages between one pair of processes arrive in the order they
//!   were sent; a dying process's `Exit`/`Down` comes after every message it sent before.
//!
//! A terminating signal takes effect the next time the process awaits: a process is a future,
//! and a future can only be stopped between polls. Code that computes for a long time without
//! awaiting cannot be interrupted; run such work with `tokio::task::spawn_blocking` and await
//! it, so the process stays responsive to signals.
//!
//! # Example
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::Context;
//! use ferrotp::{process, ExitReason, Message};
//!
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! process::spawn(|mut ctx: Context| async move {
//!     let (worker, reference) = ctx.spawn_monitor(|mut ctx: Context<u32>| async move {
//!         if let Message::User(n) = ctx.recv().await {
//!             assert!(n < 10, "number too large: {n}");
//!         }
//!         Ok(())
//!     });
//!     worker.send(99).unwrap();
//!     if let Message::Down(down) = ctx.recv().await {
//!         assert_eq!(down.reference, reference);
//!         tx.send(down.reason).unwrap();
//!     }
//!     Ok(())
//! });
//! let reason = rx.await.unwrap();
//! assert!(reason.is_panic());
//! assert!(reason.to_string().contains("number too large: 99"));
//! # }
//! ```

mod addr;
mod builder;
pub(crate) mod cell;
mod context;
pub(crate) mod core;
mod current;
mod info;
mod join;
pub(crate) mod mailbox;
pub(crate) mod panic;
pub(crate) mod recent;
pub(crate) mod runner;
pub(crate) mod table;

use std::future::Future;

pub use addr::Addr;
pub use builder::Builder;
pub use context::{Context, Recv, RecvWhere};
pub use current::current;
pub use info::{count, process_info, processes, ProcessInfo, ProcessStatus};
pub use join::JoinHandle;

use crate::error::NoProcError;
use crate::signal::ops;
use crate::{ExitReason, Pid, ProcessResult};

/// Spawn a process running `body` on the current tokio runtime.
///
/// The body gets the process's [`Context`]; what it returns becomes the exit reason (`Ok(())`
/// is `Normal`, `Err(reason)` is `reason`). The returned [`Addr`] sends it messages of type `M`.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does; use [`Builder::spawn`] for a typed
/// [`SpawnError::NoRuntime`](crate::SpawnError::NoRuntime) instead.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{process, Message};
///
/// let adder = process::spawn(|mut ctx| async move {
///     let mut total = 0u64;
///     while let Message::User(n) = ctx.recv().await {
///         total += n;
///     }
///     Ok(())
/// });
/// adder.send(5).unwrap();
/// # }
/// ```
pub fn spawn<M, F, Fut>(body: F) -> Addr<M>
where
    M: Send + 'static,
    F: FnOnce(Context<M>) -> Fut + Send + 'static,
    Fut: Future<Output = ProcessResult> + Send + 'static,
{
    match Builder::new().spawn(body) {
        Ok(addr) => addr,
        Err(e @ crate::SpawnError::NoRuntime) => panic!("{e}"),
        Err(_) => unreachable!("spawning without name or link cannot fail"),
    }
}

/// Spawn a process linked to the calling process (Erlang's `spawn_link/1`); the link exists
/// before the child runs. Called from outside any process there is nothing to link to, and
/// this is [`spawn`].
///
/// This is what a supervisor child's start function uses: it runs in the supervisor's process.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does; use [`Builder::spawn`] for a typed
/// [`SpawnError::NoRuntime`](crate::SpawnError::NoRuntime) instead.
pub fn spawn_link<M, F, Fut>(body: F) -> Addr<M>
where
    M: Send + 'static,
    F: FnOnce(Context<M>) -> Fut + Send + 'static,
    Fut: Future<Output = ProcessResult> + Send + 'static,
{
    let builder = match current() {
        Some(parent) => Builder::new().link(parent),
        None => Builder::new(),
    };
    match builder.spawn(body) {
        Ok(addr) => addr,
        Err(e @ crate::SpawnError::NoRuntime) => panic!("{e}"),
        Err(_) => unreachable!("the calling process is running"),
    }
}

/// Spawn a process, as [`spawn`], and also get a [`JoinHandle`] that yields its exit reason:
/// the cheap way to wait for a process you started (as cheap as awaiting a tokio task; no
/// watch is registered).
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{process, ExitReason, Message};
///
/// let (worker, done) = process::spawn_joinable(|mut ctx| async move {
///     if let Message::User(n) = ctx.recv().await {
///         let _: u32 = n;
///     }
///     Err(ExitReason::error("finished"))
/// });
/// worker.send(7).unwrap();
/// assert_eq!(done.await, ExitReason::error("finished"));
/// # }
/// ```
pub fn spawn_joinable<M, F, Fut>(body: F) -> (Addr<M>, JoinHandle)
where
    M: Send + 'static,
    F: FnOnce(Context<M>) -> Fut + Send + 'static,
    Fut: Future<Output = ProcessResult> + Send + 'static,
{
    match Builder::new().spawn_joinable(body) {
        Ok(spawned) => spawned,
        Err(e @ crate::SpawnError::NoRuntime) => panic!("{e}"),
        Err(_) => unreachable!("spawning without name or link cannot fail"),
    }
}

/// A typed address for the live process `pid`, checking that it takes messages of type `M`.
///
/// # Errors
///
/// [`LookupError::NotRegistered`](crate::LookupError) (with the pid as text) if `pid` is not
/// alive; [`LookupError::WrongMessageType`](crate::LookupError) if it takes another type.
pub fn addr_of<M: Send + 'static>(pid: Pid) -> Result<Addr<M>, crate::LookupError> {
    let name = || std::sync::Arc::<str>::from(pid.to_string());
    let p = table::get(pid).ok_or_else(|| crate::LookupError::NotRegistered(name()))?;
    let actual = p.message_type();
    p.into_any()
        .downcast::<cell::ProcessCell<M>>()
        .map(Addr::from_cell)
        .map_err(|_| crate::LookupError::WrongMessageType {
            name: name(),
            pid,
            expected: std::any::type_name::<M>(),
            actual,
        })
}

/// Whether `pid` is a live process (Erlang's `is_process_alive/1`). A process that has started
/// exiting is no longer alive.
pub fn is_alive(pid: Pid) -> bool {
    table::get(pid).is_some_and(|p| p.core().is_alive())
}

/// Send an exit signal with `reason` to `target` (Erlang's `exit/2`).
///
/// The sender is the calling process, or [`Pid::RUNTIME`] when called from outside any process.
/// What the signal does is OTP's rule ([see above](self#links-monitors-and-exit-signals)): `Kill`
/// terminates the target with `Killed` even if it traps exits; `Normal` is ignored by a
/// non-trapping target; any other reason terminates a non-trapping target with that reason or
/// becomes an [`Exit`](crate::Exit) message for a trapping one.
///
/// # Errors
///
/// [`NoProcError`] if `target` is not alive.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::Context;
/// use ferrotp::{process, ExitReason};
///
/// let sleeper = process::spawn(|_: Context| std::future::pending());
/// process::exit(sleeper.pid(), ExitReason::Kill).unwrap();
/// assert_eq!(process::await_exit(sleeper.pid()).await, ExitReason::Killed);
/// # }
/// ```
pub fn exit(target: Pid, reason: ExitReason) -> Result<(), NoProcError> {
    ops::exit(current().unwrap_or(Pid::RUNTIME), target, &reason)
}

/// Wait until `pid` terminates and return its exit reason.
///
/// For code outside processes (a `main`, a test) that needs what a monitor gives a process; to
/// wait for a process you spawned, [`spawn_joinable`] is cheaper (no watch is registered).
/// The watch is set up when `await_exit` is *called*, not when the future is first polled: an
/// exit that happens in between is not missed. When it resolves, every link and monitor of the
/// process has been told: its exit signals and `Down` messages are in their mailboxes.
///
/// A process that has already exited gives its reason if it exited recently (the runtime keeps
/// the reasons of about the last 1,024 exits); `NoProc` means no reason is known: the pid never
/// named a process of this runtime, or it exited longer ago than that. (A monitor in Erlang
/// gives `noproc` for any process that is gone.)
pub fn await_exit(pid: Pid) -> AwaitExit {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let notify = Box::new(move |down: crate::Down| {
        let _ = tx.send(down.reason);
    });
    let state = match ops::watch(pid, notify) {
        Ok(_) => AwaitState::Waiting(rx),
        // Already exiting or gone: an exiting process still knows its reason, a gone one may
        // be remembered.
        Err(_) => AwaitState::Done(Some(
            table::get(pid)
                .and_then(|p| p.core().exit_reason())
                .or_else(|| recent::lookup(pid))
                .unwrap_or(ExitReason::NoProc),
        )),
    };
    AwaitExit { state }
}

/// The future returned by [`await_exit`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct AwaitExit {
    state: AwaitState,
}

#[derive(Debug)]
enum AwaitState {
    Waiting(tokio::sync::oneshot::Receiver<ExitReason>),
    Done(Option<ExitReason>),
}

impl Future for AwaitExit {
    type Output = ExitReason;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<ExitReason> {
        match &mut self.state {
            AwaitState::Waiting(rx) => std::pin::Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(ExitReason::NoProc)),
            // Ready at once: still a unit of tokio's cooperative budget, so a loop over gone
            // processes yields like any loop of awaits.
            AwaitState::Done(reason) => {
                std::task::ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                std::task::Poll::Ready(reason.take().unwrap_or(ExitReason::NoProc))
            }
        }
    }
}
