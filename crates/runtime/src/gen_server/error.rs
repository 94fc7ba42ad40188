//! Why a call, a start or a stop failed.

use std::time::Duration;

use crate::{ExitReason, Pid};

/// A call did not get a reply. In OTP each of these makes the caller exit with
/// `{Reason, {gen_server, call, ...}}`; in ferrotp the caller gets the reason as a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No reply within the timeout. The server was not affected and may still be working on
    /// the request; its late reply is dropped, never delivered to this caller.
    #[error(
        "no reply within {0:?}; the server may still be busy (its late reply will be dropped)"
    )]
    Timeout(Duration),
    /// The server is not alive, or no process is registered under the name.
    #[error("the server is not alive (noproc); is it started, and under this name?")]
    NoProc,
    /// A process called itself, which would wait forever.
    #[error("a server called itself (calling_self): a callback cannot wait for its own reply")]
    CallingSelf,
    /// The server exited before replying; this is its exit reason.
    #[error("the server exited before replying: {0}")]
    Exit(ExitReason),
    /// The server's bounded mailbox is full; the request was not queued.
    #[error("the server's mailbox is full; the request was not queued: retry later")]
    MailboxFull,
    /// The name is held by a process of another type than this client's server: the
    /// detail says which process and which types. Nothing was sent.
    #[error("{0}")]
    WrongType(crate::LookupError),
    /// The call has a timeout and is awaited outside any tokio runtime (another executor,
    /// or none): there is no clock to time it out by. The request was sent; await calls in a
    /// tokio runtime, or use `call_infinity`.
    #[error("a call with a timeout needs a tokio runtime to wait in; the request was sent but its reply cannot be awaited here")]
    NoRuntime,
}

impl CallError {
    /// A name that did not resolve: `NoProc` if nobody holds it, `WrongType` if a process
    /// of another type does.
    pub(crate) fn from_lookup(e: crate::LookupError) -> CallError {
        match e {
            crate::LookupError::NotRegistered(_) => CallError::NoProc,
            e => CallError::WrongType(e),
        }
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, CallError::Timeout(_))
    }

    /// The server's exit reason, if it died during the call.
    pub fn exit_reason(&self) -> Option<&ExitReason> {
        match self {
            CallError::Exit(r) => Some(r),
            _ => None,
        }
    }
}

/// A server did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The name is registered to another live process; `init` was never called.
    #[error("a process is already registered under this name: {0} (already_started)")]
    AlreadyStarted(Pid),
    /// `init` returned [`Init::Ignore`](super::Init::Ignore); the process exited `Normal`.
    #[error("init returned Ignore: nothing was started")]
    Ignored,
    /// `init` returned [`Init::Stop`](super::Init::Stop); the process exited with the reason.
    #[error("init stopped: {0}")]
    Stopped(ExitReason),
    /// `init` returned [`Init::Error`](super::Init::Error); the process exited `Normal`.
    #[error("init failed: {0}")]
    Error(ExitReason),
    /// The process exited during `init`: it panicked or was killed.
    #[error("the server exited during init: {0}")]
    Exited(ExitReason),
    /// `init` did not finish within the start timeout; the process was killed.
    #[error("init did not finish within {0:?}; the process was killed")]
    Timeout(Duration),
    /// There is no tokio runtime to run the server on.
    #[error("no tokio runtime to start the server on; start it from inside a tokio runtime")]
    NoRuntime,
    /// The process could not be spawned (the name was not valid for it).
    #[error("cannot register the server: {0}")]
    Register(crate::RegisterError),
}

impl StartError {
    /// The reason a start failed, as the exit reason a supervisor reports: `init`'s own
    /// reason, or this error (kept for [`ExitReason::downcast_ref`]).
    pub fn reason(&self) -> ExitReason {
        match self {
            StartError::Stopped(r) | StartError::Error(r) | StartError::Exited(r) => r.clone(),
            other => ExitReason::from(other.clone()),
        }
    }
}

/// `stop` did not end the server with the requested reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StopError {
    /// The server is not alive.
    #[error("the server is not alive (noproc)")]
    NoProc,
    /// A server tried to stop itself from a callback, which would wait forever.
    #[error("a server cannot stop itself with stop(); return HandleResult::Stop instead")]
    CallingSelf,
    /// The server did not exit within the timeout; it keeps running `terminate`.
    #[error("the server did not exit within {0:?}")]
    Timeout(Duration),
    /// The server exited with another reason (for example, `terminate` panicked).
    #[error("the server exited with another reason: {0}")]
    Exit(ExitReason),
    /// The name is held by a process of another type; nothing was sent.
    #[error("{0}")]
    WrongType(crate::LookupError),
}
