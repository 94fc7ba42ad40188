//! The client side: a typed handle to a running GenServer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::{CallError, GenServer, ReplyTo, Request, StopError};
use crate::process::{self, AwaitExit};
use crate::registry::Name;
use crate::sys::SystemRequest;
use crate::{Addr, ExitReason, LookupError, Pid, SendError};

/// The default call timeout, as OTP's: 5 seconds.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A typed handle to a GenServer: what clients call and cast to.
///
/// A handle made by `start` addresses one incarnation: after it exits, calls fail with
/// [`CallError::NoProc`]. A handle made by [`Server::named`] resolves the name at every
/// request, so it reaches whichever process holds the name now — the restarted one after a
/// supervisor restart.
///
/// | client (OTP)                 | ferrotp                    | callback              |
/// |------------------------------|----------------------------|-----------------------|
/// | `gen_server:call(S, Req)`    | [`Server::call`]           | `handle_call`         |
/// | `gen_server:cast(S, Msg)`    | [`Server::cast`]           | `handle_cast`         |
/// | `S ! Msg`                    | [`Server::send`]           | `handle_info`         |
/// | `gen_server:stop(S, R, T)`   | [`Server::stop`]           | `terminate`           |
pub struct Server<S: GenServer> {
    target: Target<S>,
}

enum Target<S: GenServer> {
    Addr(Addr<Request<S>>),
    Name(Name),
}

impl<S: GenServer> Clone for Server<S> {
    fn clone(&self) -> Self {
        Server {
            target: match &self.target {
                Target::Addr(a) => Target::Addr(a.clone()),
                Target::Name(n) => Target::Name(n.clone()),
            },
        }
    }
}

impl<S: GenServer> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Server");
        d.field("type", &std::any::type_name::<S>());
        match &self.target {
            Target::Addr(a) => d.field("pid", &a.pid()),
            Target::Name(n) => d.field("name", n),
        };
        d.finish()
    }
}

impl<S: GenServer> Server<S> {
    pub(crate) fn from_addr(addr: Addr<Request<S>>) -> Self {
        Server {
            target: Target::Addr(addr),
        }
    }

    /// A handle to the live server `pid` (for example a supervisor's child).
    ///
    /// # Errors
    ///
    /// [`LookupError`](crate::LookupError) if `pid` is not alive or is not a server of type `S`.
    pub fn from_pid(pid: Pid) -> Result<Self, crate::LookupError> {
        process::addr_of::<Request<S>>(pid).map(Server::from_addr)
    }

    /// A handle that resolves `name` — a local name, or a [`Via`](crate::registry::Via) name
    /// such as a [`Registry`](crate::registry::Registry) key — at every request, and so
    /// reaches whichever process holds it now.
    pub fn named(name: impl Into<Name>) -> Self {
        Server {
            target: Target::Name(name.into()),
        }
    }

    /// The pid of the process this handle reaches now (`None` if the name is not registered).
    pub fn pid(&self) -> Option<Pid> {
        match &self.target {
            Target::Addr(a) => Some(a.pid()),
            Target::Name(n) => n.whereis(),
        }
    }

    /// Whether the process this handle reaches now is alive.
    pub fn is_alive(&self) -> bool {
        self.pid().is_some_and(process::is_alive)
    }

    /// The address this handle reaches now. A name held by a process of another type is
    /// `WrongMessageType`, not a missing process: the detail says which process and type.
    pub(crate) fn resolve(&self) -> Result<Addr<Request<S>>, LookupError> {
        match &self.target {
            Target::Addr(a) => Ok(a.clone()),
            Target::Name(n) => n.lookup::<Request<S>>(),
        }
    }

    /// Call the server and wait up to [`DEFAULT_CALL_TIMEOUT`] (5 s) for the reply.
    ///
    /// `request` builds the request around the handle its reply goes to: a request variant
    /// `Get(ReplyTo<u64>)` is called as `server.call(Call::Get)` and answers a `u64`; one
    /// with arguments as `server.call(|to| Call::Add(5, to))`.
    ///
    /// # Errors
    ///
    /// See [`CallError`]: `Timeout`, `NoProc`, `CallingSelf`, `Exit(reason)` when the server
    /// died before replying, `MailboxFull`, `WrongType`.
    pub fn call<T: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<T>) -> S::Call,
    ) -> impl Future<Output = Result<T, CallError>> + Send + '_ {
        self.call_with(request, Some(DEFAULT_CALL_TIMEOUT))
    }

    /// Call the server and wait up to `timeout` for the reply.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub fn call_timeout<T: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<T>) -> S::Call,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, CallError>> + Send + '_ {
        self.call_with(request, Some(timeout))
    }

    /// Call the server and wait for the reply as long as it takes (OTP's `infinity`), or until
    /// the server exits.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call), except `Timeout`.
    pub fn call_infinity<T: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<T>) -> S::Call,
    ) -> impl Future<Output = Result<T, CallError>> + Send + '_ {
        self.call_with(request, None)
    }

    fn call_with<T: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<T>) -> S::Call,
        timeout: Option<Duration>,
    ) -> Call<'_, S, T> {
        let caller = process::current();
        let (tx, rx) = oneshot::channel();
        Call {
            server: self,
            request: Some(request(ReplyTo::new(tx, caller))),
            reply: AwaitReply {
                rx,
                timeout,
                timer: None,
            },
            resolved: None,
            slow: Slow::No,
        }
    }

    /// Cast `message` to the server: fire and forget, as OTP's `cast` — it succeeds even if
    /// the server is not alive. Use [`try_cast`](Self::try_cast) to learn about delivery.
    ///
    /// A full bounded mailbox refuses the cast; that is logged as a warning with the server's
    /// pid, never dropped without a trace.
    pub fn cast(&self, message: S::Cast) {
        if let Err(e) = self.try_cast(message) {
            if e.is_full() || e.is_wrong_type() {
                tracing::warn!(pid = ?e.pid(), "cast not delivered: {e}");
            }
        }
    }

    /// Cast `message`, reporting whether it was queued.
    ///
    /// # Errors
    ///
    /// The message is handed back if the server is not alive or its mailbox is full. For a
    /// name that is not registered, the error has no pid.
    pub fn try_cast(&self, message: S::Cast) -> Result<(), SendError<S::Cast>> {
        self.deliver(Request::Cast(message)).map_err(|e| {
            e.map(|r| match r {
                Request::Cast(m) => m,
                _ => unreachable!("a cast comes back as the cast that was sent"),
            })
        })
    }

    /// Queue `request` at the server this handle reaches now (no clone of an address held).
    fn deliver(&self, request: Request<S>) -> Result<(), SendError<Request<S>>> {
        match &self.target {
            Target::Addr(a) => a.send(request),
            Target::Name(_) => match self.resolve() {
                Ok(addr) => addr.send(request),
                Err(e) => Err(SendError::from_lookup(request, e)),
            },
        }
    }

    /// Queue a call request without waiting for its reply: for a caller that does not wait
    /// on this node, whose request carries a [`ReplyTo::deliver_with`] handle (a call from
    /// another node arrives this way). `handle_call` runs as for any call.
    ///
    /// # Errors
    ///
    /// As [`try_cast`](Self::try_cast); the request comes back with its reply handle, so
    /// that the caller can be told.
    pub fn deliver_call(&self, request: S::Call) -> Result<(), SendError<S::Call>> {
        self.deliver(Request::Call(request)).map_err(|e| {
            e.map(|r| match r {
                Request::Call(m) => m,
                _ => unreachable!("a call comes back as the call that was sent"),
            })
        })
    }

    /// Send `message` to the server's `handle_info` (Erlang's `Server ! Msg`).
    ///
    /// # Errors
    ///
    /// As [`try_cast`](Self::try_cast).
    pub fn send(&self, message: S::Info) -> Result<(), SendError<S::Info>> {
        self.deliver(Request::Info(message)).map_err(|e| {
            e.map(|r| match r {
                Request::Info(m) => m,
                _ => unreachable!("an info comes back as the info that was sent"),
            })
        })
    }

    /// Stop the server with `reason` and wait for it to exit (OTP's `gen_server:stop/3`).
    /// `terminate` runs whether or not the server traps exits. `None` waits forever.
    ///
    /// # Errors
    ///
    /// See [`StopError`]; `Exit(other)` if it exited with another reason.
    pub async fn stop(
        &self,
        reason: ExitReason,
        timeout: Option<Duration>,
    ) -> Result<(), StopError> {
        let addr = match self.resolve() {
            Ok(addr) => addr,
            Err(e) => {
                spend_budget().await;
                return Err(match e {
                    e @ crate::LookupError::WrongMessageType { .. } => StopError::WrongType(e),
                    _ => StopError::NoProc,
                });
            }
        };
        if process::current() == Some(addr.pid()) {
            return Err(StopError::CallingSelf);
        }
        let exited = process::await_exit(addr.pid());
        addr.send_unbounded(Request::System(Box::new(SystemRequest::Terminate(
            reason.clone(),
        ))))
        .map_err(|_| StopError::NoProc)?;
        let outcome = match timeout {
            Some(t) => tokio::time::timeout(t, exited)
                .await
                .map_err(|_| StopError::Timeout(t))?,
            None => exited.await,
        };
        match outcome {
            r if r == reason => Ok(()),
            ExitReason::NoProc => Err(StopError::NoProc),
            other => Err(StopError::Exit(other)),
        }
    }

    pub(crate) async fn system<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> SystemRequest<S>,
        timeout: Duration,
    ) -> Result<T, crate::sys::SysError> {
        use crate::sys::SysError;
        let addr = match self.resolve() {
            Ok(addr) => addr,
            Err(e) => {
                spend_budget().await;
                return Err(match e {
                    e @ crate::LookupError::WrongMessageType { .. } => SysError::WrongType(e),
                    _ => SysError::NoProc,
                });
            }
        };
        if process::current() == Some(addr.pid()) {
            return Err(SysError::CallingSelf);
        }
        let (tx, rx) = oneshot::channel();
        // System requests are the runtime's own: a full mailbox does not refuse them.
        addr.send_unbounded(Request::System(Box::new(make(tx))))
            .map_err(|_| SysError::NoProc)?;
        // A timeout past the clock's range waits for ever.
        let deadline = crate::timer::deadline_after(timeout).unwrap_or_else(far_future);
        let mut rx = rx;
        match tokio::time::timeout_at(deadline, &mut rx).await {
            Ok(Ok(v)) => Ok(v),
            // The answer handle was dropped: the process died with the request.
            Ok(Err(_)) => match tokio::time::timeout_at(deadline, exit_of(&addr)).await {
                Ok(ExitReason::NoProc) => Err(SysError::NoProc),
                Ok(r) => Err(SysError::Exit(r)),
                Err(_) => Err(SysError::Timeout(timeout)),
            },
            // As for a call: an answer sent as the time ran out is taken, not reported as a
            // timeout of a request that in fact took effect (a `suspend` that did suspend).
            Err(_) => match settle_timeout(&mut rx, timeout) {
                Waited::Reply(v) => Ok(v),
                _ => Err(SysError::Timeout(timeout)),
            },
        }
    }
}

/// About thirty years from now: a deadline that never comes (tokio's own choice for
/// timeouts past its clock's range).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// Spend a unit of tokio's cooperative budget, yielding if it is spent: for requests that fail
/// before they await anything, so that a loop of them yields like any loop of awaits.
fn spend_budget() -> impl Future<Output = ()> {
    std::future::poll_fn(|cx| tokio::task::coop::poll_proceed(cx).map(|r| r.made_progress()))
}

/// A call in flight: the whole of OTP's `gen:call` as one hand-written future — send the
/// request, wait for the reply (arming a timer only if needed, see [`AwaitReply`]), and only if
/// the reply handle is dropped, wait for the server's exit to report its reason.
///
/// Flat on purpose: the common call touches `request` once and then only `reply`, with no state
/// enum moved between variants. One future, polled directly, with nothing moved per poll, costs
/// less per call than an `async fn` or a state machine of nested futures.
struct Call<'a, S: GenServer, T> {
    server: &'a Server<S>,
    /// Taken (and sent) at the first poll: a future does nothing until polled.
    request: Option<S::Call>,
    reply: AwaitReply<T>,
    /// The address a name resolved to when the request was sent, for the slow path.
    resolved: Option<Addr<Request<S>>>,
    slow: Slow,
}

/// Where a call is once it has left the common path.
enum Slow {
    /// Sent, or about to be: waiting on `reply`.
    No,
    /// Failed before anything was awaited: the error is returned once a unit of tokio's
    /// cooperative budget has been spent (yielding if it is spent), so that a loop of calls to
    /// a dead server yields like any loop of awaits instead of starving other tasks. Boxed: it
    /// is rare, and a call future small enough is moved without a `memcpy` call.
    Failed(Box<CallError>),
    /// The reply handle was dropped: waiting for the server's exit (OTP's caller waits for
    /// its `DOWN`, or its timeout).
    Exiting(Pin<Box<dyn Future<Output = CallError> + Send>>),
    Done,
}

// Nothing in a call is pinned structurally: the reply channel, the timer and the boxed slow
// path are `Unpin`, and the request is moved out on the first poll.
impl<S: GenServer, T> Unpin for Call<'_, S, T> {}

impl<S: GenServer, T> Call<'_, S, T> {
    /// Send the request, or say why it could not be sent.
    fn send(&mut self, request: S::Call) -> Result<(), CallError> {
        let addr = match &self.server.target {
            Target::Addr(a) => a,
            Target::Name(_) => self
                .resolved
                .insert(self.server.resolve().map_err(CallError::from_lookup)?),
        };
        if process::current() == Some(addr.pid()) {
            return Err(CallError::CallingSelf);
        }
        // A server whose exit is decided would drop the request with its mailbox; the caller
        // learns it now instead of through the slow path that waits for that exit. (Checked
        // here, not in every send: a plain message to it is simply lost, as in Erlang.)
        if addr.exit_decided() {
            return Err(CallError::NoProc);
        }
        addr.send(Request::Call(request)).map_err(|e| {
            if e.is_full() {
                CallError::MailboxFull
            } else {
                CallError::NoProc
            }
        })
    }

    /// The reply handle was dropped: the slow path that learns why from the server's exit.
    #[cold]
    fn exiting(&mut self) -> Pin<Box<dyn Future<Output = CallError> + Send>> {
        let addr = match (&self.server.target, self.resolved.take()) {
            (_, Some(a)) => a,
            (Target::Addr(a), None) => a.clone(),
            (Target::Name(_), None) => unreachable!("resolved when sent"),
        };
        Box::pin(exit_error(addr, self.reply.deadline(), self.reply.timeout))
    }
}

impl<S: GenServer, T: Send + 'static> Future for Call<'_, S, T> {
    type Output = Result<T, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(request) = this.request.take() {
            match this.send(request) {
                // Yield one round without looking at the channel: the reply is almost never
                // there yet, and looking would register this task's waker with it (a clone, a
                // compare-and-swap, and a wake from the server) only for the next poll to find
                // the reply anyway. The yield is also what makes the next poll come if no reply
                // does: that poll arms the timer (see `AwaitReply`).
                Ok(()) if this.reply.timeout.is_some() => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Ok(()) => {}
                Err(e) => this.slow = Slow::Failed(Box::new(e)),
            }
        }
        if let Slow::No = this.slow {
            // Not marked done on success: polling a completed call panics in the channel.
            return Poll::Ready(
                match std::task::ready!(Pin::new(&mut this.reply).poll(cx)) {
                    Waited::Reply(value) => Ok(value),
                    // Dropping the receiver is what keeps a late reply away from the caller.
                    Waited::Timeout(t) => Err(CallError::Timeout(t)),
                    Waited::NoRuntime => Err(CallError::NoRuntime),
                    Waited::Dropped => {
                        this.slow = Slow::Exiting(this.exiting());
                        return this.poll_slow(cx);
                    }
                },
            );
        }
        this.poll_slow(cx)
    }
}

impl<S: GenServer, T: Send + 'static> Call<'_, S, T> {
    /// A call that failed before or after sending: out of line, so the common poll's frame
    /// stays small.
    #[cold]
    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, CallError>> {
        let error = match &mut self.slow {
            Slow::Failed(_) => {
                std::task::ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                let Slow::Failed(error) = std::mem::replace(&mut self.slow, Slow::Done) else {
                    unreachable!("matched above")
                };
                *error
            }
            Slow::Exiting(exit) => std::task::ready!(exit.as_mut().poll(cx)),
            Slow::No => unreachable!("a call on its common path"),
            Slow::Done => panic!("a call polled after it completed"),
        };
        self.slow = Slow::Done;
        Poll::Ready(Err(error))
    }
}

/// Why a call whose reply handle was dropped failed: the server's exit reason, or a timeout
/// if the server lives on without replying.
async fn exit_error<M: Send + 'static>(
    addr: Addr<M>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> CallError {
    match (deadline, timeout) {
        (Some(deadline), Some(t)) if tokio::runtime::Handle::try_current().is_ok() => {
            match tokio::time::timeout_at(deadline, exit_of(&addr)).await {
                Ok(reason) => CallError::Exit(reason),
                Err(_) => CallError::Timeout(t),
            }
        }
        _ => CallError::Exit(exit_of(&addr).await),
    }
}

pub(crate) enum Waited<R> {
    Reply(R),
    Dropped,
    Timeout(Duration),
    /// The call needs a timer and there is no tokio runtime to run one.
    NoRuntime,
}

/// Waits for a reply for `timeout`, arming a timer only when the reply did not come within one
/// scheduling round: [`Call`] yields that round before it first polls this.
///
/// Most calls are answered while the caller yields once; registering a timer for each of them
/// would cost more than the call itself (arming the earliest timer of a runtime wakes the
/// thread that drives the clock). The timeout is counted from when the timer is armed, one
/// scheduling round (microseconds) after the request was queued; on tokio's paused clock that
/// round takes no time at all.
struct AwaitReply<R> {
    rx: oneshot::Receiver<R>,
    /// `None` waits forever.
    timeout: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<R> AwaitReply<R> {
    /// When the wait ends (for the slow path that waits on the server's exit instead);
    /// `None` for no end, also for a timeout past the clock's range.
    fn deadline(&self) -> Option<Instant> {
        match (&self.timer, self.timeout) {
            (Some(t), _) => Some(t.deadline()),
            (None, Some(t)) => crate::timer::deadline_after(t),
            (None, None) => None,
        }
    }
}

impl<R> Future for AwaitReply<R> {
    type Output = Waited<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Waited<R>> {
        let this = &mut *self;
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Ready(Ok(v)) => return Poll::Ready(Waited::Reply(v)),
            Poll::Ready(Err(_)) => return Poll::Ready(Waited::Dropped),
            Poll::Pending => {}
        }
        let Some(timeout) = this.timeout else {
            return Poll::Pending;
        };
        if this.timer.is_none() && tokio::runtime::Handle::try_current().is_err() {
            // Awaited by another executor: there is no tokio clock to time the call out by.
            return Poll::Ready(Waited::NoRuntime);
        }
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(settle_timeout(&mut this.rx, timeout)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The call's time is up: decide, once and for both sides, whether the reply won the race.
///
/// Closing the channel first makes the outcome binary. A reply sent before the close is in the
/// channel and is returned (the server's `reply` succeeded, so the caller must see it); a reply
/// sent after it fails in the server's `reply` with the value handed back. Without the close,
/// a reply landing between the timer firing and the receiver being dropped would be reported
/// delivered to the server and lost to the caller (the loom model `reply_racing_its_timeout`
/// explores that window).
pub(crate) fn settle_timeout<R>(rx: &mut oneshot::Receiver<R>, timeout: Duration) -> Waited<R> {
    rx.close();
    match rx.try_recv() {
        Ok(value) => Waited::Reply(value),
        Err(_) => Waited::Timeout(timeout),
    }
}

/// The exit reason of a server whose reply handle was dropped: at once if it already exited,
/// otherwise when it does (a live server that dropped the handle leaves the caller to its
/// timeout, as in OTP).
async fn exit_of<M: Send + 'static>(addr: &Addr<M>) -> ExitReason {
    if let Some(r) = addr.exit_reason() {
        return r;
    }
    let exited: AwaitExit = process::await_exit(addr.pid());
    match exited.await {
        // Gone from the table already: the cell still knows why.
        ExitReason::NoProc => addr.exit_reason().unwrap_or(ExitReason::NoProc),
        r => r,
    }
}
