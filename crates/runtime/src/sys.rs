//! Live introspection and control of GenServers (Erlang's `sys` module).
//!
//! These requests travel as *system messages*: a server serves them between callbacks, also
//! while suspended, and they do not reset its idle timeout. Each takes an optional timeout, as
//! OTP's do; `None` waits [`SYS_TIMEOUT`] (5 s, OTP's default).
//!
//! | Erlang                        | ferrotp                                  |
//! |-------------------------------|------------------------------------------|
//! | `sys:get_state/1,2`           | [`get_state`], [`with_state`] (no `Clone` needed) |
//! | `sys:replace_state/2,3`       | [`replace_state`], [`with_state_mut`]    |
//! | `sys:suspend/1`, `resume/1`   | [`suspend`], [`resume`]                  |
//! | `sys:change_code/4`           | [`change_code`] (only while suspended)   |
//! | `sys:statistics/2`            | [`statistics`]                           |
//! | `sys:terminate/3`             | [`Server::stop`](crate::gen_server::Server::stop) |
//!
//! The upgrade protocol is Erlang's: `suspend` (calls, casts and infos queue up), then
//! `change_code`, then `resume` (the queue is served in order).

use std::fmt;
use std::time::Duration;

use crate::sync::oneshot;

use crate::gen_server::{GenServer, Server};
use crate::process::panic::call_guarded;
use crate::{ExitReason, Pid};

/// How long a `sys` request waits for its answer.
pub const SYS_TIMEOUT: Duration = Duration::from_secs(5);

/// The version a state is migrated from: OTP's `OldVsn` (`Vsn` for an upgrade, `{down, Vsn}`
/// for a downgrade).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OldVsn {
    /// Upgrading from this version.
    Up(String),
    /// Downgrading to this version (the newer code migrates the state back).
    Down(String),
}

/// What [`statistics`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// The server's pid.
    pub pid: Pid,
    /// The version of the code it runs ([`GenServer::vsn`]).
    pub vsn: std::borrow::Cow<'static, str>,
    /// Whether it is suspended.
    pub suspended: bool,
    /// Calls, casts and infos handled so far (system requests not counted).
    pub messages_handled: u64,
    /// Messages waiting in its mailbox.
    pub mailbox_len: usize,
}

/// A `sys` request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SysError {
    /// The server is not alive.
    #[error("the server is not alive (noproc)")]
    NoProc,
    /// The name is held by a process of another type; nothing was sent.
    #[error("{0}")]
    WrongType(crate::LookupError),
    /// A server sent a `sys` request to itself.
    #[error("a server cannot send sys requests to itself (calling_self)")]
    CallingSelf,
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server exited before answering.
    #[error("the server exited before answering: {0}")]
    Exit(ExitReason),
    /// The closure given to `with_state`, `replace_state` or `with_state_mut` panicked; the
    /// server is unaffected (a `with_state_mut` closure's changes before the panic remain).
    #[error("the state function failed, the state is unchanged: {0}")]
    CallbackFailed(ExitReason),
    /// `change_code` is only served while the server is suspended.
    #[error("change_code needs a suspended server: call sys::suspend first")]
    NotSuspended,
    /// `code_change` returned an error or panicked; the old state is kept and the server stays
    /// suspended.
    #[error("code_change failed, the old state is kept: {0}")]
    CodeChange(ExitReason),
}

pub(crate) type StateFn<S> = Box<dyn FnOnce(&S) + Send>;
pub(crate) type StateFnMut<S> = Box<dyn FnOnce(&mut S) + Send>;

pub(crate) enum SystemRequest<S> {
    Inspect(StateFn<S>),
    Replace(StateFnMut<S>),
    Suspend(oneshot::Sender<()>),
    Resume(oneshot::Sender<()>),
    ChangeCode {
        old_vsn: OldVsn,
        extra: String,
        reply: oneshot::Sender<Result<(), SysError>>,
    },
    Statistics(oneshot::Sender<Statistics>),
    Terminate(ExitReason),
}

impl<S> fmt::Debug for SystemRequest<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SystemRequest::Inspect(_) => "Inspect",
            SystemRequest::Replace(_) => "Replace",
            SystemRequest::Suspend(_) => "Suspend",
            SystemRequest::Resume(_) => "Resume",
            SystemRequest::ChangeCode { .. } => "ChangeCode",
            SystemRequest::Statistics(_) => "Statistics",
            SystemRequest::Terminate(_) => "Terminate",
        })
    }
}

fn or_default(timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or(SYS_TIMEOUT)
}

/// A copy of the server's state (`sys:get_state/2`). Use [`with_state`] for a state that is
/// not `Clone`, or to read only part of it.
///
/// # Errors
///
/// [`SysError`] if the server is not alive or does not answer within `timeout` (`None`: 5 s).
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::gen_server::{GenServer, Init, ServerContext};
/// use ferrotp::sys;
///
/// #[derive(Clone)]
/// struct Counter(u64);
/// impl GenServer for Counter {
///     type Args = u64; type Call = (); type Cast = (); type Info = (); type Continue = ();
///     async fn init(n: u64, _: &mut ServerContext<Self>) -> Init<Self> { Init::ok(Counter(n)) }
/// }
///
/// let counter = Counter::start(7).await.unwrap();
/// assert_eq!(sys::get_state(&counter, None).await.unwrap().0, 7);
/// assert_eq!(sys::with_state(&counter, |c| c.0 * 2, None).await, Ok(14));
/// let new = sys::replace_state(&counter, |c| Counter(c.0 + 1), None).await.unwrap();
/// assert_eq!(new.0, 8);
/// # }
/// ```
pub async fn get_state<S: GenServer + Clone>(
    server: &Server<S>,
    timeout: Option<Duration>,
) -> Result<S, SysError> {
    with_state(server, S::clone, timeout).await
}

/// Run `f` on the server's state, between two callbacks, and return its result: a `get_state`
/// that borrows, for states that are not `Clone`.
///
/// # Errors
///
/// [`SysError::CallbackFailed`] if `f` panics (the server is unaffected), or as
/// [`get_state`].
pub async fn with_state<S, R>(
    server: &Server<S>,
    f: impl FnOnce(&S) -> R + Send + 'static,
    timeout: Option<Duration>,
) -> Result<R, SysError>
where
    S: GenServer,
    R: Send + 'static,
{
    server
        .system(
            |tx| {
                SystemRequest::Inspect(Box::new(move |state: &S| {
                    let _ = tx.send(call_guarded(|| f(state)).map_err(SysError::CallbackFailed));
                }))
            },
            or_default(timeout),
        )
        .await?
}

/// Replace the server's state with `f(&state)` and return the new state, as OTP's
/// `replace_state` does. If `f` panics, the state is unchanged. Use [`with_state_mut`] for a
/// state that is not `Clone`.
///
/// # Errors
///
/// [`SysError::CallbackFailed`] if `f` panics, or as [`get_state`].
pub async fn replace_state<S: GenServer + Clone>(
    server: &Server<S>,
    f: impl FnOnce(&S) -> S + Send + 'static,
    timeout: Option<Duration>,
) -> Result<S, SysError> {
    with_state_mut(
        server,
        move |state: &mut S| {
            *state = f(state);
            state.clone()
        },
        timeout,
    )
    .await
}

/// Run `f` on the server's state with the right to change it, between two callbacks, and
/// return its result. If `f` panics, the state is left as `f` left it when it panicked —
/// unchanged unless `f` changed it before panicking.
///
/// # Errors
///
/// [`SysError::CallbackFailed`] if `f` panics, or as [`get_state`].
pub async fn with_state_mut<S, R>(
    server: &Server<S>,
    f: impl FnOnce(&mut S) -> R + Send + 'static,
    timeout: Option<Duration>,
) -> Result<R, SysError>
where
    S: GenServer,
    R: Send + 'static,
{
    server
        .system(
            |tx| {
                SystemRequest::Replace(Box::new(move |state: &mut S| {
                    let _ = tx.send(call_guarded(|| f(state)).map_err(SysError::CallbackFailed));
                }))
            },
            or_default(timeout),
        )
        .await?
}

/// Suspend the server: until [`resume`], it serves only system requests (and its parent's
/// exit); calls, casts and infos stay queued in order.
///
/// A suspend takes effect only if its answer can still be delivered: a request that timed out
/// here, and reaches a busy server later, is ignored there. A server is never left suspended
/// by a caller that gave up.
///
/// # Errors
///
/// As [`get_state`].
pub async fn suspend<S: GenServer>(
    server: &Server<S>,
    timeout: Option<Duration>,
) -> Result<(), SysError> {
    server
        .system(SystemRequest::Suspend, or_default(timeout))
        .await
}

/// Resume a suspended server; what queued up meanwhile is served in arrival order.
///
/// # Errors
///
/// As [`get_state`].
pub async fn resume<S: GenServer>(
    server: &Server<S>,
    timeout: Option<Duration>,
) -> Result<(), SysError> {
    server
        .system(SystemRequest::Resume, or_default(timeout))
        .await
}

/// Migrate a suspended server's state with [`GenServer::code_change`].
///
/// # Errors
///
/// [`SysError::NotSuspended`] for a running server; [`SysError::CodeChange`] if
/// `code_change` returns an error or panics — the old state is kept and the server stays
/// suspended; or as [`get_state`].
pub async fn change_code<S: GenServer>(
    server: &Server<S>,
    old_vsn: OldVsn,
    extra: impl Into<String>,
    timeout: Option<Duration>,
) -> Result<(), SysError> {
    let extra = extra.into();
    server
        .system(
            |reply| SystemRequest::ChangeCode {
                old_vsn,
                extra,
                reply,
            },
            or_default(timeout),
        )
        .await?
}

/// Counters and status of the server.
///
/// # Errors
///
/// As [`get_state`].
pub async fn statistics<S: GenServer>(
    server: &Server<S>,
    timeout: Option<Duration>,
) -> Result<Statistics, SysError> {
    server
        .system(SystemRequest::Statistics, or_default(timeout))
        .await
}

/// Run `code_change`, keeping the old state on error or panic.
pub(crate) fn run_code_change<S: GenServer>(
    state: &mut S,
    old_vsn: &OldVsn,
    extra: &str,
) -> Result<(), SysError> {
    match call_guarded(|| state.code_change(old_vsn, extra)) {
        Ok(Ok(Some(new))) => {
            *state = new;
            Ok(())
        }
        Ok(Ok(None)) => Ok(()),
        Ok(Err(reason)) | Err(reason) => Err(SysError::CodeChange(reason)),
    }
}
