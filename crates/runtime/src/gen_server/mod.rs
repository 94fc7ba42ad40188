//! OTP's generic server.
//!
//! A GenServer is a process that holds a state and serves requests one at a time. You write
//! the callbacks — what to do with each kind of request — and the runtime does the rest: the
//! receive loop, replies, timeouts, `sys` requests, and turning a crash into an exit reason
//! after running `terminate`.
//!
//! | client                                       | callback                                    |
//! |----------------------------------------------|---------------------------------------------|
//! | `S::start(args)`, `S::start_link(args)` ---> | [`init`](GenServer::init)                   |
//! | [`Server::call`] --------------------------> | [`handle_call`](GenServer::handle_call)     |
//! | [`Server::cast`] --------------------------> | [`handle_cast`](GenServer::handle_cast)     |
//! | [`Server::send`], timers, `Down`, `Exit` --> | [`handle_info`](GenServer::handle_info)     |
//! | `Next::Continue(c)` from any callback -----> | [`handle_continue`](GenServer::handle_continue) |
//! | [`Server::stop`], a `Stop` result, a crash -> | [`terminate`](GenServer::terminate)        |
//! | [`sys::change_code`](crate::sys::change_code) | [`code_change`](GenServer::code_change)   |
//!
//! # Failure semantics (OTP's)
//!
//! * A panic in a callback terminates the server: `terminate` runs with
//!   [`ExitReason::Panic`], then the process exits with it. A caller waiting on that server
//!   gets [`CallError::Exit`] with the reason.
//! * `terminate` runs when a callback returns `Stop`, when a callback panics, on
//!   [`Server::stop`], and when the server **traps exits** and its parent (the process that
//!   started it with `start_link`) exits — with any reason, `Normal` included. It does **not**
//!   run when the server is killed (`Kill`) or hit by an exit signal while not trapping: the
//!   process simply ends.
//! * A call waits 5 s by default; on timeout the server is unaffected and its late reply is
//!   dropped, never delivered. Calling a dead server is [`CallError::NoProc`]; calling
//!   yourself is [`CallError::CallingSelf`].
//! * A cast always succeeds, even if the server is gone (use [`Server::try_cast`] to know).
//!
//! # Example
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::gen_server::*;
//!
//! struct Counter {
//!     count: u64,
//! }
//!
//! enum Call { Get(ReplyTo<u64>) }
//! enum Cast { Add(u64) }
//!
//! impl GenServer for Counter {
//!     type Args = u64;
//!     type Call = Call;
//!     type Cast = Cast;
//!     type Info = ();
//!     type Continue = ();
//!
//!     async fn init(start: u64, _ctx: &mut ServerContext<Self>) -> Init<Self> {
//!         Init::ok(Counter { count: start })
//!     }
//!
//!     async fn handle_call(&mut self, call: Call, _ctx: &mut ServerContext<Self>) -> CallResult<Self> {
//!         match call {
//!             Call::Get(from) => CallResult::reply(from, self.count),
//!         }
//!     }
//!
//!     async fn handle_cast(&mut self, cast: Cast, _ctx: &mut ServerContext<Self>) -> HandleResult<Self> {
//!         match cast {
//!             Cast::Add(n) => self.count += n,
//!         }
//!         HandleResult::noreply()
//!     }
//! }
//!
//! let counter = Counter::start(40).await.unwrap();
//! counter.cast(Cast::Add(2));
//! assert_eq!(counter.call(Call::Get).await, Ok(42));
//! # }
//! ```

pub(crate) mod client;
mod context;
mod error;
mod event_loop;
mod reply;
mod result;
mod start;

use std::future::Future;

pub use client::{Server, DEFAULT_CALL_TIMEOUT};
pub use context::ServerContext;
pub use error::{CallError, StartError, StopError};
pub use reply::{ReplyError, ReplyTo};
pub use result::{CallResult, HandleResult, Info, Init, Next, PendingReply};
pub use start::{start_with, StartOptions};

use crate::sys::{OldVsn, SystemRequest};
use crate::ExitReason;

/// Log an info message nobody handles, as OTP does, and carry on. Used by the default
/// `handle_info` and by code generated with `#[gen_server]`.
#[doc(hidden)]
pub fn unhandled_info<I>(server: &'static str, pid: crate::Pid, info: &Info<I>) {
    let kind = match info {
        Info::Message(_) => "message",
        Info::Down(_) => "down",
        Info::Exit(_) => "exit",
        Info::Timeout => "timeout",
    };
    tracing::warn!(server, %pid, kind, "unhandled info message dropped: implement handle_info");
}

/// What a server's mailbox holds.
pub(crate) enum Request<S: GenServer> {
    /// A call; the request carries its own typed reply handle.
    Call(S::Call),
    Cast(S::Cast),
    Info(S::Info),
    /// Boxed: rare, and much larger than a call or a cast, which every message would
    /// otherwise be as large as.
    System(Box<SystemRequest<S>>),
}

/// A generic server: implement the callbacks, start it, and talk to it through a
/// [`Server`] handle. The implementing type is the server's state.
///
/// Every callback but `init` has a default, as in Elixir's `use GenServer`: `handle_call` and
/// `handle_cast` stop the server with a `bad_call`/`bad_cast` reason (it was sent something it
/// does not handle), `handle_info` logs the message and carries on, `handle_continue` stops
/// with `undef`, `terminate` does nothing, `code_change` keeps the state.
///
/// Callbacks are `async`: they may await, but the server serves nothing else meanwhile, exactly
/// like an Erlang callback that blocks. Start long work in another process and reply later
/// through [`ReplyTo`].
pub trait GenServer: Sized + Send + 'static {
    /// What `init` takes.
    type Args: Send + 'static;
    /// Requests that expect a reply. Each carries the handle its reply goes to, typed by what
    /// it answers: `enum Call { Get(ReplyTo<u64>), Rename(String, ReplyTo<()>) }`; a client
    /// calls with `server.call(Call::Get)` or `server.call(|to| Call::Rename(name, to))`.
    type Call: Send + 'static;
    /// Requests that expect no reply.
    type Cast: Send + 'static;
    /// Plain messages (and timer messages) for `handle_info`.
    type Info: Send + 'static;
    /// What `handle_continue` takes.
    type Continue: Send + 'static;

    /// The version of this code, reported by [`sys::statistics`](crate::sys::statistics) and
    /// used by hot upgrades.
    const VSN: &'static str = "1";

    /// The version this server runs now, as [`sys::statistics`](crate::sys::statistics)
    /// reports it: [`VSN`](Self::VSN) unless the server's code can change while it runs (a hot
    /// module's process reports its module's version).
    fn vsn(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(Self::VSN)
    }

    /// Build the initial state. The starter waits until this returns. See [`Init`] for what
    /// each outcome gives the starter.
    fn init(
        args: Self::Args,
        ctx: &mut ServerContext<Self>,
    ) -> impl Future<Output = Init<Self>> + Send;

    /// Serve a call: reply now through the request's [`ReplyTo`] (`CallResult::reply`),
    /// later (keep it, return `CallResult::noreply`), or stop, with or without a reply.
    fn handle_call(
        &mut self,
        request: Self::Call,
        ctx: &mut ServerContext<Self>,
    ) -> impl Future<Output = CallResult<Self>> + Send {
        async move {
            let _ = (request, ctx);
            CallResult::Stop(ExitReason::error(format_args!(
                "bad_call: {} does not implement handle_call",
                std::any::type_name::<Self>()
            )))
        }
    }

    /// Serve a cast.
    fn handle_cast(
        &mut self,
        request: Self::Cast,
        ctx: &mut ServerContext<Self>,
    ) -> impl Future<Output = HandleResult<Self>> + Send {
        async move {
            let _ = (request, ctx);
            HandleResult::Stop(ExitReason::error(format_args!(
                "bad_cast: {} does not implement handle_cast",
                std::any::type_name::<Self>()
            )))
        }
    }

    /// Serve anything else: plain messages, `Down`, `Exit` (when trapping, from processes other
    /// than the parent) and idle timeouts.
    fn handle_info(
        &mut self,
        info: Info<Self::Info>,
        ctx: &mut ServerContext<Self>,
    ) -> impl Future<Output = HandleResult<Self>> + Send {
        async move {
            unhandled_info(std::any::type_name::<Self>(), ctx.pid(), &info);
            HandleResult::noreply()
        }
    }

    /// Continue after a callback returned [`Next::Continue`], before any queued message.
    fn handle_continue(
        &mut self,
        continuation: Self::Continue,
        ctx: &mut ServerContext<Self>,
    ) -> impl Future<Output = HandleResult<Self>> + Send {
        async move {
            let _ = (continuation, ctx);
            HandleResult::Stop(ExitReason::error(format_args!(
                "undef: {} does not implement handle_continue",
                std::any::type_name::<Self>()
            )))
        }
    }

    /// Clean up before the server exits with `reason`; see the module docs for when it runs.
    /// A panic here replaces the exit reason.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        ctx: &mut ServerContext<Self>,
    ) -> impl Future<Output = ()> + Send {
        async move {
            let _ = (reason, ctx);
        }
    }

    /// Migrate the state during a code upgrade (or downgrade). Return `Ok(Some(new))` to
    /// replace the state, `Ok(None)` to keep it; an error or a panic fails the upgrade and
    /// keeps the old state.
    fn code_change(&self, old_vsn: &OldVsn, extra: &str) -> Result<Option<Self>, ExitReason> {
        let _ = (old_vsn, extra);
        Ok(None)
    }

    /// The state as text for an observer (OTP's `format_status`): `None`, the default, shows
    /// nothing. Opt in where the state may be shown, for example with its `Debug`
    /// (`#[gen_server(debug_state)]` writes that for you); leave secrets out.
    ///
    /// Called between two callbacks, only when someone opens this process in an observer
    /// ([`observe::format_status`](crate::observe::format_status)); the text is capped at
    /// 4 KiB. Answer `Some` or `None` for every state of the type alike: once a server of a
    /// type answered `None`, observers do not ask that type again.
    fn format_status(&self) -> Option<String> {
        None
    }

    /// Start the server, not linked; returns once `init` has finished.
    fn start(args: Self::Args) -> impl Future<Output = Result<Server<Self>, StartError>> + Send {
        start_with(args, StartOptions::new())
    }

    /// Start the server linked to the calling process (its parent); returns once `init` has
    /// finished. Called from outside any process, there is no parent and this is `start`.
    fn start_link(
        args: Self::Args,
    ) -> impl Future<Output = Result<Server<Self>, StartError>> + Send {
        start_with(args, StartOptions::new().link())
    }
}
