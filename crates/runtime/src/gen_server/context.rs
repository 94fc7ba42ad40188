//! What a GenServer's callbacks can do besides changing state.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::{GenServer, Request, Server};
use crate::error::NoProcError;
use crate::timer::{self, TimerRef};
use crate::{Addr, Context, ExitReason, Pid, ProcessResult, Reference};

/// The server's process, as its callbacks see it: its identity, its process flags, links and
/// monitors, and timers that deliver to `handle_info`.
///
/// It does not give access to the mailbox: messages reach callbacks in OTP's order.
pub struct ServerContext<S: GenServer> {
    /// The server's own process.
    pub(crate) process: Context<Request<S>>,
    parent: Option<Pid>,
    stop: Option<ExitReason>,
    continuation: Option<S::Continue>,
    timeout: Option<std::time::Duration>,
}

impl<S: GenServer> ServerContext<S> {
    pub(crate) fn new(process: Context<Request<S>>, parent: Option<Pid>) -> Self {
        ServerContext {
            process,
            parent,
            stop: None,
            continuation: None,
            timeout: None,
        }
    }

    /// The server's pid.
    pub fn pid(&self) -> Pid {
        self.process.pid()
    }

    /// A client handle to this server, to give to others. (Calling it from a callback fails
    /// with [`CallError::CallingSelf`](super::CallError::CallingSelf).)
    pub fn server(&self) -> Server<S> {
        Server::from_addr(self.process.addr())
    }

    /// The process that started this server with `start_link`, if any. When the server traps
    /// exits, an exit signal from its parent runs `terminate` and stops the server.
    pub fn parent(&self) -> Option<Pid> {
        self.parent
    }

    /// Set the `trap_exit` flag; returns the previous value.
    pub fn trap_exit(&self, on: bool) -> bool {
        self.process.trap_exit(on)
    }

    /// Link to `other`; see [`Context::link`].
    ///
    /// # Errors
    ///
    /// [`NoProcError`] if `other` is not alive and this server does not trap exits.
    pub fn link(&self, other: Pid) -> Result<(), NoProcError> {
        self.process.link(other)
    }

    /// Remove the link to `other`.
    pub fn unlink(&self, other: Pid) {
        self.process.unlink(other)
    }

    /// Monitor `target`; its `Down` arrives as [`Info::Down`](super::Info::Down).
    pub fn monitor(&self, target: Pid) -> Reference {
        self.process.monitor(target)
    }

    /// Remove a monitor and any queued `Down` for it; `true` if it was active.
    pub fn demonitor(&self, reference: Reference) -> bool {
        self.process.demonitor_flush(reference)
    }

    /// Send an exit signal from this server to `target`.
    ///
    /// # Errors
    ///
    /// [`NoProcError`] if `target` is not alive.
    pub fn exit(&self, target: Pid, reason: ExitReason) -> Result<(), NoProcError> {
        self.process.exit(target, reason)
    }

    /// Spawn a process linked to this server.
    pub fn spawn_link<N, F, Fut>(&self, body: F) -> Addr<N>
    where
        N: Send + 'static,
        F: FnOnce(Context<N>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        self.process.spawn_link(body)
    }

    /// Deliver `info` to this server's `handle_info` after `delay`.
    pub fn send_after(&self, info: S::Info, delay: Duration) -> TimerRef {
        timer::send_after(&self.process.addr(), Request::Info(info), delay)
    }

    /// Deliver a clone of `info` to this server's `handle_info` every `period`.
    pub fn send_interval(&self, info: S::Info, period: Duration) -> TimerRef
    where
        S::Info: Clone,
    {
        timer::interval_with(
            &self.process.addr(),
            move || Request::Info(info.clone()),
            period,
        )
    }

    /// Stop the server with `reason` once the current callback returns, as if it had returned
    /// `Stop`: `terminate` runs, then — for a call that produced a reply — the reply is sent
    /// (OTP's `{stop, Reason, Reply, State}`), then the process exits. The way for code that
    /// does not build the return value itself (such as `#[gen_server]` handlers) to stop.
    pub fn stop(&mut self, reason: ExitReason) {
        self.stop.get_or_insert(reason);
    }

    #[inline]
    /// Reply to a call from `handle_call`: at once — or, if this callback asked to
    /// [`stop`](Self::stop), once `terminate` has run (OTP's `{stop, Reason, Reply, State}`).
    /// What `#[gen_server]` call handlers return through.
    pub fn reply<T: Send + 'static>(
        &mut self,
        to: super::ReplyTo<T>,
        value: T,
    ) -> super::CallResult<S> {
        match self.stop.take() {
            Some(reason) => super::CallResult::stop_reply(reason, to, value),
            None => super::CallResult::reply(to, value),
        }
    }

    /// Whether a callback asked to [`stop`](Self::stop).
    pub fn is_stopping(&self) -> bool {
        self.stop.is_some()
    }

    pub(crate) fn take_stop(&mut self) -> Option<ExitReason> {
        // Checked first: taking moves the whole (large) option even when it is empty.
        self.stop.as_ref()?;
        self.stop.take()
    }

    /// Call `handle_continue(c)` right after the current callback, before any queued message,
    /// as if it had returned `Next::Continue(c)` (which it replaces). The way for code that does
    /// not build the return value itself (such as `#[gen_server]` handlers) to continue.
    pub fn continue_with(&mut self, c: S::Continue) {
        self.continuation = Some(c);
    }

    pub(crate) fn take_continuation(&mut self) -> Option<S::Continue> {
        self.continuation.take()
    }

    /// Wait at most `timeout` for the next message after the current callback, then call
    /// `handle_info(Info::Timeout)` (a `#[timeout]` handler), as if the callback had returned
    /// `Next::Timeout(timeout)`. Any message cancels it. The way for code that does not build
    /// the return value itself (such as `#[gen_server]` handlers) to set an idle timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    pub(crate) fn take_timeout(&mut self) -> Option<Duration> {
        self.timeout.take()
    }

    #[inline]
    pub(crate) fn has_continuation(&self) -> bool {
        self.continuation.is_some() || self.timeout.is_some()
    }

    /// How many messages wait in the server's mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.process.mailbox_len()
    }
}

impl<S: GenServer> fmt::Debug for ServerContext<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerContext")
            .field("pid", &self.pid())
            .field("parent", &self.parent)
            .finish()
    }
}
