//! A process's mailbox: one FIFO queue for user messages and converted signals.

use std::collections::VecDeque;

use crate::message::{Message, SystemMessage};

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Closed,
    Full { capacity: usize },
}

/// The queue and its flags, behind the cell's mailbox lock.
///
/// A `VecDeque` that starts empty costs nothing until the first message: an idle process pays
/// for no buffer, unlike a channel that preallocates a block.
pub(crate) struct Mailbox<M> {
    queue: VecDeque<Message<M>>,
    /// The process is parked in `recv` and needs a wake-up for the next message.
    pub(crate) waiting: bool,
    closed: bool,
    /// Bound on queued messages; `usize::MAX` is unbounded.
    capacity: usize,
    pub(crate) received: u64,
}

impl<M> Mailbox<M> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Mailbox {
            queue: VecDeque::new(),
            waiting: false,
            closed: false,
            capacity: capacity.unwrap_or(usize::MAX),
            received: 0,
        }
    }

    /// Queue a user message; on refusal the message is handed back with the reason.
    pub(crate) fn push_user(&mut self, msg: M) -> Result<bool, (M, Refusal)> {
        if self.closed {
            return Err((msg, Refusal::Closed));
        }
        if self.queue.len() >= self.capacity {
            return Err((
                msg,
                Refusal::Full {
                    capacity: self.capacity,
                },
            ));
        }
        self.queue.push_back(Message::User(msg));
        Ok(std::mem::take(&mut self.waiting))
    }

    /// Queue a converted signal. Signals ignore the capacity bound: an `Exit` or `Down` is the
    /// runtime's own notice and must never be lost.
    pub(crate) fn push_system(&mut self, msg: SystemMessage) -> Option<bool> {
        if self.closed {
            return None;
        }
        self.queue.push_back(msg.into());
        Some(std::mem::take(&mut self.waiting))
    }

    pub(crate) fn pop(&mut self) -> Option<Message<M>> {
        let m = self.queue.pop_front();
        if m.is_some() {
            self.received += 1;
        }
        m
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
