//! Turning a panic into an exit reason.
//!
//! `catch_unwind` yields the payload but not where the panic happened, so a panic hook records
//! the location in a thread-local while a process is being polled. The hook stays silent for
//! panics inside processes: the panic becomes the process's exit reason, which is reported
//! through `tracing` (and to links and monitors) with its message and location. Panics outside
//! processes go to the previously installed hook unchanged.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::ExitReason;

thread_local! {
    static LOCATION: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if super::current::current().is_some() {
                let loc = info.location().map(|l| Arc::from(l.to_string()));
                LOCATION.with(|slot| *slot.borrow_mut() = loc);
            } else {
                previous(info);
            }
        }));
    });
}

pub(crate) fn reason_from_payload(payload: Box<dyn Any + Send>) -> ExitReason {
    let message: Arc<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
        Arc::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        Arc::from(s.as_str())
    } else {
        Arc::from("Box<dyn Any>")
    };
    let location = LOCATION.with(|slot| slot.borrow_mut().take());
    ExitReason::Panic { message, location }
}

/// Poll `fut` inside `catch_unwind`: the one place user code is polled. A panic becomes
/// `Err(ExitReason::Panic { .. })`; the future must not be polled again after that.
#[inline]
pub(crate) fn poll_guarded<F: Future>(
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, ExitReason>> {
    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
        Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(payload) => Poll::Ready(Err(reason_from_payload(payload))),
    }
}

/// Run synchronous user code with the same guard.
pub(crate) fn call_guarded<T>(f: impl FnOnce() -> T) -> Result<T, ExitReason> {
    catch_unwind(AssertUnwindSafe(f)).map_err(reason_from_payload)
}

pin_project! {
    /// A future whose panics become `Err(ExitReason::Panic)`: used where a behaviour (such as
    /// a GenServer running `terminate` after a crashed callback) must outlive a panic of the
    /// code it calls.
    pub(crate) struct Guarded<F> {
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, ExitReason>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_guarded(self.project().fut, cx)
    }
}

pub(crate) fn guarded<F: Future>(fut: F) -> Guarded<F> {
    Guarded { fut }
}
