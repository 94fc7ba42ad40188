//! A loom-instrumented stand-in for the part of `tokio::sync::oneshot` that a call uses.
//!
//! tokio checks its own `oneshot` with loom; this stand-in has the same documented contract
//! (a send after the receiver closed fails and hands the value back; a value sent before
//! `close` is still returned by `try_recv`), so the models check *our* protocol built on it:
//! that a reply and its call's timeout never both win.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::{Arc, Mutex};

struct Slot<T> {
    value: Option<T>,
    rx_closed: bool,
    tx_dropped: bool,
    waker: Option<Waker>,
}

pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        rx_closed: false,
        tx_dropped: false,
        waker: None,
    }));
    (Sender { slot: slot.clone() }, Receiver { slot })
}

pub(crate) struct Sender<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) -> Result<(), T> {
        let mut slot = self.slot.lock().unwrap();
        if slot.rx_closed {
            return Err(value);
        }
        slot.value = Some(value);
        if let Some(w) = slot.waker.take() {
            w.wake();
        }
        Ok(())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.slot.lock().unwrap().rx_closed
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut slot = self.slot.lock().unwrap();
        slot.tx_dropped = true;
        if let Some(w) = slot.waker.take() {
            w.wake();
        }
    }
}

pub(crate) mod error {
    #[derive(Debug)]
    pub(crate) struct RecvError;

    #[derive(Debug)]
    pub(crate) enum TryRecvError {
        Empty,
        Closed,
    }
}

pub(crate) struct Receiver<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Receiver<T> {
    pub(crate) fn close(&mut self) {
        self.slot.lock().unwrap().rx_closed = true;
    }

    pub(crate) fn try_recv(&mut self) -> Result<T, error::TryRecvError> {
        let mut slot = self.slot.lock().unwrap();
        match slot.value.take() {
            Some(v) => Ok(v),
            None if slot.tx_dropped || slot.rx_closed => Err(error::TryRecvError::Closed),
            None => Err(error::TryRecvError::Empty),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.slot.lock().unwrap().rx_closed = true;
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, error::RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap();
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Ok(v));
        }
        if slot.tx_dropped {
            return Poll::Ready(Err(error::RecvError));
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
