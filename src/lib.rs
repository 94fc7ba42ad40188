//! # ferrotp
//!
//! Erlang/OTP's fault-tolerance model for Rust, on tokio: lightweight isolated processes,
//! links and monitors, GenServers, supervision trees, "let it crash", and hot code upgrades.
//!
//! This facade re-exports the runtime ([`process`], [`gen_server`](mod@gen_server),
//! [`supervisor`], [`registry`], [`task`], [`sys`], …), the `#[gen_server]` attribute, and,
//! with the default feature `hot`, hot code upgrades ([`hot`], [`abi`]); most programs only
//! need the [`prelude`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::prelude::*;
//!
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! process::spawn(|mut ctx: Context| async move {
//!     let (_worker, reference) = ctx.spawn_monitor(|_: Context| async {
//!         Err(ExitReason::error("lost connection"))
//!     });
//!     if let Message::Down(down) = ctx.recv().await {
//!         assert_eq!(down.reference, reference);
//!         tx.send(down.reason).unwrap();
//!     }
//!     Ok(())
//! });
//! assert_eq!(rx.await.unwrap(), ExitReason::error("lost connection"));
//! # }
//! ```

#![forbid(unsafe_code)]

pub use ferrotp_runtime::*;

/// Hot code upgrades (feature `hot`, on by default): load actor modules from dynamic
/// libraries, upgrade them while their processes run, roll back what fails.
#[cfg(feature = "hot")]
#[doc(inline)]
pub use ferrotp_loader as hot;

/// The contract a hot module is written against (feature `hot`): `HotModule`, `Interface`,
/// `export_module!`. A module crate depends on `ferrotp-abi` directly, not on this facade,
/// which would bring tokio into it.
#[cfg(feature = "hot")]
#[doc(inline)]
pub use ferrotp_abi as abi;

/// Distribution (feature `dist`): a ferrotp node joins Erlang and Elixir clusters, and
/// ferrotp nodes talk to each other, over Erlang's distribution protocol. See
/// `docs/distribution.md`.
#[cfg(feature = "dist")]
#[doc(inline)]
pub use ferrotp_dist as dist;

/// The live observer: the supervision tree, processes, crashes and upgrades in a browser
/// (feature `observer`).
#[cfg(feature = "observer")]
pub use ferrotp_observer as observer;

/// Declare a GenServer from an `impl` block: `init` builds the state, `#[call]` methods answer
/// requests, `#[cast]` methods take fire-and-forget messages.
///
/// For `impl Counter`, it generates `CounterCall` and `CounterCast` (the messages; each call
/// carries the typed handle of its own reply), the `GenServer` impl with its dispatch, a typed
/// `CounterClient` with one method per handler (calls return `Result<T, CallError>` with the
/// handler's own return type, with a `_timeout` variant; casts return nothing, as OTP's), and
/// `Counter::start`, `start_link`, `start_with`, and `child_spec` and `child_spec_once` (which
/// take `init`'s arguments, like `start`). Handlers may be `async` or not.
///
/// | attribute | takes | reached by |
/// |---|---|---|
/// | `#[call] fn get(&self, ..) -> T` | arguments | `client.get(..).await` |
/// | `#[cast] fn add(&mut self, ..)` | arguments | `client.add(..)` |
/// | `#[info] fn on_tick(&mut self, m: M)` | your own message type `M` | `Server::send`, timers |
/// | `#[down] fn on_down(&mut self, d: Down)` | a monitor's `Down` | `ctx.monitor(pid)` |
/// | `#[exit] fn on_exit(&mut self, e: Exit)` | a trapped exit signal | `ctx.trap_exit(true)` + a link |
/// | `#[timeout] fn on_idle(&mut self)` | nothing | `ctx.set_timeout(d)`, no message for `d` |
/// | `#[on_continue] fn next(&mut self, c: C)` | a continuation | `ctx.continue_with(c)` |
///
/// * Any handler (and `init`) may take `&mut ServerContext<Self>` as its last parameter: its
///   pid, links, monitors, timers to itself.
/// * A `#[call]` that answers later takes a `ReplyTo<T>` parameter instead of returning `T`,
///   and calls `reply` on it from a later callback or another process.
/// * A handler stops the server with `ctx.stop(reason)`: `terminate` runs, then a call's reply
///   is sent, then the process exits (OTP's `{stop, Reason, Reply, State}`).
/// * Each of `#[info]`, `#[down]`, `#[exit]`, `#[timeout]` and `#[on_continue]` appears at most
///   once; what a server has no handler for is logged and dropped, as OTP's default
///   `handle_info` does. `handle_info` and its kin are generated: writing one is an error that
///   names the attribute to use, and so is an `#[info]` taking the runtime's `Info<T>`.
///   (`continue` is a keyword, so it cannot name an attribute.)
/// * `terminate` and `code_change` are recognised by name.
/// * Options: `#[gen_server(name = "counter", vsn = "2", mailbox_capacity = 1000,
///   call_timeout_ms = 2000)]` register servers started by the generated functions under a
///   name (and add `CounterClient::registered()`), set the version `sys` reports and upgrades
///   use, bound their mailbox, and change the client's default call timeout; `vis = pub(crate)`
///   gives the generated messages and client the type's own visibility (default `pub`);
///   `crate = path` names the facade when it is re-exported elsewhere.
/// * Generic servers (`impl<T: Send + 'static> Cache<T>`) get generic messages and clients.
/// * `remote` (feature `dist`) makes the server answer other nodes, BEAM ones included, and
///   generates `CounterRemote`, a client of a server of this type on another node with the
///   same methods (calls return `Result<T, RemoteCallError>`, casts
///   `Result<(), DistError>`). Requests follow Erlang's convention: a handler without
///   arguments is its name's atom (`gen_server:call(S, get)`), one with arguments a tuple
///   tagged by it (`gen_server:call(S, {add, 5})`); arguments and replies cross as terms
///   (`serde`), so their types implement `Serialize` and `Deserialize`. Export the running
///   server with `Node::export`. Remote servers cannot be generic.
/// * `debug_state` shows the state's `Debug` (pretty-printed) in observers: it implements
///   `GenServer::format_status`, which nothing shows by default. Leave it off for states
///   holding secrets.
///
/// Every mistake is reported at once, pointing at the offending tokens, with what to write
/// instead.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{gen_server, ExitReason};
///
/// struct Counter {
///     count: u64,
/// }
///
/// #[gen_server]
/// impl Counter {
///     async fn init(start: u64) -> Result<Self, ExitReason> {
///         Ok(Counter { count: start })
///     }
///
///     #[call]
///     async fn get(&self) -> u64 {
///         self.count
///     }
///
///     #[cast]
///     fn add(&mut self, n: u64) {
///         self.count += n;
///     }
/// }
///
/// let counter = Counter::start(40).await.unwrap();
/// counter.add(2);
/// assert_eq!(counter.get().await, Ok(42));
/// # }
/// ```
pub use ferrotp_macros::gen_server;

/// The names most programs use, the `#[gen_server]` attribute among them.
pub mod prelude {
    pub use ferrotp_macros::gen_server;
    pub use ferrotp_runtime::agent::Agent;
    pub use ferrotp_runtime::gen_server::{
        self, CallError, CallResult, GenServer, HandleResult, Info, Init, Next, ReplyTo, Server,
        ServerContext, StartError, StartOptions,
    };
    pub use ferrotp_runtime::process::{self, Builder};
    pub use ferrotp_runtime::registry::{self, Keys, Name, Registry};
    // Not `Strategy`: proptest's prelude has a trait of that name; write `supervisor::Strategy`.
    pub use ferrotp_runtime::supervisor::{
        self, Child, ChildSpec, DynamicSupervisor, DynamicSupervisorFlags, Restart, Shutdown,
        Supervisor, SupervisorError, SupervisorFlags, SupervisorInit, SupervisorModule,
    };
    pub use ferrotp_runtime::sys;
    pub use ferrotp_runtime::task::{Task, TaskSupervisor};
    pub use ferrotp_runtime::timer::{self, TimerRef};
    pub use ferrotp_runtime::{
        Addr, Context, Down, Exit, ExitReason, Message, NoProcError, Pid, ProcessResult, Reference,
        SendError, SpawnError,
    };
}

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
