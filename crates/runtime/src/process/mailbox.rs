//! A process's mailbox: one FIFO queue for user messages and converted signals.

use std::collections::VecDeque;
use std::task::Waker;

use crate::message::{Message, SystemMessage};

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Closed,
    Full { capacity: usize },
}

/// Whether `recv` waits for a message, and how to wake it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parked {
    No,
    /// Parked in the process's own task: woken through the task's waker, kept in its core.
    Task,
    /// Parked inside another future (`select!`, `FuturesUnordered`, another task), whose waker
    /// is kept beside: `recv` works wherever it is polled.
    Elsewhere,
}

/// Who a push must wake, once every lock is released.
#[must_use = "wake the parked receiver once no lock is held"]
pub(crate) enum Wake {
    Nobody,
    /// The process's task, through its core's waker.
    Task,
    Waker(Waker),
}

/// The queue and its flags, behind the cell's mailbox lock.
///
/// A `VecDeque` that starts empty costs nothing until the first message: an idle process pays
/// for no buffer, unlike a channel that preallocates a block.
pub(crate) struct Mailbox<M> {
    queue: VecDeque<Message<M>>,
    /// Whether `recv` is parked waiting for the next message, and who to wake.
    parked: Parked,
    /// The waker of a `recv` parked elsewhere than in its process's task.
    waker: Option<Waker>,
    closed: bool,
    /// Bound on queued messages; `u32::MAX` is unbounded (a `u32`: every idle process
    /// carries it).
    capacity: u32,
    pub(crate) received: u64,
}

impl<M> Mailbox<M> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Mailbox {
            queue: VecDeque::new(),
            parked: Parked::No,
            waker: None,
            closed: false,
            capacity: capacity.map_or(u32::MAX, |c| u32::try_from(c).unwrap_or(u32::MAX)),
            received: 0,
        }
    }

    /// Queue a user message; on refusal the message is handed back with the reason. On success,
    /// who to wake once the lock is released, if the process is parked.
    #[inline]
    pub(crate) fn push_user(&mut self, msg: M, bounded: bool) -> Result<Wake, (M, Refusal)> {
        if self.closed {
            return Err((msg, Refusal::Closed));
        }
        if bounded && self.queue.len() >= self.capacity as usize {
            return Err((
                msg,
                Refusal::Full {
                    capacity: self.capacity as usize,
                },
            ));
        }
        self.queue.push_back(Message::User(msg));
        Ok(self.wake_parked())
    }

    /// Queue a converted signal. Signals ignore the capacity bound: an `Exit` or `Down` is the
    /// runtime's own notice and must never be lost.
    pub(crate) fn push_system(&mut self, msg: SystemMessage) -> Wake {
        if self.closed {
            return Wake::Nobody;
        }
        self.queue.push_back(msg.into());
        self.wake_parked()
    }

    fn wake_parked(&mut self) -> Wake {
        match std::mem::replace(&mut self.parked, Parked::No) {
            Parked::No => Wake::Nobody,
            Parked::Task => Wake::Task,
            Parked::Elsewhere => self.waker.take().map_or(Wake::Nobody, Wake::Waker),
        }
    }

    /// Park `recv`: remember who to wake for the next message. `task` is the process task's
    /// own waker, which lives as long as the process: a `recv` polled directly by the process
    /// (the common case) is woken through it, with no waker cloned per message.
    #[inline]
    pub(crate) fn park(&mut self, waker: &Waker, task: Option<&Waker>) {
        if task.is_some_and(|t| t.will_wake(waker)) {
            self.parked = Parked::Task;
        } else {
            self.park_elsewhere(waker);
        }
    }

    /// Out of line: a process's own `recv` parks in its task, and its frame should not carry
    /// a waker clone it does not make there.
    #[inline(never)]
    fn park_elsewhere(&mut self, waker: &Waker) {
        self.parked = Parked::Elsewhere;
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }

    pub(crate) fn is_waiting(&self) -> bool {
        self.parked != Parked::No
    }

    pub(crate) fn pop(&mut self) -> Option<Message<M>> {
        let m = self.queue.pop_front();
        if m.is_some() {
            self.received += 1;
        }
        m
    }

    /// Take the first queued message `pred` selects, leaving the others in order.
    pub(crate) fn pop_where(
        &mut self,
        mut pred: impl FnMut(&Message<M>) -> bool,
    ) -> Option<Message<M>> {
        let at = self.queue.iter().position(&mut pred)?;
        self.received += 1;
        self.queue.remove(at)
    }

    /// Give back memory held by an empty or shrunken queue (a `hibernate` equivalent).
    pub(crate) fn shrink(&mut self) {
        self.queue.shrink_to_fit();
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Remove queued messages matching `pred`, keeping the order of the rest.
    pub(crate) fn remove_where(&mut self, mut pred: impl FnMut(&Message<M>) -> bool) -> usize {
        let before = self.queue.len();
        self.queue.retain(|m| !pred(m));
        before - self.queue.len()
    }

    /// Close for good; what was still queued is returned to be dropped outside the lock.
    pub(crate) fn close(&mut self) -> VecDeque<Message<M>> {
        self.closed = true;
        std::mem::take(&mut self.queue)
    }
}
