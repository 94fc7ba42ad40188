//! Spawning processes with options.

use std::future::Future;
use std::sync::Arc;

use super::cell::{AnyProcess, ProcessCell};
use super::core::{Status, Watcher};
use super::runner::{Code, Runner};
use super::{panic, table, Context, JoinHandle};
use crate::error::SpawnError;
use crate::registry::Name;
use crate::{Addr, Pid, ProcessResult, Reference};

/// Options for spawning a process: a bounded mailbox, `trap_exit` from the start, a registered
/// name, and a link or monitor set up before the process runs.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::process::Builder;
/// use ferrotp::{registry, Message};
///
/// let addr = Builder::new()
///     .name("logger")
///     .mailbox_capacity(1024)
///     .spawn(|mut ctx| async move {
///         while let Message::User(line) = ctx.recv().await {
///             let _: String = line;
///         }
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(registry::whereis("logger"), Some(addr.pid()));
/// # }
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    capacity: Option<usize>,
    trap_exit: bool,
    name: Option<Name>,
    links: Vec<Pid>,
    monitor: Option<(Pid, Reference)>,
}

impl Builder {
    /// Default options: unbounded mailbox, not trapping exits, no name, no link.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Bound the mailbox to `capacity` queued user messages. A send to a full mailbox returns
    /// the message in a [`SendError`](crate::SendError); exit and down notices are never
    /// refused.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Trap exits from the start, so no exit signal can slip in before the body sets the flag.
    pub fn trap_exit(mut self, on: bool) -> Self {
        self.trap_exit = on;
        self
    }

    /// Register the process under `name` — a local name or a
    /// [`Via`](crate::registry::Via) name — before it runs.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Link the process to `pid` before it runs (what `spawn_link` does with the caller). May
    /// be given several times: all links exist before the body's first poll.
    pub fn link(mut self, pid: Pid) -> Self {
        if !self.links.contains(&pid) {
            self.links.push(pid);
        }
        self
    }

    /// Link the process to the calling process before it runs, as
    /// [`spawn_link`](super::spawn_link) does; from outside any process there is nothing to
    /// link to, and this does nothing.
    pub fn link_caller(self) -> Self {
        match super::current() {
            Some(caller) => self.link(caller),
            None => self,
        }
    }

    /// Spawn the process monitored by the calling process: the monitor exists before the
    /// body's first poll, so a process that dies at once is never missed — its `Down` arrives
    /// with the returned reference (Erlang's `spawn_monitor`).
    ///
    /// # Errors
    ///
    /// [`SpawnError::NotInProcess`] when not called from a process (a monitor needs a
    /// process to deliver its `Down` to), or as [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ferrotp::Context;
    /// use ferrotp::process::{self, Builder};
    /// use ferrotp::{ExitReason, Message};
    ///
    /// let watcher = process::spawn(|mut ctx: Context| async move {
    ///     let (child, reference) = Builder::new()
    ///         .spawn_monitor(|_: Context| async { Err(ExitReason::error("at once")) })
    ///         .unwrap();
    ///     match ctx.recv().await {
    ///         Message::Down(down) => {
    ///             assert_eq!((down.reference, down.pid), (reference, child.pid()));
    ///             assert_eq!(down.reason, ExitReason::error("at once"));
    ///         }
    ///         other => panic!("{other:?}"),
    ///     }
    ///     Ok(())
    /// });
    /// assert!(process::await_exit(watcher.pid()).await.is_normal());
    /// # }
    /// ```
    pub fn spawn_monitor<M, F, Fut>(mut self, body: F) -> Result<(Addr<M>, Reference), SpawnError>
    where
        M: Send + 'static,
        F: FnOnce(Context<M>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        let watcher = super::current().ok_or(SpawnError::NotInProcess)?;
        let reference = Reference::new();
        self.monitor = Some((watcher, reference));
        self.spawn(body).map(|addr| (addr, reference))
    }

    pub(crate) fn monitored_by(mut self, watcher: Pid, reference: Reference) -> Self {
        self.monitor = Some((watcher, reference));
        self
    }

    /// Spawn the process on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] if the name is taken or the process to link to is not alive, or
    /// [`SpawnError::NoRuntime`] outside a tokio runtime; the body never runs then, and
    /// nobody is linked to, monitored by or told about the process that was not spawned.
    pub fn spawn<M, F, Fut>(self, body: F) -> Result<Addr<M>, SpawnError>
    where
        M: Send + 'static,
        F: FnOnce(Context<M>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        self.spawn_joinable(body).map(|(addr, _)| addr)
    }

    /// [`spawn`](Self::spawn), also returning a [`JoinHandle`] that yields the process's exit
    /// reason.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_joinable<M, F, Fut>(self, body: F) -> Result<(Addr<M>, JoinHandle), SpawnError>
    where
        M: Send + 'static,
        F: FnOnce(Context<M>) -> Fut + Send + 'static,
        Fut: Future<Output = ProcessResult> + Send + 'static,
    {
        // Before anything is linked: a spawn that cannot happen must not leave a half-made
        // process whose cleanup would send its partners an exit signal.
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SpawnError::NoRuntime)?;
        panic::install_hook();
        let pid = Pid::new_local();
        let cell = Arc::new(ProcessCell::<M>::new(pid, self.capacity, self.trap_exit));
        // In the table first: a link partner that dies while we finish setting up must find us.
        table::insert(pid, cell.clone() as Arc<dyn AnyProcess>);
        let plain = self.links.is_empty() && self.monitor.is_none() && self.name.is_none();
        if plain {
            // Nothing to attach: the common spawn skips the bookkeeping.
        } else if let Err(e) = self.attach(&cell) {
            // `attach` fails before any link or monitor exists: nobody is to be told.
            cell.core.begin_exit(&crate::ExitReason::NoProc);
            cell.core.mark_dead();
            table::remove(pid);
            return Err(e);
        }
        tracing::trace!(%pid, "process spawned");
        let ctx = Context::new(cell.clone());
        let task = runtime.spawn(Runner::new(cell.clone(), Code::new(move || body(ctx))));
        Ok((Addr::from_cell(cell), JoinHandle::new(pid, task)))
    }

    /// Name, link and monitor the new process; every step that can fail comes before the first
    /// relation is made.
    fn attach<M: Send + 'static>(&self, cell: &Arc<ProcessCell<M>>) -> Result<(), SpawnError> {
        let pid = cell.core.pid;
        let watcher = match self.monitor {
            Some((w, reference)) => Some((table::get(w).ok_or(SpawnError::NoProc(w))?, reference)),
            None => None,
        };
        let partners = self
            .links
            .iter()
            .map(|&p| table::get(p).ok_or(SpawnError::NoProc(p)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(n) = &self.name {
            n.register(pid)?;
        }
        for (i, p) in partners.iter().enumerate() {
            let (mut mine, mut theirs) = super::core::lock_pair(&cell.core, p.core());
            if theirs.status != Status::Running {
                drop((mine, theirs));
                // Undo what was attached: the process never ran, nobody is to be told.
                for earlier in &partners[..i] {
                    if let Some(rel) = earlier.core().lock().relations.as_mut() {
                        rel.links.remove(&pid);
                    }
                }
                if let Some(n) = &self.name {
                    n.release(pid);
                }
                return Err(SpawnError::NoProc(p.core().pid));
            }
            mine.relations().links.insert(p.core().pid);
            theirs.relations().links.insert(pid);
        }
        if let Some((w, reference)) = watcher {
            w.core()
                .lock()
                .relations()
                .monitoring
                .insert(reference, pid);
            // Cannot be refused: the new process is not running code yet, so it is not exiting.
            let _ = cell
                .core
                .add_watcher(reference, Watcher::Process(w.core().pid));
        }
        Ok(())
    }
}
