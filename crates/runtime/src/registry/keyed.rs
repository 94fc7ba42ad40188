//! Elixir's `Registry`: a keyed directory of processes, owned by a process of its own.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, OnceLock, Weak};

use dashmap::DashMap;
use parking_lot::Mutex;

use super::via::{Via, ViaRegistry};
use crate::error::RegisterError;
use crate::gen_server::{
    self, GenServer, HandleResult, Info, Init, ServerContext, StartError, StartOptions,
};
use crate::process::{self, table};
use crate::signal::ops;
use crate::supervisor::{ChildSpec, Started};
use crate::{Pid, Reference};

/// Whether a key may be held by one process or by many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Each key is held by at most one process (for naming).
    Unique,
    /// A key may be registered many times, by many processes (for pub/sub).
    Duplicate,
}

/// A registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// In a unique registry, a live process already holds the key (possibly the caller).
    #[error("the key is already registered to {0}")]
    AlreadyRegistered(Pid),
    /// `register` registers the calling process, and it was not called from one.
    #[error("Registry::register must be called from inside a process: it registers the caller")]
    NotInProcess,
    /// The registry's process is not running (it exited, or no registry has this name): start
    /// it first, typically as a child of the supervisor of the processes that use it.
    #[error("the registry {0} is not running: start it (Registry::start_link or Registry::child_spec) before registering")]
    NotRunning(Arc<str>),
    /// A registry of this name runs with other key or value types.
    #[error("the registry {name} holds keys and values of other types than {expected}")]
    WrongType {
        /// The registry's name.
        name: Arc<str>,
        /// The `Registry<K, V>` asked for.
        expected: &'static str,
    },
}

/// A keyed directory of processes, as Elixir's `Registry`.
///
/// A registry is owned by a process, started like any other ([`Registry::start_link`], or
/// under a supervisor with [`Registry::child_spec`]) and usually registered under a name,
/// through which [`Registry::named`] reaches it from anywhere. Reads — [`lookup`],
/// [`dispatch`], [`keys`], [`count`] — read the shared table directly; they are not calls into
/// the owner process.
///
/// [`register`](Registry::register) adds the **calling process** under a key with a value
/// and links it to the registry's process, as Elixir's does: its entries are removed
/// automatically when it exits, and if the registry's process exits, registered processes
/// receive its exit signal (a restarted registry starts empty, and the processes that were in
/// it are not left believing they are registered). With [`Keys::Unique`] a key names at most
/// one process; with [`Keys::Duplicate`] a key gathers any number of entries (a topic with its
/// subscribers), and [`dispatch`](Registry::dispatch) reaches them all.
///
/// A unique key whose holder has died is free at once, even if cleanup has not run yet
/// (Elixir's rule). [`Registry::via`] names a process by a key, for
/// [`StartOptions::name`](crate::gen_server::StartOptions::name) and every other place that
/// takes a [`Name`](super::Name).
///
/// [`lookup`]: Registry::lookup
/// [`dispatch`]: Registry::dispatch
/// [`keys`]: Registry::keys
/// [`count`]: Registry::count
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::Context;
/// use ferrotp::gen_server::StartOptions;
/// use ferrotp::registry::{Keys, Registry};
/// use ferrotp::process;
///
/// Registry::<&'static str, u32>::start_with(Keys::Duplicate, StartOptions::new().name("topics"))
///     .await
///     .unwrap();
/// let topics = Registry::<&'static str, u32>::named("topics");
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let reg = topics.clone();
/// let sub = process::spawn(move |_ctx: Context| async move {
///     reg.register("news", 1).unwrap();
///     tx.send(()).unwrap();
///     std::future::pending().await
/// });
/// rx.await.unwrap();
/// assert_eq!(topics.lookup(&"news"), vec![(sub.pid(), 1)]);
/// # }
/// ```
pub struct Registry<K, V> {
    target: Target<K, V>,
}

enum Target<K, V> {
    /// One started registry.
    Table(Arc<Table<K, V>>),
    /// Whichever registry holds the name now.
    Name(Arc<str>),
}

/// The registries that have a name, by name: how [`Registry::named`] finds a table without a
/// call into its process. Entries are `Arc<Table<K, V>>` for the registry's types.
static TABLES: LazyLock<DashMap<Arc<str>, Arc<dyn Any + Send + Sync>>> =
    LazyLock::new(Default::default);

pub(crate) struct Table<K, V> {
    keys: Keys,
    name: Option<Arc<str>>,
    /// The owner process, set once it runs.
    owner: OnceLock<Pid>,
    state: Mutex<State<K, V>>,
}

/// Entries are numbered in registration order. Each key keeps its entries in a `BTreeMap` by
/// number — lookups in registration order, removal of one entry in O(log n) — and each process
/// keeps the numbers of its entries, so a dying process's cleanup touches only its own
/// entries, however many others share its keys (100,000 subscribers of one topic leave in
/// O(n log n), not O(n²)).
struct State<K, V> {
    /// Open while the owner process runs.
    open: bool,
    by_key: HashMap<K, BTreeMap<u64, (Pid, V)>>,
    /// Per process: the exit watch that cleans up, and its entries (key and number).
    by_pid: HashMap<Pid, (Reference, Vec<(K, u64)>)>,
    next: u64,
}

impl<K, V> Clone for Registry<K, V> {
    fn clone(&self) -> Self {
        Registry {
            target: match &self.target {
                Target::Table(t) => Target::Table(t.clone()),
                Target::Name(n) => Target::Name(n.clone()),
            },
        }
    }
}

impl<K, V> fmt::Debug for Registry<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Table(t) => f
                .debug_struct("Registry")
                .field("keys", &t.keys)
                .field("name", &t.name)
                .field("owner", &t.owner.get())
                .finish(),
            Target::Name(n) => f.debug_struct("Registry").field("named", n).finish(),
        }
    }
}

impl<K, V> Registry<K, V> {
    /// How this registry reads in errors and names: its name, or its owner's pid.
    fn label(&self) -> Arc<str> {
        match &self.target {
            Target::Name(n) => n.clone(),
            Target::Table(t) => t.label(),
        }
    }
}

impl<K, V> Table<K, V> {
    fn label(&self) -> Arc<str> {
        match (&self.name, self.owner.get()) {
            (Some(n), _) => n.clone(),
            (None, Some(pid)) => pid.to_string().into(),
            (None, None) => "(not started)".into(),
        }
    }
}

impl<K, V> Registry<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Start a registry process, not linked.
    ///
    /// # Errors
    ///
    /// As [`start_with`](Self::start_with).
    pub async fn start(keys: Keys) -> Result<Self, StartError> {
        Self::start_with(keys, StartOptions::new()).await
    }

    /// Start a registry process linked to the caller (Elixir's `Registry.start_link`).
    ///
    /// # Errors
    ///
    /// As [`start_with`](Self::start_with).
    pub async fn start_link(keys: Keys) -> Result<Self, StartError> {
        Self::start_with(keys, StartOptions::new().link()).await
    }

    /// Start a registry process with options; a local name in `opts` is also the name
    /// [`Registry::named`] finds it by.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyStarted`] if the name is taken; [`StartError::NoRuntime`].
    pub async fn start_with(keys: Keys, opts: StartOptions) -> Result<Self, StartError> {
        let name = match opts.name_ref() {
            Some(super::Name::Local(n)) => Some(n.clone()),
            _ => None,
        };
        let table = Arc::new(Table {
            keys,
            name,
            owner: OnceLock::new(),
            state: Mutex::new(State {
                open: false,
                by_key: HashMap::new(),
                by_pid: HashMap::new(),
                next: 0,
            }),
        });
        gen_server::start_with::<RegistryServer<K, V>>(table.clone(), opts).await?;
        Ok(Registry {
            target: Target::Table(table),
        })
    }

    /// A child spec that starts the registry under a supervisor; give it a name with
    /// [`ChildSpec::name`] so that [`Registry::named`] reaches each incarnation. Its id is
    /// `"Registry"`.
    pub fn child_spec(keys: Keys) -> ChildSpec {
        ChildSpec::worker("Registry", move |opts| async move {
            match Self::start_with(keys, opts).await {
                Ok(registry) => registry
                    .pid()
                    .map(Started::Pid)
                    .ok_or(crate::ExitReason::NoProc),
                Err(e) => Err(e.reason()),
            }
        })
    }

    /// A handle that reaches the registry registered under `name`, whichever incarnation runs
    /// now — the restarted one after a supervisor restart. Reading through it costs one
    /// concurrent-map lookup more than through the handle `start` returned.
    pub fn named(name: impl Into<Arc<str>>) -> Self {
        Registry {
            target: Target::Name(name.into()),
        }
    }

    /// The process that owns the registry now.
    pub fn pid(&self) -> Option<Pid> {
        self.table().ok()?.owner.get().copied()
    }

    /// The table this handle reaches now.
    fn table(&self) -> Result<Arc<Table<K, V>>, RegistryError> {
        match &self.target {
            Target::Table(t) => Ok(t.clone()),
            Target::Name(n) => {
                let any = TABLES
                    .get(n)
                    .map(|e| e.value().clone())
                    .ok_or_else(|| RegistryError::NotRunning(n.clone()))?;
                any.downcast::<Table<K, V>>()
                    .map_err(|_| RegistryError::WrongType {
                        name: n.clone(),
                        expected: std::any::type_name::<Self>(),
                    })
            }
        }
    }

    /// Register the calling process under `key` with `value`, and link it to the registry's
    /// process.
    ///
    /// # Errors
    ///
    /// [`RegistryError::AlreadyRegistered`] in a unique registry when a live process holds the
    /// key; [`RegistryError::NotInProcess`] when not called from a process;
    /// [`RegistryError::NotRunning`] when the registry's process is not running.
    pub fn register(&self, key: K, value: V) -> Result<(), RegistryError> {
        let pid = process::current().ok_or(RegistryError::NotInProcess)?;
        self.register_pid(pid, key, value)
    }

    fn register_pid(&self, pid: Pid, key: K, value: V) -> Result<(), RegistryError> {
        let table = self.table()?;
        let not_running = || RegistryError::NotRunning(table.label());
        let mut st = table.state.lock();
        if !st.open {
            return Err(not_running());
        }
        let owner = *table.owner.get().ok_or_else(not_running)?;
        if table.keys == Keys::Unique {
            let first = st
                .by_key
                .get(&key)
                .and_then(|e| e.first_key_value())
                .map(|(&n, &(holder, _))| (n, holder));
            if let Some((n, holder)) = first {
                if process::is_alive(holder) {
                    return Err(RegistryError::AlreadyRegistered(holder));
                }
                // The holder is dead but its cleanup has not run yet: take the key over.
                st.remove_entry(&key, n, holder);
            }
        }
        if let std::collections::hash_map::Entry::Vacant(e) = st.by_pid.entry(pid) {
            let cell = table::get(pid).ok_or(RegistryError::NotInProcess)?;
            // Linked as Elixir's registry links: the registrant goes down with the registry.
            ops::link(&*cell, owner).map_err(|_| not_running())?;
            let weak: Weak<Table<K, V>> = Arc::downgrade(&table);
            // The watch runs in the dying process and takes this registry's lock, which
            // we hold: `watch` hands the callback back instead of running it inline.
            let cleanup = Box::new(move |down: crate::Down| {
                if let Some(table) = weak.upgrade() {
                    table.state.lock().remove_pid(down.pid);
                }
            });
            match ops::watch(pid, cleanup) {
                Ok(reference) => {
                    e.insert((reference, Vec::new()));
                }
                // Only an exiting process (registering from a destructor) gets here.
                Err(_) => {
                    ops::unlink(&*cell, owner);
                    return Err(RegistryError::NotInProcess);
                }
            }
        }
        let n = st.next;
        st.next += 1;
        if let Some((_, entries)) = st.by_pid.get_mut(&pid) {
            entries.push((key.clone(), n));
        }
        st.by_key.entry(key).or_default().insert(n, (pid, value));
        Ok(())
    }

    /// Remove every entry of the calling process under `key`; a process left with no entry
    /// is unlinked from the registry. Does nothing if there is none or when not called from a
    /// process.
    pub fn unregister(&self, key: &K) {
        if let Some(pid) = process::current() {
            self.unregister_pid(pid, key);
        }
    }

    fn unregister_pid(&self, pid: Pid, key: &K) {
        let Ok(table) = self.table() else { return };
        let mut st = table.state.lock();
        let mine: Vec<u64> = match st.by_pid.get_mut(&pid) {
            Some((_, entries)) => {
                let numbers = entries
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|&(_, n)| n)
                    .collect();
                entries.retain(|(k, _)| k != key);
                numbers
            }
            None => return,
        };
        for n in mine {
            st.remove_entry(key, n, pid);
        }
        let emptied = st
            .by_pid
            .get(&pid)
            .is_some_and(|(_, entries)| entries.is_empty());
        if emptied {
            if let Some((reference, _)) = st.by_pid.remove(&pid) {
                ops::unwatch(pid, reference);
                if let (Some(cell), Some(&owner)) = (table::get(pid), table.owner.get()) {
                    ops::unlink(&*cell, owner);
                }
            }
        }
    }

    /// Every `(pid, value)` registered under `key`, in registration order. Entries of a process
    /// that just died may still appear until its cleanup has run. Empty if the registry is not
    /// running.
    pub fn lookup(&self, key: &K) -> Vec<(Pid, V)> {
        let Ok(table) = self.table() else {
            return Vec::new();
        };
        let st = table.state.lock();
        st.by_key
            .get(key)
            .map(|entries| entries.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The keys `pid` is registered under.
    pub fn keys(&self, pid: Pid) -> Vec<K> {
        let Ok(table) = self.table() else {
            return Vec::new();
        };
        let st = table.state.lock();
        st.by_pid
            .get(&pid)
            .map(|(_, entries)| entries.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default()
    }

    /// Call `f` with every live entry under `key` (Elixir's `dispatch/3`), outside the
    /// registry's lock, so `f` may send, register or look up freely.
    pub fn dispatch(&self, key: &K, mut f: impl FnMut(Pid, &V)) {
        for (pid, value) in self.lookup(key) {
            if process::is_alive(pid) {
                f(pid, &value);
            }
        }
    }

    /// How many entries the registry holds.
    pub fn count(&self) -> usize {
        let Ok(table) = self.table() else { return 0 };
        let st = table.state.lock();
        st.by_key.values().map(BTreeMap::len).sum()
    }

    /// A name for the process registered under `key` with `V::default()` as its value:
    /// Elixir's `{:via, Registry, {registry, key}}`. The registry must have unique keys.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use ferrotp::agent::Agent;
    /// use ferrotp::gen_server::StartOptions;
    /// use ferrotp::registry::{Keys, Registry};
    ///
    /// let users = Registry::<String, ()>::start(Keys::Unique).await.unwrap();
    /// let alice = Agent::start_with(|| 0u32, StartOptions::new().name(users.via("alice".into())))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(users.lookup(&"alice".into()), vec![(alice.pid().unwrap(), ())]);
    /// let found: Agent<u32> = Agent::named(users.via("alice".into()));
    /// assert_eq!(found.get(|n| *n).await, Ok(0));
    /// # }
    /// ```
    pub fn via(&self, key: K) -> Via
    where
        K: fmt::Debug,
        V: Default,
    {
        self.via_with(key, V::default())
    }

    /// As [`via`](Self::via), registering `value` with the key (Elixir's
    /// `{:via, Registry, {registry, key, value}}`).
    pub fn via_with(&self, key: K, value: V) -> Via
    where
        K: fmt::Debug,
    {
        Via::new(RegistryName {
            registry: self.clone(),
            key,
            value,
        })
    }
}

impl<K: Eq + Hash, V> State<K, V> {
    /// Remove entry `n` of `key` if `pid` holds it: O(log n).
    fn remove_entry(&mut self, key: &K, n: u64, pid: Pid) {
        if let Some(entries) = self.by_key.get_mut(key) {
            if entries.get(&n).is_some_and(|(p, _)| *p == pid) {
                entries.remove(&n);
            }
            if entries.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    fn remove_pid(&mut self, pid: Pid) {
        if let Some((_, entries)) = self.by_pid.remove(&pid) {
            for (key, n) in entries {
                self.remove_entry(&key, n, pid);
            }
        }
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> Table<K, V> {
    /// The owner started: the table opens, and a named table becomes reachable by name.
    fn open(self: &Arc<Self>, owner: Pid) {
        let _ = self.owner.set(owner);
        self.state.lock().open = true;
        if let Some(name) = &self.name {
            TABLES.insert(name.clone(), self.clone() as Arc<dyn Any + Send + Sync>);
        }
    }

    /// The owner exited: the table empties and closes for good. Its registrants were linked
    /// to the owner and got its exit signal; their cleanup watches are no longer needed.
    fn close(self: &Arc<Self>) {
        if let Some(name) = &self.name {
            TABLES.remove_if(name, |_, t| {
                std::ptr::addr_eq(Arc::as_ptr(t), Arc::as_ptr(self))
            });
        }
        let registrants = {
            let mut st = self.state.lock();
            st.open = false;
            st.by_key.clear();
            std::mem::take(&mut st.by_pid)
        };
        for (pid, (reference, _)) in registrants {
            ops::unwatch(pid, reference);
        }
    }
}

/// The process that owns a registry: it opens the table when it starts and closes it when it
/// exits, however it exits. It traps exits, so registrants that die (each is linked to it) do
/// not take it down.
pub(crate) struct RegistryServer<K, V> {
    table: Arc<Table<K, V>>,
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> GenServer for RegistryServer<K, V> {
    type Args = Arc<Table<K, V>>;
    type Call = ();
    type Cast = ();
    type Info = ();
    type Continue = ();

    async fn init(table: Arc<Table<K, V>>, ctx: &mut ServerContext<Self>) -> Init<Self> {
        ctx.trap_exit(true);
        let me = ctx.pid();
        let closing = table.clone();
        // A watch rather than `terminate`: the table must close even when the owner is killed.
        if ops::watch(me, Box::new(move |_| closing.close())).is_err() {
            return Init::Stop(crate::ExitReason::Killed);
        }
        table.open(me);
        Init::ok(RegistryServer { table })
    }

    async fn handle_info(
        &mut self,
        info: Info<()>,
        _ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        // Exit signals of registrants (linked to us) that died: their entries are cleaned up
        // by their own exit watch, synchronously, before this message arrives.
        let _ = info;
        HandleResult::noreply()
    }
}

impl<K, V> fmt::Debug for RegistryServer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryServer")
            .field("name", &self.table.name)
            .finish_non_exhaustive()
    }
}

/// A key of a unique registry used as a process name.
struct RegistryName<K, V> {
    registry: Registry<K, V>,
    key: K,
    value: V,
}

impl<K, V> ViaRegistry for RegistryName<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + fmt::Debug + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn register_name(&self, pid: Pid) -> Result<(), RegisterError> {
        let name = || -> Arc<str> { format!("{}/{:?}", self.registry.label(), self.key).into() };
        let table = self.registry.table().map_err(|e| RegisterError::Via {
            name: name(),
            problem: e.to_string().into(),
        })?;
        if table.keys != Keys::Unique {
            return Err(RegisterError::Via {
                name: name(),
                problem: "a via name needs a registry with unique keys".into(),
            });
        }
        self.registry
            .register_pid(pid, self.key.clone(), self.value.clone())
            .map_err(|e| match e {
                RegistryError::AlreadyRegistered(holder) => RegisterError::AlreadyRegistered {
                    name: name(),
                    holder,
                },
                other => RegisterError::Via {
                    name: name(),
                    problem: other.to_string().into(),
                },
            })
    }

    fn unregister_name(&self, pid: Pid) {
        self.registry.unregister_pid(pid, &self.key);
    }

    fn whereis_name(&self) -> Option<Pid> {
        self.registry
            .lookup(&self.key)
            .first()
            .map(|&(pid, _)| pid)
            .filter(|&pid| process::is_alive(pid))
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:?}", self.registry.label(), self.key)
    }
}
