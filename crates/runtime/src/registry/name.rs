//! Registered names (Erlang's `register/2`, `whereis/1`, `unregister/1`).

use std::hash::BuildHasherDefault;
use std::sync::{Arc, LazyLock};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use rustc_hash::FxHasher;

use crate::error::{LookupError, NoProcError, RegisterError};
use crate::process::cell::ProcessCell;
use crate::process::core::Status;
use crate::process::table;
use crate::{Addr, Pid};

static NAMES: LazyLock<DashMap<Arc<str>, Pid, BuildHasherDefault<FxHasher>>> =
    LazyLock::new(Default::default);

/// Register `pid` under `name`.
///
/// # Errors
///
/// [`RegisterError::AlreadyRegistered`] if a live process holds the name,
/// [`RegisterError::AlreadyNamed`] if `pid` already has a name, [`RegisterError::NoProc`] if
/// `pid` is not alive.
pub fn register(name: impl Into<Arc<str>>, pid: Pid) -> Result<(), RegisterError> {
    let name = name.into();
    let p = table::get(pid).ok_or(NoProcError::new(pid))?;
    let mut st = p.core().lock();
    if st.status != Status::Running {
        return Err(NoProcError::new(pid).into());
    }
    if let Some(current) = st.name() {
        return Err(RegisterError::AlreadyNamed {
            pid,
            current: current.clone(),
        });
    }
    match NAMES.entry(name.clone()) {
        Entry::Occupied(e) => Err(RegisterError::AlreadyRegistered {
            name,
            holder: *e.get(),
        }),
        Entry::Vacant(e) => {
            e.insert(pid);
            st.relations().name = Some(name.clone());
            drop(st);
            // Outside the lock: recording calls into the subscriber.
            if let Some(span) = &p.core().span {
                span.record("name", &*name);
            }
            Ok(())
        }
    }
}

/// Remove a registered name. Returns the pid it named, or `None` if it was not registered.
pub fn unregister(name: &str) -> Option<Pid> {
    let (_, pid) = NAMES.remove(name)?;
    if let Some(p) = table::get(pid) {
        let mut st = p.core().lock();
        if st.name().map(|n| &**n) == Some(name) {
            if let Some(rel) = st.relations.as_mut() {
                rel.name = None;
            }
        }
    }
    Some(pid)
}

/// The process registered under `name`, if any.
pub fn whereis(name: &str) -> Option<Pid> {
    NAMES.get(name).map(|e| *e.value())
}

/// All registered names.
pub fn registered() -> Vec<Arc<str>> {
    NAMES.iter().map(|e| e.key().clone()).collect()
}

/// Resolve `name` to a typed address, checking that the process takes messages of type `M`.
///
/// # Errors
///
/// [`LookupError::NotRegistered`] if no live process holds the name;
/// [`LookupError::WrongMessageType`] if it takes another message type.
pub fn lookup<M: Send + 'static>(name: &str) -> Result<Addr<M>, LookupError> {
    let not_registered = || LookupError::NotRegistered(Arc::from(name));
    let pid = whereis(name).ok_or_else(not_registered)?;
    let p = table::get(pid).ok_or_else(not_registered)?;
    let actual = p.message_type();
    match p.into_any().downcast::<ProcessCell<M>>() {
        Ok(cell) => Ok(Addr::from_cell(cell)),
        Err(_) => Err(LookupError::WrongMessageType {
            name: Arc::from(name),
            pid,
            expected: std::any::type_name::<M>(),
            actual,
        }),
    }
}

/// Called by an exiting process after its status changed, before its signals go out.
pub(crate) fn release(name: &Arc<str>, pid: Pid) {
    NAMES.remove_if(name, |_, holder| *holder == pid);
}
