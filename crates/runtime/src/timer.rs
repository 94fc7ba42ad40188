//! Timers that deliver messages: `send_after`, `send_interval`, `cancel`.
//!
//! Timers run on tokio's clock, so a test on a paused clock (`start_paused = true`) drives them
//! without waiting. A timer is a small tokio task, not a process.
//!
//! A timer message that cannot be delivered is never dropped silently: a dead receiver ends the
//! timer (logged at `debug`, as Erlang cancels a dead process's timers), a full bounded mailbox
//! is logged at `warn` with the receiver's pid.
//!
//! # Examples
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! use std::time::Duration;
//! use ferrotp::{process, timer, Message};
//!
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! let addr = process::spawn(|mut ctx| async move {
//!     if let Message::User(tick) = ctx.recv().await {
//!         tx.send(tick).unwrap();
//!     }
//!     Ok(())
//! });
//! let t = timer::send_after(&addr, "tick", Duration::from_secs(30));
//! assert_eq!(rx.await.unwrap(), "tick"); // the paused clock jumps ahead
//! assert!(t.cancel().is_err()); // already fired
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::{Addr, Reference};

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// A running timer; [`cancel`](TimerRef::cancel) stops it.
#[derive(Clone)]
pub struct TimerRef {
    shared: Arc<Shared>,
}

struct Shared {
    reference: Reference,
    state: AtomicU8,
    /// When it fires next; `None` if never (a delay past the clock's range).
    next: Mutex<Option<Instant>>,
    abort: Mutex<Option<AbortHandle>>,
}

impl fmt::Debug for TimerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerRef")
            .field("reference", &self.shared.reference)
            .field("state", &self.shared.state.load(Ordering::Relaxed))
            .finish()
    }
}

/// Why a timer could not be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CancelTimerError {
    /// A one-shot timer already fired; its message was sent.
    #[error("the timer already fired; its message was sent")]
    AlreadyFired,
    /// The timer was cancelled before.
    #[error("the timer was already cancelled")]
    AlreadyCancelled,
}

impl TimerRef {
    /// Stop the timer. Returns the time that was left until it would have fired (for an
    /// interval timer, until its next tick), like Erlang's `cancel_timer/1`; `Duration::MAX`
    /// for a timer that would never have fired.
    ///
    /// # Errors
    ///
    /// [`CancelTimerError`] if the timer had already fired or been cancelled.
    pub fn cancel(&self) -> Result<Duration, CancelTimerError> {
        match self.shared.state.compare_exchange(
            PENDING,
            CANCELLED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // Taken out first: aborting wakes the timer's task, never under the lock.
                let abort = self.shared.abort.lock().take();
                if let Some(h) = abort {
                    h.abort();
                }
                ACTIVE.fetch_sub(1, Ordering::Relaxed);
                let next = *self.shared.next.lock();
                Ok(next.map_or(Duration::MAX, |n| {
                    n.saturating_duration_since(Instant::now())
                }))
            }
            Err(FIRED) => Err(CancelTimerError::AlreadyFired),
            Err(_) => Err(CancelTimerError::AlreadyCancelled),
        }
    }

    /// Whether the timer may still fire.
    pub fn is_pending(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) == PENDING
    }

    /// The timer's unique reference.
    pub fn reference(&self) -> Reference {
        self.shared.reference
    }
}

/// `Instant::now() + d`, or `None` when that lies past the clock's range: a wait that never
/// ends. Every deadline of the runtime is made here, so `Duration::MAX` means "infinity"
/// everywhere instead of an overflow panic.
pub(crate) fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// How many timers are pending in this program.
pub fn active_timers() -> usize {
    ACTIVE.load(Ordering::Relaxed)
}

/// Send `msg` to `dest` once, after `delay` (Erlang's `send_after/3`). A delay past the
/// clock's range (`Duration::MAX`) is a timer that never fires, until cancelled.
///
/// # Panics
///
/// Outside a tokio runtime.
pub fn send_after<M: Send + 'static>(dest: &Addr<M>, msg: M, delay: Duration) -> TimerRef {
    let Some(deadline) = deadline_after(delay) else {
        return new_timer(None);
    };
    let timer = new_timer(Some(deadline));
    let shared = timer.shared.clone();
    let dest = dest.clone();
    let handle = tokio::spawn(async move {
        tokio::time::sleep_until(deadline).await;
        if shared
            .state
            .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
            deliver(&dest, msg);
        }
    });
    timer.set_abort(handle.abort_handle());
    timer
}

/// Send a clone of `msg` to `dest` every `period`, starting one period from now, until
/// cancelled or until `dest` exits (Erlang's `send_interval/3`). A period past the clock's
/// range (`Duration::MAX`) never ticks.
///
/// # Panics
///
/// Outside a tokio runtime, or if `period` is zero.
pub fn send_interval<M: Clone + Send + 'static>(
    dest: &Addr<M>,
    msg: M,
    period: Duration,
) -> TimerRef {
    interval_with(dest, move || msg.clone(), period)
}

/// `send_interval` with each tick's message made by `make`.
pub(crate) fn interval_with<M: Send + 'static>(
    dest: &Addr<M>,
    make: impl Fn() -> M + Send + 'static,
    period: Duration,
) -> TimerRef {
    assert!(!period.is_zero(), "send_interval needs a non-zero period");
    let Some(first) = deadline_after(period) else {
        return new_timer(None);
    };
    let timer = new_timer(Some(first));
    let shared = timer.shared.clone();
    let dest = dest.clone();
    let handle = tokio::spawn(async move {
        let mut next = first;
        loop {
            tokio::time::sleep_until(next).await;
            if shared.state.load(Ordering::Acquire) != PENDING {
                return;
            }
            let Some(after) = next.checked_add(period) else {
                // The next tick lies past the clock's range: this one was the last.
                *shared.next.lock() = None;
                deliver(&dest, make());
                return;
            };
            next = after;
            *shared.next.lock() = Some(next);
            if !deliver(&dest, make()) {
                if shared
                    .state
                    .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    ACTIVE.fetch_sub(1, Ordering::Relaxed);
                }
                return;
            }
        }
    });
    timer.set_abort(handle.abort_handle());
    timer
}

fn new_timer(first: Option<Instant>) -> TimerRef {
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    TimerRef {
        shared: Arc::new(Shared {
            reference: Reference::new(),
            state: AtomicU8::new(PENDING),
            next: Mutex::new(first),
            abort: Mutex::new(None),
        }),
    }
}

impl TimerRef {
    fn set_abort(&self, handle: AbortHandle) {
        *self.shared.abort.lock() = Some(handle);
        // Cancelled between spawn and here: the task must not outlive the cancel.
        if self.shared.state.load(Ordering::Acquire) == CANCELLED {
            let abort = self.shared.abort.lock().take();
            if let Some(h) = abort {
                h.abort();
            }
        }
    }
}

/// `false` if the receiver is gone (the timer ends).
fn deliver<M: Send + 'static>(dest: &Addr<M>, msg: M) -> bool {
    match dest.send(msg) {
        Ok(()) => true,
        Err(e) if e.is_full() => {
            tracing::warn!(pid = ?e.pid(), "timer message not delivered: {e}");
            true
        }
        Err(e) => {
            tracing::debug!(pid = ?e.pid(), "timer receiver exited; timer ends");
            false
        }
    }
}
