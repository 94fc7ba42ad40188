//! Elixir's `Registry`: a local, keyed directory of processes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::process;
use crate::signal::ops;
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
}

/// A keyed directory of processes, as Elixir's `Registry`.
///
/// [`register`](Registry::register) adds the **calling process** under a key with a value;
/// its entries are removed automatically when it exits. With [`Keys::Unique`] a key names at
/// most one process; with [`Keys::Duplicate`] a key gathers any number of entries (a topic with
/// its subscribers), and [`dispatch`](Registry::dispatch) reaches them all.
///
/// A unique key whose holder has died is free at once, even if cleanup has not run yet
/// (Elixir's rule).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp_runtime::registry::{Keys, Registry};
/// use ferrotp_runtime::process;
///
/// let topics: Registry<&'static str, u32> = Registry::new(Keys::Duplicate);
/// let reg = topics.clone();
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let sub = process::spawn::<(), _, _>(move |_ctx| async move {
///     reg.register("news", 1).unwrap();
///     tx.send(()).unwrap();
///     std::future::pending().await
/// });
/// rx.await.unwrap();
/// assert_eq!(topics.lookup(&"news"), vec![(sub.pid(), 1)]);
/// # }
/// ```
pub struct Registry<K, V> {
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V> {
    keys: Keys,
    state: Mutex<State<K, V>>,
}

/// Entries are numbered in registration order. Each key keeps its entries in a `BTreeMap` by
/// number — lookups in registration order, removal of one entry in O(log n) — and each process
/// keeps the numbers of its entries, so a dying process's cleanup touches only its own
/// entries, however many others share its keys (100,000 subscribers of one topic leave in
/// O(n log n), not O(n²)).
struct State<K, V> {
    by_key: HashMap<K, BTreeMap<u64, (Pid, V)>>,
    /// Per process: the exit watch that cleans up, and its entries (key and number).
    by_pid: HashMap<Pid, (Reference, Vec<(K, u64)>)>,
    next: u64,
}

impl<K, V> Clone for Registry<K, V> {
    fn clone(&self) -> Self {
        Registry {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> fmt::Debug for Registry<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("keys", &self.inner.keys)
            .field("entries", &self.inner.state.lock().by_key.len())
            .finish()
    }
}

impl<K, V> Registry<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// An empty registry.
    pub fn new(keys: Keys) -> Self {
        Registry {
            inner: Arc::new(Inner {
                keys,
                state: Mutex::new(State {
                    by_key: HashMap::new(),
                    by_pid: HashMap::new(),
                    next: 0,
                }),
            }),
        }
    }

    /// Register the calling process under `key` with `value`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::AlreadyRegistered`] in a unique registry when a live process holds the
    /// key; [`RegistryError::NotInProcess`] when not called from a process.
    pub fn register(&self, key: K, value: V) -> Result<(), RegistryError> {
        let pid = process::current().ok_or(RegistryError::NotInProcess)?;
        let mut st = self.inner.state.lock();
        if self.inner.keys == Keys::Unique {
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
        match st.by_pid.entry(pid) {
            std::collections::hash_map::Entry::Occupied(_) => {}
            std::collections::hash_map::Entry::Vacant(e) => {
                let weak: Weak<Inner<K, V>> = Arc::downgrade(&self.inner);
                // The watch runs in the dying process and takes this registry's lock, which
                // we hold: `watch` hands the callback back instead of running it inline.
                let cleanup = Box::new(move |down: crate::Down| {
                    if let Some(inner) = weak.upgrade() {
                        inner.state.lock().remove_pid(down.pid);
                    }
                });
                match ops::watch(pid, cleanup) {
                    Ok(reference) => {
                        e.insert((reference, Vec::new()));
                    }
                    // Only an exiting process (registering from a destructor) gets here.
                    Err(_) => return Err(RegistryError::NotInProcess),
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

    /// Remove every entry of the calling process under `key`. Does nothing if there is none
    /// or when not called from a process.
    pub fn unregister(&self, key: &K) {
        let Some(pid) = process::current() else {
            return;
        };
        let mut st = self.inner.state.lock();
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
            }
        }
    }

    /// Every `(pid, value)` registered under `key`, in registration order. Entries of a process
    /// that just died may still appear until its cleanup has run.
    pub fn lookup(&self, key: &K) -> Vec<(Pid, V)> {
        self.inner
            .state
            .lock()
            .by_key
            .get(key)
            .map(|entries| entries.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The keys `pid` is registered under.
    pub fn keys(&self, pid: Pid) -> Vec<K> {
        self.inner
            .state
            .lock()
            .by_pid
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
        self.inner
            .state
            .lock()
            .by_key
            .values()
            .map(BTreeMap::len)
            .sum()
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
