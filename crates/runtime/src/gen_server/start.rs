//! Starting a GenServer: synchronous start, names, start timeout.

use std::time::Duration;

use tokio::sync::oneshot;

use super::{event_loop, GenServer, Server, StartError};
use crate::process::{self, table, Builder};
use crate::registry::Name;
use crate::signal::ops;
use crate::{ExitReason, RegisterError, SpawnError};

/// How to start a server: linked or not, under a name, with a start timeout or a bounded
/// mailbox.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # use ferrotp::gen_server::StartOptions;
/// # use std::time::Duration;
/// let opts = StartOptions::new().name("cache").timeout(Duration::from_secs(1));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub(crate) link: bool,
    pub(crate) name: Option<Name>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) mailbox_capacity: Option<usize>,
}

impl StartOptions {
    /// Not linked, no name, no start timeout, unbounded mailbox.
    pub fn new() -> Self {
        StartOptions::default()
    }

    /// Link the server to the calling process (what `start_link` does). The calling process
    /// becomes the server's *parent*. From outside any process there is nothing to link to,
    /// and this has no effect.
    pub fn link(mut self) -> Self {
        self.link = true;
        self
    }

    /// Register the server under `name` — a local name, or a [`Via`](crate::registry::Via)
    /// name such as a [`Registry`](crate::registry::Registry) key — before `init` runs. A
    /// taken name fails the start with [`StartError::AlreadyStarted`] and `init` is never
    /// called. The name is released when the server exits.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name, if one was given.
    pub fn name_ref(&self) -> Option<&Name> {
        self.name.as_ref()
    }

    /// A process [`Builder`] with these options' link (to the calling process), name and
    /// mailbox bound: for a start function that spawns a plain process rather than a
    /// GenServer.
    pub fn builder(&self) -> Builder {
        let mut builder = Builder::new();
        if let Some(name) = &self.name {
            builder = builder.name(name.clone());
        }
        if let Some(capacity) = self.mailbox_capacity {
            builder = builder.mailbox_capacity(capacity);
        }
        if self.link {
            builder = builder.link_caller();
        }
        builder
    }

    /// Kill the server and fail with [`StartError::Timeout`] if `init` takes longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Bound the server's mailbox; see
    /// [`Builder::mailbox_capacity`](crate::process::Builder::mailbox_capacity).
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = Some(capacity);
        self
    }
}

/// What `init` told the starter.
pub(crate) enum InitAck {
    Started,
    Failed(StartError),
}

/// Start a server with `opts`; returns once `init` has finished.
///
/// # Errors
///
/// See [`StartError`]. When the start fails, the process has already exited and its name is
/// free again, so an immediate retry cannot see `AlreadyStarted`.
pub async fn start_with<S: GenServer>(
    args: S::Args,
    opts: StartOptions,
) -> Result<Server<S>, StartError> {
    let parent = if opts.link { process::current() } else { None };
    let (ack_tx, ack_rx) = oneshot::channel();
    let mut builder = Builder::new();
    if let Some(name) = &opts.name {
        builder = builder.name(name.clone());
    }
    if let Some(capacity) = opts.mailbox_capacity {
        builder = builder.mailbox_capacity(capacity);
    }
    if let Some(p) = parent {
        builder = builder.link(p);
    }
    let addr = builder
        .spawn(move |ctx| event_loop::run::<S>(ctx, args, parent, ack_tx))
        .map_err(|e| match e {
            SpawnError::Register(RegisterError::AlreadyRegistered { holder, .. }) => {
                StartError::AlreadyStarted(holder)
            }
            SpawnError::Register(other) => StartError::Register(other),
            // The parent is the caller, which is running.
            SpawnError::NoProc(_) => StartError::Exited(ExitReason::NoProc),
            SpawnError::NoRuntime => StartError::NoRuntime,
            SpawnError::NotInProcess => unreachable!("a start sets up no monitor"),
        })?;
    let pid = addr.pid();
    let ack = match opts.timeout {
        None => ack_rx.await,
        Some(t) => match tokio::time::timeout(t, ack_rx).await {
            Ok(ack) => ack,
            Err(_) => {
                // OTP's proc_lib: unlink first, so the caller is not hit by the kill.
                if let Some(p) = parent.and_then(table::get) {
                    ops::unlink(&*p, pid);
                }
                let _ = process::exit(pid, ExitReason::Kill);
                exit_completed(&addr).await;
                return Err(StartError::Timeout(t));
            }
        },
    };
    match ack {
        Ok(InitAck::Started) => Ok(Server::from_addr(addr)),
        Ok(InitAck::Failed(e)) => {
            // As OTP's `proc_lib:start_link`, which waits for the `'EXIT'` of a failed start:
            // the name is free again when this returns.
            exit_completed(&addr).await;
            Err(e)
        }
        Err(_) => {
            let reason = exit_completed(&addr).await;
            Err(StartError::Exited(addr.exit_reason().unwrap_or(reason)))
        }
    }
}

/// Wait until a process that failed to start has completed its exit (its name released, its
/// links told); its exit reason.
///
/// Only failed starts wait, so a start watches nothing while it waits for the `init`
/// acknowledgement: a watch on every start stayed on the child, unused, for its whole life, and
/// with its callback at the child's exit cost ~1,500 instructions per restart. Watching this
/// late can find the child already exiting, too late to be told: then the rest of its exit,
/// under way on another thread (destructors of queued messages, telling its links), is waited
/// out by polling the cell — a few yields, then every millisecond, so that a slow destructor
/// does not keep a worker spinning. The exit always ends in the mark polled for, even when a
/// step of it panics (`exit_process`). Boxed and cold: inline, its timer made every start's
/// future (and every supervisor's) larger, and the common path ~400 instructions slower.
#[cold]
fn exit_completed<M: Send + 'static>(
    addr: &crate::Addr<M>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ExitReason> + Send + '_>> {
    Box::pin(async move {
        let reason = process::await_exit(addr.pid()).await;
        let mut polls = 0u32;
        while !addr.exit_completed() {
            if polls < 16 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            polls += 1;
        }
        reason
    })
}
