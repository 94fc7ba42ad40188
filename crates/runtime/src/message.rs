//! What a process finds in its mailbox.

use crate::{ExitReason, Pid, Reference};

/// One entry of a process's mailbox: a message of the process's own type `M`, or a signal the
/// runtime turned into a message.
///
/// Everything arrives in one queue, so ordering holds across kinds: an [`Exit`] or [`Down`]
/// caused by a process comes after every message that process sent before it died.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<M> {
    /// A message sent to this process's [`Addr`](crate::Addr).
    User(M),
    /// An exit signal received while trapping exits (Erlang's `{'EXIT', From, Reason}`).
    Exit(Exit),
    /// A monitored process terminated (Erlang's `{'DOWN', Ref, process, Pid, Reason}`).
    Down(Down),
}

impl<M> Message<M> {
    /// The user message, if this is one.
    pub fn into_user(self) -> Option<M> {
        match self {
            Message::User(m) => Some(m),
            _ => None,
        }
    }
}

/// An exit signal converted into a message because the receiver traps exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The process that sent the signal: the linked process that died, or the caller of
    /// [`process::exit`](crate::process::exit) ([`Pid::RUNTIME`] if that was not a process).
    pub from: Pid,
    /// The reason carried by the signal.
    pub reason: ExitReason,
}

/// A monitored process terminated, or did not exist when the monitor was set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// The reference returned by [`Context::monitor`](crate::Context::monitor).
    pub reference: Reference,
    /// The monitored process.
    pub pid: Pid,
    /// Its exit reason; [`ExitReason::NoProc`] if it was already dead.
    pub reason: ExitReason,
}

/// A signal converted to a message, before it is given the receiver's message type.
#[derive(Debug, Clone)]
pub(crate) enum SystemMessage {
    Exit(Exit),
    Down(Down),
}

impl<M> From<SystemMessage> for Message<M> {
    fn from(m: SystemMessage) -> Self {
        match m {
            SystemMessage::Exit(e) => Message::Exit(e),
            SystemMessage::Down(d) => Message::Down(d),
        }
    }
}
