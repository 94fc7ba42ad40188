//! Turning a panic into an exit reason.
//!
//! `catch_unwind` yields the payload but not where the panic happened, so a panic hook records
//! the location in a thread-local while a process is being polled. The hook stays silent for
//! panics inside processes: the panic becomes the process's exit reason, which is reported
//! through `tracing` (and to links and monitors) with its message and location. Panics outside
//! processes go to the previously installed hook unchanged.

use std::any::Any;
use std::cell::RefCell;
use std::sync::{Arc, Once};

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
