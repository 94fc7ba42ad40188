//! What callbacks return: OTP's reply tuples as Rust enums.

use std::fmt;
use std::time::Duration;

use super::{GenServer, ReplyTo};
use crate::{Down, Exit, ExitReason};

/// What the server does after a callback, before taking the next message: OTP's optional last
/// element of a return tuple (`Timeout | hibernate | {continue, C}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Next<C> {
    /// Wait for the next message (OTP's `infinity`).
    #[default]
    Wait,
    /// If no message arrives within the duration, call `handle_info(Info::Timeout)`. Any
    /// message cancels it; a `sys` request does not (the wait restarts after it).
    Timeout(Duration),
    /// Call `handle_continue(C)` at once, before any queued message.
    Continue(C),
    /// Release the memory of an empty mailbox buffer, then wait (Erlang's `hibernate`).
    Hibernate,
}

/// What `init` returns.
///
/// | `Init`                | start returns                   | process exit reason |
/// |-----------------------|---------------------------------|---------------------|
/// | `Ok(state, next)`     | `Ok(Server)`                    | – (runs)            |
/// | `Ignore`              | `Err(StartError::Ignored)`      | `Normal`            |
/// | `Stop(reason)`        | `Err(StartError::Stopped(r))`   | `reason`            |
/// | `Error(reason)`       | `Err(StartError::Error(r))`     | `Normal` (silent)   |
/// | (`init` panics)       | `Err(StartError::Exited(p))`    | the panic           |
pub enum Init<S: GenServer> {
    /// Started, with the initial state and what to do first.
    Ok(S, Next<S::Continue>),
    /// Do not start; a supervisor keeps the child spec but runs nothing.
    Ignore,
    /// Fail to start, exiting with `reason` (a linked, non-trapping caller exits too).
    Stop(ExitReason),
    /// Fail to start quietly: the caller gets the reason, the process exits `Normal`.
    Error(ExitReason),
}

impl<S: GenServer> Init<S> {
    /// Started with `state`, waiting for messages.
    pub fn ok(state: S) -> Self {
        Init::Ok(state, Next::Wait)
    }
}

impl<S: GenServer> From<Result<S, ExitReason>> for Init<S> {
    /// `Ok(state)` starts; `Err(reason)` is [`Init::Stop`].
    fn from(r: Result<S, ExitReason>) -> Self {
        match r {
            Ok(state) => Init::ok(state),
            Err(reason) => Init::Stop(reason),
        }
    }
}

/// What `handle_call` returns. Each call carries its own typed reply handle ([`ReplyTo<T>`],
/// in the request), so the reply itself goes through the handle; the result says what the
/// server does next.
///
/// | `CallResult`                                  | OTP                              |
/// |-----------------------------------------------|----------------------------------|
/// | [`CallResult::reply(to, value)`](Self::reply) | `{reply, R, S}`: the reply is sent at once |
/// | [`reply_then(to, value, next)`](Self::reply_then) | `{reply, R, S, Next}`        |
/// | [`noreply()`](Self::noreply), `NoReply(next)` | `{noreply, S, Next}` (reply later with [`ReplyTo::reply`]) |
/// | `Stop(reason)`                                | `{stop, Reason, S}`: the caller gets the exit reason |
/// | [`stop_reply(reason, to, value)`](Self::stop_reply) | `{stop, Reason, R, S}`: `terminate` runs first, then the reply |
pub enum CallResult<S: GenServer> {
    /// Carry on: the reply was given (by [`CallResult::reply`]), or the `ReplyTo` was kept to
    /// reply later (or dropped: the caller then waits until its timeout, as in OTP).
    NoReply(Next<S::Continue>),
    /// Stop without replying; the caller's call fails with `reason`.
    Stop(ExitReason),
    /// Stop, and send the reply once `terminate` has run.
    StopReply(ExitReason, PendingReply),
}

impl<S: GenServer> CallResult<S> {
    /// Reply `value` to `to` now, and wait for the next message.
    pub fn reply<T>(to: ReplyTo<T>, value: T) -> Self {
        Self::reply_then(to, value, Next::Wait)
    }

    /// Reply `value` to `to` now, then do `next`.
    pub fn reply_then<T>(to: ReplyTo<T>, value: T, next: Next<S::Continue>) -> Self {
        // A caller that stopped waiting (timed out, exited) just does not get it: the late
        // reply is dropped here, never delivered.
        let _ = to.reply(value);
        CallResult::NoReply(next)
    }

    /// No reply now, wait for the next message.
    pub fn noreply() -> Self {
        CallResult::NoReply(Next::Wait)
    }

    /// Stop with `reason`, and reply `value` to `to` once `terminate` has run.
    pub fn stop_reply<T: Send + 'static>(reason: ExitReason, to: ReplyTo<T>, value: T) -> Self {
        CallResult::StopReply(reason, PendingReply::new(to, value))
    }
}

/// A reply held back until `terminate` has run ([`CallResult::stop_reply`]).
pub struct PendingReply(Box<dyn FnOnce() + Send>);

impl PendingReply {
    /// A reply of `value` to `to`, sent by [`send`](Self::send).
    pub fn new<T: Send + 'static>(to: ReplyTo<T>, value: T) -> Self {
        PendingReply(Box::new(move || {
            let _ = to.reply(value);
        }))
    }

    /// Send it.
    pub fn send(self) {
        (self.0)()
    }
}

impl fmt::Debug for PendingReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingReply")
    }
}

/// What `handle_cast`, `handle_info` and `handle_continue` return.
pub enum HandleResult<S: GenServer> {
    /// Carry on (`{noreply, S, Next}`).
    NoReply(Next<S::Continue>),
    /// Stop with `reason` (`{stop, Reason, S}`); `terminate` runs first.
    Stop(ExitReason),
}

impl<S: GenServer> HandleResult<S> {
    /// Carry on, waiting for the next message.
    pub fn noreply() -> Self {
        HandleResult::NoReply(Next::Wait)
    }
}

/// What `handle_info` receives: anything that is neither a call nor a cast.
#[derive(Debug, Clone, PartialEq)]
pub enum Info<I> {
    /// A message sent with [`Server::send`](super::Server::send) or a timer.
    Message(I),
    /// A monitored process went down.
    Down(Down),
    /// An exit signal, while trapping exits, from a process other than the parent.
    Exit(Exit),
    /// The [`Next::Timeout`] of the last callback expired with no message.
    Timeout,
}

macro_rules! debug_by_variant {
    ($ty:ident { $($variant:ident),* }) => {
        impl<S: GenServer> fmt::Debug for $ty<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($ty::$variant { .. } => f.write_str(concat!(stringify!($ty), "::", stringify!($variant))),)*
                }
            }
        }
    };
}

debug_by_variant!(Init {
    Ok,
    Ignore,
    Stop,
    Error
});
debug_by_variant!(CallResult {
    NoReply,
    Stop,
    StopReply
});
debug_by_variant!(HandleResult { NoReply, Stop });
