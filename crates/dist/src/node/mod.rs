//! A ferrotp node: a named member of an Erlang cluster.
//!
//! [`Node::builder`]`(..).start()` gives this OS process a node name, listens for other nodes (on loopback
//! unless configured otherwise), registers with EPMD (starting one if none runs), and
//! installs itself as the runtime's [`Distribution`](ferrotp_runtime::distribution): from then
//! on, local processes link to, monitor and send exit signals to processes on other nodes
//! with the same calls as locally, and a lost node reaches them as `noconnection`.
//!
//! A ferrotp node is a **hidden** node: BEAM nodes list it in `nodes(hidden)`, not in
//! `nodes()`, and `global` does not synchronise with it. A published node must answer the
//! `global` name server and `rex` (the `rpc` server), which ferrotp does not.
//!
//! Connections are made on demand, as in OTP: the first message, link or monitor toward a
//! node connects to it.

pub(crate) mod config;
pub mod cookie;
pub(crate) mod shared;
pub(crate) mod table;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_runtime::gen_server::Server;
use ferrotp_runtime::{distribution, process, Addr, ExitReason, Pid};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use config::NodeConfig;
pub use cookie::{Cookie, CookieError};

use crate::epmd::{EpmdClient, EpmdError, EpmdServer, Registration};
use crate::export::{ProcessInbox, RemoteServer, ServerInbox};
use crate::handshake::HandshakeError;
use crate::serde::{from_term, to_term, SerdeError};
use crate::term::{EncodeError, ExternalPid, Term};
use shared::Shared;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// Not a node name: `name@host`, both parts non-empty.
    #[error("invalid node name {0:?}: expected name@host")]
    InvalidName(String),
    /// This OS process is already a node.
    #[error("this OS process is already a node: stop it first")]
    AlreadyStarted,
    /// No cookie could be had.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// EPMD refused or could not be reached.
    #[error(transparent)]
    Epmd(#[from] EpmdError),
    /// The handshake with a node failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// A node could not be connected to.
    #[error("cannot connect to {node}: {reason}")]
    ConnectFailed {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The node is not connected (any more).
    #[error("not connected to {0}")]
    NotConnected(String),
    /// The queue toward the node is full: the message was not sent. Retry later, or slow
    /// down; see the crate's back-pressure notes.
    #[error("the connection to {node} is busy ({queued} bytes queued): message not sent")]
    Busy {
        /// The node.
        node: String,
        /// Bytes waiting to be written.
        queued: usize,
    },
    /// The call must be made from inside a process (it is the one that monitors).
    #[error("not called from a process: a monitor belongs to the process that makes it")]
    NotAProcess,
    /// A pid whose node this node has never heard of.
    #[error("a pid of unknown node #{0}")]
    UnknownNode(u32),
    /// A remote operation was given a local pid.
    #[error("{0} is a local process: send to it directly")]
    LocalPid(Pid),
    /// The message cannot be a term.
    #[error("the message is not a term: {0}")]
    Encode(EncodeError),
    /// The message does not map to a term.
    #[error("the message is not a term: {0}")]
    Serde(#[from] SerdeError),
    /// A frame beyond the format's 4 GiB.
    #[error("a message of {0} bytes is too large to send")]
    TooLarge(usize),
    /// A socket failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a call to a process on another node gave no reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteCallError {
    /// No reply within the timeout; a late reply is dropped.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The server exited (or was not there: `NoProc`), or its node was lost
    /// (`NoConnection`), before replying.
    #[error("the server exited before replying: {0}")]
    Exit(ExitReason),
    /// The call could not be made.
    #[error(transparent)]
    Dist(#[from] DistError),
    /// The reply is not of the expected type.
    #[error("the reply does not decode: {0}")]
    BadReply(SerdeError),
}

/// A node coming up or going down, as `net_kernel:monitor_nodes/1` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// Connected to the node.
    Up(String),
    /// The connection to the node is gone, for the reason given.
    Down(String, String),
}

/// Where a message goes on another node: a pid, or a registered name on a node (Erlang's
/// `{Name, Node}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// A process.
    Pid(Pid),
    /// A registered name on a node.
    Name {
        /// The registered name.
        name: String,
        /// The node, `name@host`.
        node: String,
    },
}

impl From<Pid> for Dest {
    fn from(pid: Pid) -> Dest {
        Dest::Pid(pid)
    }
}

impl From<(&str, &str)> for Dest {
    fn from((name, node): (&str, &str)) -> Dest {
        Dest::Name {
            name: name.to_owned(),
            node: node.to_owned(),
        }
    }
}

/// Builds a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    config: NodeConfig,
}

impl NodeBuilder {
    /// Set the cookie (otherwise `~/.erlang.cookie`).
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.config.cookie = Some(cookie);
        self
    }

    /// Listen on `addr` instead of `127.0.0.1` on a free port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = addr;
        self
    }

    /// Use the EPMD at `addr`.
    pub fn epmd(mut self, addr: SocketAddr) -> Self {
        self.config.epmd = addr;
        self
    }

    /// Whether to start an EPMD server when none answers (default: yes).
    pub fn start_epmd(mut self, start: bool) -> Self {
        self.config.start_epmd = start;
        self
    }

    /// OTP's `net_ticktime` (default 60 s).
    pub fn net_ticktime(mut self, ticktime: Duration) -> Self {
        self.config.net_ticktime = ticktime;
        self
    }

    /// OTP's `net_setuptime` (default 7 s).
    pub fn setup_time(mut self, setup: Duration) -> Self {
        self.config.setup_time = setup;
        self
    }

    /// The largest frame accepted from a peer (default 64 MiB).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.config.max_frame = bytes;
        self
    }

    /// The bound on bytes queued toward one peer (default 64 MiB).
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.config.max_queued_bytes = bytes;
        self
    }

    /// Start the node.
    ///
    /// # Errors
    ///
    /// See [`DistError`]: an invalid name, no cookie, EPMD unreachable (with `start_epmd`
    /// off) or the name taken, or this OS process already a node.
    pub async fn start(self) -> Result<Node, DistError> {
        Node::start_with(self.config).await
    }
}

/// The node this OS process is, while one runs.
static CURRENT: Mutex<Option<Node>> = parking_lot::const_mutex(None);

/// The running node of this OS process, if one was started (Erlang's `node()` is its
/// [`name`](Node::name)).
pub fn node() -> Option<Node> {
    CURRENT.lock().clone()
}

/// A running node. Cheap to clone; [`stop`](Node::stop) ends it.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
    parts: Arc<Parts>,
}

/// What the node owns besides its state.
struct Parts {
    listener: JoinHandle<()>,
    addr: SocketAddr,
    registration: Mutex<Option<Registration>>,
    epmd_server: Mutex<Option<EpmdServer>>,
    router: Addr<()>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.shared.name)
            .field("creation", &self.shared.creation)
            .field("listening", &self.parts.addr)
            .finish()
    }
}

impl Node {
    /// A builder for the node `name` (`rust@localhost`, `rust@127.0.0.1`).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), ferrotp_dist::DistError> {
    /// use ferrotp_dist::{Cookie, Node};
    ///
    /// let node = Node::builder("rust@127.0.0.1")
    ///     .cookie(Cookie::new("secret")?)
    ///     .start()
    ///     .await?;
    /// println!("started {}", node.name());
    /// # Ok(()) }
    /// ```
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            config: NodeConfig::new(name),
        }
    }

    /// Start a node with `config`.
    ///
    /// # Errors
    ///
    /// As [`NodeBuilder::start`].
    pub async fn start_with(config: NodeConfig) -> Result<Node, DistError> {
        if !crate::handshake::valid_node_name(&config.name) {
            return Err(DistError::InvalidName(config.name));
        }
        if distribution::is_installed() {
            return Err(DistError::AlreadyStarted);
        }
        let cookie = match &config.cookie {
            Some(c) => c.clone(),
            None => Cookie::from_home()?,
        };
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let alive = config
            .name
            .split_once('@')
            .map_or("", |(a, _)| a)
            .to_owned();
        let epmd = EpmdClient::new(config.epmd).timeout(config.setup_time);
        let (registration, epmd_server) = match epmd.register(&alive, addr.port()).await {
            Ok(r) => (r, None),
            Err(EpmdError::Unreachable { .. }) if config.start_epmd => {
                let server = EpmdServer::bind(config.epmd).await?;
                (epmd.register(&alive, addr.port()).await?, Some(server))
            }
            Err(e) => return Err(e.into()),
        };
        let router = process::spawn(|_: ferrotp_runtime::Context| std::future::pending());
        let shared = Shared::new(config, cookie, registration.creation(), router.pid());
        if distribution::install(shared.clone()).is_err() {
            let _ = process::exit(router.pid(), ExitReason::Kill);
            return Err(DistError::AlreadyStarted);
        }
        let accepting = shared.clone();
        let listener = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(accepting.clone().accept(stream));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a node connection failed");
                        // Out of file descriptors, typically: a pause instead of a busy loop
                        // that would log the same error as fast as it can.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let node = Node {
            shared,
            parts: Arc::new(Parts {
                listener,
                addr,
                registration: Mutex::new(Some(registration)),
                epmd_server: Mutex::new(epmd_server),
                router,
            }),
        };
        tracing::info!(node = %node.name(), %addr, creation = node.creation(), "node started");
        *CURRENT.lock() = Some(node.clone());
        Ok(node)
    }

    /// Stop the node: every connection is closed (links to remote processes break with
    /// `noconnection`), the name leaves EPMD, and the runtime's remote pids are unreachable
    /// again.
    pub fn stop(&self) {
        distribution::uninstall();
        self.parts.listener.abort();
        self.shared.disconnect_all();
        self.parts.registration.lock().take();
        self.parts.epmd_server.lock().take();
        let _ = process::exit(self.parts.router.pid(), ExitReason::Kill);
        let mut current = CURRENT.lock();
        if current
            .as_ref()
            .is_some_and(|n| Arc::ptr_eq(&n.shared, &self.shared))
        {
            *current = None;
        }
    }

    /// The node's name, `name@host` (Erlang's `node()`).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The creation EPMD gave this incarnation.
    pub fn creation(&self) -> u32 {
        self.shared.creation
    }

    /// Where it listens for other nodes.
    pub fn listen_addr(&self) -> SocketAddr {
        self.parts.addr
    }

    /// Whether this node runs the EPMD server (no EPMD was running when it started).
    pub fn runs_epmd(&self) -> bool {
        self.parts.epmd_server.lock().is_some()
    }

    /// The connected nodes (Erlang's `nodes(connected)`).
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes = self.shared.table.lock().connected();
        nodes.sort();
        nodes
    }

    /// Connect to `node` (Erlang's `net_kernel:connect_node/1`); done at once if connected.
    ///
    /// # Errors
    ///
    /// If the node cannot be reached or refuses us (a wrong cookie, among others).
    pub async fn connect(&self, node: &str) -> Result<(), DistError> {
        self.shared.connect(node).await.map(|_| ())
    }

    /// Close the connection to `node` (Erlang's `erlang:disconnect_node/1`): links to its
    /// processes break with `noconnection`. `false` if it was not connected.
    pub fn disconnect(&self, node: &str) -> bool {
        self.shared.disconnect(node)
    }

    /// Node ups and downs, from now on (Erlang's `net_kernel:monitor_nodes(true)`).
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.shared.events.subscribe()
    }

    /// Wait until `node` goes down (Elixir's `Node.monitor/2`, whose `{:nodedown, node}` is
    /// this future's completion): connects first, and completes at once with the reason if
    /// the node cannot be reached.
    pub async fn monitor_node(&self, node: &str) -> String {
        let mut events = self.events();
        if let Err(e) = self.connect(node).await {
            return e.to_string();
        }
        loop {
            match events.recv().await {
                Ok(NodeEvent::Down(n, why)) if n == node => return why,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !self.nodes().iter().any(|n| n == node) {
                        return "connection lost".into();
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return "the node stopped".into(),
            }
        }
    }

    /// Monitor the process registered as `name` on `node` from the calling process (Erlang's
    /// `erlang:monitor(process, {Name, Node})`): its `Down` arrives in the caller's mailbox
    /// with the returned reference when that process exits (`noproc` if no process holds
    /// the name, `noconnection` if the node is lost). The `Down`'s pid stands for
    /// `{Name, Node}`: it is not a process, and [`node_of`](Self::node_of) gives its node.
    /// Remove it with the process's `demonitor`.
    ///
    /// # Errors
    ///
    /// [`DistError::NotAProcess`] outside a process; an invalid node name.
    pub fn monitor_name(
        &self,
        name: &str,
        node: &str,
    ) -> Result<ferrotp_runtime::Reference, DistError> {
        let watcher = process::current().ok_or(DistError::NotAProcess)?;
        self.shared.monitor_name(watcher, name, node)
    }

    /// Make `server` reachable from other nodes, under its registered name (if it has one,
    /// as `{Name, Node}`) and its pid. See [`RemoteServer`].
    ///
    /// # Errors
    ///
    /// [`DistError::ConnectFailed`] never; `Err` only if the server is not running.
    pub fn export<S: RemoteServer>(&self, server: &Server<S>) -> Result<(), DistError>
    where
        Server<S>: Send + Sync,
    {
        let pid = server
            .pid()
            .ok_or_else(|| DistError::NotConnected("the server is not running".into()))?;
        let inbox = Arc::new(ServerInbox {
            server: server.clone(),
        });
        let name = process::process_info(pid).and_then(|i| i.registered_name);
        let mut exports = self.shared.exports.write();
        match name {
            // By name: the export follows the name to a restarted server.
            Some(name) => {
                let by_name = ServerInbox {
                    server: Server::<S>::named(name.to_string()),
                };
                exports.by_name.insert(name.to_string(), Arc::new(by_name));
            }
            None => {
                exports.by_pid.insert(pid, inbox);
                drop(exports);
                self.forget_on_exit(pid);
            }
        }
        Ok(())
    }

    /// Make the server registered as `name` reachable from other nodes as `{name, Node}`,
    /// whichever process holds the name (it follows restarts).
    pub fn export_named<S: RemoteServer>(&self, name: &str)
    where
        Server<S>: Send + Sync,
    {
        self.shared.exports.write().by_name.insert(
            name.to_owned(),
            Arc::new(ServerInbox {
                server: Server::<S>::named(name.to_owned()),
            }),
        );
    }

    /// Make the process at `addr` reachable from other nodes: their messages arrive as `M`
    /// (decoded with the crate's `serde` mapping; `M = Term` takes any). A message that does
    /// not decode is dropped with a warning.
    pub fn export_process<M: DeserializeOwned + Send + 'static>(&self, addr: &Addr<M>) {
        let pid = addr.pid();
        self.shared.exports.write().by_pid.insert(
            pid,
            Arc::new(ProcessInbox {
                addr: addr.clone(),
                _messages: PhantomData,
            }),
        );
        self.forget_on_exit(pid);
    }

    fn forget_on_exit(&self, pid: Pid) {
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            process::await_exit(pid).await;
            if let Some(shared) = shared.upgrade() {
                shared.exports.write().by_pid.remove(&pid);
            }
        });
    }

    /// Send `message` to `dest` on another node (Erlang's `Dest ! Message`), connecting first
    /// if needed. The sender is the calling process, or the node's own process outside one.
    ///
    /// # Errors
    ///
    /// If the message is not a term, the node cannot be reached, or its queue is full
    /// ([`DistError::Busy`]). As in Erlang, a message to a process that does not exist is
    /// not an error.
    pub async fn send(
        &self,
        dest: impl Into<Dest>,
        message: &impl Serialize,
    ) -> Result<(), DistError> {
        let term = to_term(message)?;
        self.shared.send(&dest.into(), term).await
    }

    /// Call the `gen_server` at `dest` (Erlang's `gen_server:call(Dest, Request, Timeout)`)
    /// and decode its reply as `R`.
    ///
    /// # Errors
    ///
    /// See [`RemoteCallError`].
    pub async fn call<R: DeserializeOwned>(
        &self,
        dest: impl Into<Dest>,
        request: &impl Serialize,
        timeout: Duration,
    ) -> Result<R, RemoteCallError> {
        let term = to_term(request).map_err(DistError::from)?;
        let reply = self.shared.call(&dest.into(), term, timeout).await?;
        from_term(reply).map_err(RemoteCallError::BadReply)
    }

    /// Cast to the `gen_server` at `dest` (Erlang's `gen_server:cast/2`): fire and forget.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn cast(
        &self,
        dest: impl Into<Dest>,
        message: &impl Serialize,
    ) -> Result<(), DistError> {
        let term = Term::tuple([Term::atom("$gen_cast"), to_term(message)?]);
        self.shared.send(&dest.into(), term).await
    }

    /// The local pid for a pid received in a term (its node is learnt if new).
    pub fn pid(&self, external: &ExternalPid) -> Pid {
        self.shared.local_pid_of(external)
    }

    /// The wire form of `pid`, to put in a term; `None` for a pid of a node never heard of.
    pub fn external_pid(&self, pid: Pid) -> Option<ExternalPid> {
        self.shared.wire_pid(pid)
    }

    /// The name of the node `pid` lives on.
    pub fn node_of(&self, pid: Pid) -> Option<String> {
        if pid.is_local() {
            return Some(self.name().to_owned());
        }
        self.shared
            .table
            .lock()
            .name(pid.node())
            .map(|a| a.as_str().to_owned())
    }

    /// Bytes queued toward `node`, not yet written: the back-pressure gauge.
    pub fn queued_bytes(&self, node: &str) -> Option<usize> {
        let table = self.shared.table.lock();
        let i = table.index_of(node)?;
        table.up(i).map(|c| c.queued_bytes())
    }
}
