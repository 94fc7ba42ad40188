//! Errors of the process layer.

use std::fmt;
use std::sync::Arc;

use crate::Pid;

/// The process does not exist (Erlang's `noproc`): it never existed on this node, or it has
/// already terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("process {pid} is not alive (noproc); it may have exited: monitor it to learn why")]
pub struct NoProcError {
    pid: Pid,
}

impl NoProcError {
    pub(crate) fn new(pid: Pid) -> Self {
        NoProcError { pid }
    }

    /// The pid that was not alive.
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

/// A message could not be queued; the message is handed back.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::Context;
/// use ferrotp::process::Builder;
///
/// // A process that never reads its bounded mailbox.
/// let addr = Builder::new()
///     .mailbox_capacity(1)
///     .spawn(|_ctx: Context<u32>| std::future::pending())
///     .unwrap();
/// addr.send(1).unwrap();
/// let err = addr.send(2).unwrap_err();
/// assert!(err.is_full());
/// assert_eq!(err.into_inner(), 2); // nothing is lost
/// # }
/// ```
pub struct SendError<M> {
    message: M,
    /// `None` for a name that no process holds.
    pid: Option<Pid>,
    kind: SendErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendErrorKind {
    NoProc,
    Full {
        capacity: usize,
    },
    WrongType {
        expected: &'static str,
        actual: &'static str,
    },
}

impl<M> SendError<M> {
    pub(crate) fn noproc(message: M, pid: Pid) -> Self {
        SendError {
            message,
            pid: Some(pid),
            kind: SendErrorKind::NoProc,
        }
    }

    pub(crate) fn full(message: M, pid: Pid, capacity: usize) -> Self {
        SendError {
            message,
            pid: Some(pid),
            kind: SendErrorKind::Full { capacity },
        }
    }

    /// The receiver has exited.
    pub fn is_noproc(&self) -> bool {
        self.kind == SendErrorKind::NoProc
    }

    /// The receiver's bounded mailbox is full.
    pub fn is_full(&self) -> bool {
        matches!(self.kind, SendErrorKind::Full { .. })
    }

    /// The name was held by a process that takes another type of message.
    pub fn is_wrong_type(&self) -> bool {
        matches!(self.kind, SendErrorKind::WrongType { .. })
    }

    /// A name that did not resolve to a process of this message type.
    pub(crate) fn from_lookup(message: M, e: LookupError) -> Self {
        match e {
            LookupError::NotRegistered(_) => SendError {
                message,
                pid: None,
                kind: SendErrorKind::NoProc,
            },
            LookupError::WrongMessageType {
                pid,
                expected,
                actual,
                ..
            } => SendError {
                message,
                pid: Some(pid),
                kind: SendErrorKind::WrongType { expected, actual },
            },
        }
    }

    /// The same error carrying `f(message)`: for wrappers that queue a message inside an
    /// envelope and hand back what the caller sent.
    pub(crate) fn map<N>(self, f: impl FnOnce(M) -> N) -> SendError<N> {
        SendError {
            message: f(self.message),
            pid: self.pid,
            kind: self.kind,
        }
    }

    /// The receiver; `None` when a name was sent to and no process holds it.
    pub fn pid(&self) -> Option<Pid> {
        self.pid
    }

    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        self.message
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("pid", &self.pid)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pid = match self.pid {
            Some(pid) => pid.to_string(),
            None => "(no process holds the name)".into(),
        };
        match self.kind {
            SendErrorKind::NoProc => write!(
                f,
                "process {pid} is not alive (noproc); the message was handed back"
            ),
            SendErrorKind::Full { capacity } => write!(
                f,
                "the mailbox of {pid} is full ({capacity} messages); the message was handed back: \
                 retry later, slow the sender down, or raise the capacity"
            ),
            SendErrorKind::WrongType { expected, actual } => write!(
                f,
                "process {pid} takes messages of type {actual}, not {expected}; the message was \
                 handed back"
            ),
        }
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Registering a name failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another live process holds the name.
    #[error("the name {name:?} is already registered to {holder}")]
    AlreadyRegistered {
        /// The name.
        name: Arc<str>,
        /// The process holding it.
        holder: Pid,
    },
    /// The process already has a name; a process has at most one (as in Erlang).
    #[error("process {pid} is already registered as {current:?}; unregister it first")]
    AlreadyNamed {
        /// The process.
        pid: Pid,
        /// Its current name.
        current: Arc<str>,
    },
    /// The process is not alive.
    #[error(transparent)]
    NoProc(#[from] NoProcError),
    /// A [`Via`](crate::registry::Via) name could not be taken for another reason than a
    /// live holder (its registry is not running, or does not have unique keys).
    #[error("cannot register under {name}: {problem}")]
    Via {
        /// The name.
        name: Arc<str>,
        /// Why, and what to do.
        problem: Arc<str>,
    },
}

/// A name did not lead to a process of the expected message type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No live process is registered under the name.
    #[error("no process is registered as {0:?} (noproc)")]
    NotRegistered(Arc<str>),
    /// The process registered under the name takes another message type.
    #[error(
        "process {pid} registered as {name:?} takes messages of type {actual}, not {expected}"
    )]
    WrongMessageType {
        /// The name.
        name: Arc<str>,
        /// The process registered under it.
        pid: Pid,
        /// The message type asked for.
        expected: &'static str,
        /// The message type the process takes.
        actual: &'static str,
    },
}

/// Spawning a process with [`Builder`](crate::process::Builder) failed; the process never ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The requested name is taken.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The process to link to or be monitored by is not alive.
    #[error("cannot link to or be monitored by {0}: {0} is not alive (noproc)")]
    NoProc(Pid),
    /// There is no tokio runtime to run the process on: spawn from inside one (a
    /// `#[tokio::main]`, a task, a process).
    #[error("no tokio runtime to spawn the process on; spawn from inside a tokio runtime")]
    NoRuntime,
    /// A spawn that sets up a monitor by the calling process was not called from a process.
    #[error("spawn_monitor needs a calling process to deliver the Down to; call it from inside a process")]
    NotInProcess,
}
