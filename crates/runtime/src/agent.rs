//! Elixir's `Agent`: state behind a process, read and changed with closures.
//!
//! An agent is a [`GenServer`] whose callbacks are the closures its clients send. Use it for
//! shared state that needs no protocol of its own; write a GenServer when the state has rules.
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::agent::Agent;
//!
//! let counter = Agent::start(|| 0u64).await.unwrap();
//! counter.update(|n| *n += 1).await.unwrap();
//! let before = counter.get_and_update(|n| { let old = *n; *n *= 10; old }).await.unwrap();
//! assert_eq!(before, 1);
//! assert_eq!(counter.get(|n| *n).await.unwrap(), 10);
//! # }
//! ```
//!
//! A closure that panics crashes the agent, as an exception in an Elixir agent function does;
//! the caller gets [`CallError::Exit`] with the panic.

use std::fmt;
use std::time::Duration;

use crate::gen_server::{
    CallError, CallResult, GenServer, HandleResult, Init, ReplyTo, Server, ServerContext,
    StartError, StartOptions, StopError,
};
use crate::registry::Name;
use crate::supervisor::ChildSpec;
use crate::ExitReason;

/// A closure run on the state; a call's closure carries its typed reply handle and replies
/// itself.
type Op<T> = Box<dyn FnOnce(&mut T) + Send>;

/// The GenServer behind an [`Agent`].
pub struct AgentState<T> {
    state: T,
}

impl<T> fmt::Debug for AgentState<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentState").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> GenServer for AgentState<T> {
    type Args = Box<dyn FnOnce() -> T + Send>;
    type Call = Op<T>;
    type Cast = Op<T>;
    type Info = ();
    type Continue = ();

    async fn init(make: Self::Args, _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(AgentState { state: make() })
    }

    async fn handle_call(&mut self, op: Op<T>, _: &mut ServerContext<Self>) -> CallResult<Self> {
        op(&mut self.state);
        CallResult::noreply()
    }

    async fn handle_cast(&mut self, op: Op<T>, _: &mut ServerContext<Self>) -> HandleResult<Self> {
        op(&mut self.state);
        HandleResult::noreply()
    }
}

/// A handle to an agent holding a `T`.
pub struct Agent<T: Send + 'static> {
    server: Server<AgentState<T>>,
}

impl<T: Send + 'static> Clone for Agent<T> {
    fn clone(&self) -> Self {
        Agent {
            server: self.server.clone(),
        }
    }
}

impl<T: Send + 'static> fmt::Debug for Agent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Agent").field(&self.server.pid()).finish()
    }
}

impl<T: Send + 'static> Agent<T> {
    /// Start an agent whose state is `init()`, computed inside the agent.
    ///
    /// # Errors
    ///
    /// [`StartError::Exited`] if `init` panics.
    pub async fn start(init: impl FnOnce() -> T + Send + 'static) -> Result<Self, StartError> {
        Self::start_with(init, StartOptions::new()).await
    }

    /// Start an agent linked to the calling process.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_link(init: impl FnOnce() -> T + Send + 'static) -> Result<Self, StartError> {
        Self::start_with(init, StartOptions::new().link()).await
    }

    /// Start with options (a name, a link, a start timeout).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), and [`StartError::AlreadyStarted`] for a taken name.
    pub async fn start_with(
        init: impl FnOnce() -> T + Send + 'static,
        opts: StartOptions,
    ) -> Result<Self, StartError> {
        Ok(Agent {
            server: Self::start_server(init, opts).await?,
        })
    }

    /// A child spec that starts an agent whose state is `init()` under a supervisor; `init`
    /// runs again at each restart. Its id is `"Agent"`.
    pub fn child_spec(init: impl Fn() -> T + Send + Sync + 'static) -> ChildSpec {
        let init = std::sync::Arc::new(init);
        ChildSpec::worker("Agent", move |opts| {
            let init = init.clone();
            async move { crate::supervisor::started(Agent::start_server(move || init(), opts).await) }
        })
    }

    async fn start_server(
        init: impl FnOnce() -> T + Send + 'static,
        opts: StartOptions,
    ) -> Result<Server<AgentState<T>>, StartError> {
        crate::gen_server::start_with::<AgentState<T>>(Box::new(init), opts).await
    }

    /// The agent's pid (`None` for a name nobody holds now).
    pub fn pid(&self) -> Option<crate::Pid> {
        self.server.pid()
    }

    /// The agent registered under `name` (local or via), resolved at each request.
    pub fn named(name: impl Into<Name>) -> Self {
        Agent {
            server: Server::named(name),
        }
    }

    /// Read from the state: `f(&state)`.
    ///
    /// # Errors
    ///
    /// As [`Server::call`].
    pub async fn get<R: Send + 'static>(
        &self,
        f: impl FnOnce(&T) -> R + Send + 'static,
    ) -> Result<R, CallError> {
        self.get_and_update(move |s| f(s)).await
    }

    /// Change the state with `f`, waiting until it is done.
    ///
    /// # Errors
    ///
    /// As [`Server::call`].
    pub async fn update(&self, f: impl FnOnce(&mut T) + Send + 'static) -> Result<(), CallError> {
        self.get_and_update(f).await
    }

    /// Change the state with `f` and return what `f` returns.
    ///
    /// # Errors
    ///
    /// As [`Server::call`].
    pub async fn get_and_update<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
    ) -> Result<R, CallError> {
        self.get_and_update_timeout(f, crate::gen_server::DEFAULT_CALL_TIMEOUT)
            .await
    }

    /// [`get_and_update`](Self::get_and_update) with a call timeout.
    ///
    /// # Errors
    ///
    /// As [`Server::call`].
    pub async fn get_and_update_timeout<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, CallError> {
        self.server
            .call_timeout(
                |to: ReplyTo<R>| -> Op<T> {
                    Box::new(move |state| {
                        let _ = to.reply(f(state));
                    })
                },
                timeout,
            )
            .await
    }

    /// Change the state with `f` without waiting (fire and forget).
    pub fn cast(&self, f: impl FnOnce(&mut T) + Send + 'static) {
        self.server.cast(Box::new(f));
    }

    /// Stop the agent with `Normal` and wait for it to exit.
    ///
    /// # Errors
    ///
    /// As [`Server::stop`].
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal, None).await
    }

    /// The underlying server handle (for `sys` and supervisors).
    pub fn server(&self) -> &Server<AgentState<T>> {
        &self.server
    }
}
