//! Names a process is started under: a local name, or a name another registry resolves (OTP's
//! `{via, Module, Name}`).

use std::fmt;
use std::sync::Arc;

use crate::error::{LookupError, RegisterError};
use crate::{Addr, Pid};

/// A registry that resolves names for processes (the module in OTP's `{via, Module, Name}`):
/// one value of an implementing type is one name in that registry.
///
/// ferrotp's [`Registry`](super::Registry) implements it through
/// [`Registry::via`](super::Registry::via); implement it to plug another directory in.
pub trait ViaRegistry: Send + Sync + 'static {
    /// Register `pid` under this name (OTP's `register_name/2`). Called when the process is
    /// spawned, before its body — a GenServer's `init` — runs.
    ///
    /// # Errors
    ///
    /// [`RegisterError::AlreadyRegistered`] when a live process holds the name, or another
    /// [`RegisterError`] saying why the name cannot be taken.
    fn register_name(&self, pid: Pid) -> Result<(), RegisterError>;

    /// Remove `pid`'s registration under this name, if it holds it (OTP's
    /// `unregister_name/1`). Called when a spawn fails after the name was registered. A
    /// registry releases the names of processes that exit on its own.
    fn unregister_name(&self, pid: Pid);

    /// The process registered under this name now (OTP's `whereis_name/1`).
    fn whereis_name(&self) -> Option<Pid>;

    /// How the name reads in logs and errors.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// A name resolved by a [`ViaRegistry`] (OTP's `{via, Module, Name}`), made by
/// [`Registry::via`](super::Registry::via).
#[derive(Clone)]
pub struct Via(Arc<dyn ViaRegistry>);

impl Via {
    /// A via name from any [`ViaRegistry`].
    pub fn new(name: impl ViaRegistry) -> Via {
        Via(Arc::new(name))
    }

    pub(crate) fn register(&self, pid: Pid) -> Result<(), RegisterError> {
        self.0.register_name(pid)
    }

    pub(crate) fn unregister(&self, pid: Pid) {
        self.0.unregister_name(pid)
    }

    /// The process registered under this name now.
    pub fn whereis(&self) -> Option<Pid> {
        self.0.whereis_name()
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f)
    }
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Via({self})")
    }
}

/// What a process can be started under and found by: a local registered name (Erlang's
/// `register/2`) or a [`Via`] name.
///
/// Everything that takes a name — [`StartOptions::name`](crate::gen_server::StartOptions::name),
/// [`Server::named`](crate::gen_server::Server::named), a child spec's
/// [`name`](crate::supervisor::ChildSpec::name), [`Builder::name`](crate::process::Builder::name)
/// — takes either: a string is a local name.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use ferrotp::registry::{Keys, Name, Registry};
///
/// let local: Name = "cache".into();
/// assert_eq!(local.to_string(), "cache");
/// let via: Name = Registry::<String, ()>::named("sessions").via("alice".to_string()).into();
/// assert_eq!(via.to_string(), "sessions/\"alice\"");
/// ```
#[derive(Clone, Debug)]
pub enum Name {
    /// A local registered name.
    Local(Arc<str>),
    /// A name another registry resolves.
    Via(Via),
}

impl Name {
    /// The process registered under this name now.
    pub fn whereis(&self) -> Option<Pid> {
        match self {
            Name::Local(n) => super::whereis(n),
            Name::Via(v) => v.whereis(),
        }
    }

    /// Resolve to a typed address, checking that the process takes messages of type `M`.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotRegistered`] if no live process holds the name;
    /// [`LookupError::WrongMessageType`] if it takes another message type.
    pub fn lookup<M: Send + 'static>(&self) -> Result<Addr<M>, LookupError> {
        match self {
            Name::Local(n) => super::lookup(n),
            Name::Via(v) => {
                let not_registered = || LookupError::NotRegistered(v.to_string().into());
                let pid = v.whereis().ok_or_else(not_registered)?;
                crate::process::addr_of::<M>(pid).map_err(|e| match e {
                    LookupError::WrongMessageType {
                        pid,
                        expected,
                        actual,
                        ..
                    } => LookupError::WrongMessageType {
                        name: v.to_string().into(),
                        pid,
                        expected,
                        actual,
                    },
                    LookupError::NotRegistered(_) => not_registered(),
                })
            }
        }
    }

    /// Register `pid` under this name.
    pub(crate) fn register(&self, pid: Pid) -> Result<(), RegisterError> {
        match self {
            Name::Local(n) => super::register(n.clone(), pid),
            Name::Via(v) => v.register(pid),
        }
    }

    /// Undo [`register`](Self::register) for a process that never ran.
    pub(crate) fn release(&self, pid: Pid) {
        match self {
            Name::Local(n) => super::name::release(n, pid),
            Name::Via(v) => v.unregister(pid),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Local(n) => f.write_str(n),
            Name::Via(v) => fmt::Display::fmt(v, f),
        }
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name::Local(name.into())
    }
}

impl From<String> for Name {
    fn from(name: String) -> Name {
        Name::Local(name.into())
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Name {
        Name::Local(name)
    }
}

impl From<&Arc<str>> for Name {
    fn from(name: &Arc<str>) -> Name {
        Name::Local(name.clone())
    }
}

impl From<Via> for Name {
    fn from(via: Via) -> Name {
        Name::Via(via)
    }
}
