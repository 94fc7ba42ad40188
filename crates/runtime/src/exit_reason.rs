//! Why a process ended.

use std::fmt;
use std::sync::Arc;

/// The reason a process exited, carried by exit signals, [`Down`](crate::Down) messages and
/// [`Exit`](crate::Exit) messages.
///
/// Each variant is an Erlang exit reason:
///
/// | `ExitReason`                 | Erlang term                 | meaning |
/// |------------------------------|-----------------------------|---------|
/// | `Normal`                     | `normal`                    | finished its work; links are not affected |
/// | `Shutdown`                   | `shutdown`                  | asked to stop, usually by its supervisor |
/// | `ShutdownWith(detail)`       | `{shutdown, T}`             | asked to stop, with detail; not logged as a crash |
/// | `Kill`                       | `kill`                      | the reason *sent* by `exit(pid, Kill)`; a process that exits with it passes `kill` on through its links |
/// | `Killed`                     | `killed`                    | terminated by an untrappable `exit(pid, Kill)` |
/// | `NoProc`                     | `noproc`                    | the process did not exist (monitor or link to a dead pid) |
/// | `NoConnection`               | `noconnection`              | the node of the process is unreachable |
/// | `Panic { message, location }`| `{panic, Msg, Location}`    | user code panicked; the panic message and where it happened |
/// | `Error(detail)`              | any other term              | an application-defined reason |
///
/// Reasons are cheap to clone: a dying process sends one copy to every link and monitor.
///
/// An `Error` (or `ShutdownWith`) made from a Rust error keeps that error as its
/// [`Detail::source`]: whoever receives the reason — a linked process, a monitor, a caller, a
/// supervisor — can [`downcast_ref`](ExitReason::downcast_ref) it back to its type. Equality
/// and hashing compare the message only, so a reason read back from a log or from another node
/// equals the original.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use ferrotp::ExitReason;
///
/// let r = ExitReason::error("database unreachable");
/// assert!(r.is_abnormal());
/// assert_eq!(r.to_string(), "database unreachable");
/// assert!(ExitReason::shutdown_with("deploy").is_shutdown());
///
/// // A Rust error keeps its type.
/// let parse = "x".parse::<u16>().unwrap_err();
/// let r = ExitReason::from(parse.clone());
/// assert_eq!(r.downcast_ref::<std::num::ParseIntError>(), Some(&parse));
/// assert_eq!(r, ExitReason::error("invalid digit found in string"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitReason {
    /// The process finished normally.
    Normal,
    /// The process was asked to shut down.
    Shutdown,
    /// The process was asked to shut down, with a detail (`{shutdown, Term}`).
    ShutdownWith(Detail),
    /// The untrappable kill reason as sent by [`process::exit`](crate::process::exit). A process
    /// *receiving* it directly terminates with [`Killed`](ExitReason::Killed).
    Kill,
    /// The process was killed by an untrappable `Kill` exit signal.
    Killed,
    /// The process did not exist.
    NoProc,
    /// The node of the process cannot be reached.
    NoConnection,
    /// User code in the process panicked.
    Panic {
        /// The panic payload, if it was a string.
        message: Arc<str>,
        /// `file:line:column` where the panic happened, when known.
        location: Option<Arc<str>>,
    },
    /// An application-defined reason.
    Error(Detail),
}

/// The payload of an application-defined reason: its message, and the Rust error it was made
/// from, if any (kept whole, so it can be downcast back to its type).
///
/// Equal, ordered and hashed by message alone.
#[derive(Clone)]
pub struct Detail {
    message: Arc<str>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Detail {
    /// A detail with only a message.
    pub fn message(message: impl fmt::Display) -> Detail {
        Detail {
            message: message.to_string().into(),
            source: None,
        }
    }

    /// A detail that keeps `error`: its message is the error's `Display`.
    pub fn from_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> Detail {
        Detail {
            message: error.to_string().into(),
            source: Some(Arc::new(error)),
        }
    }

    /// The message.
    pub fn as_str(&self) -> &str {
        &self.message
    }

    /// The error this detail was made from.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// The error this detail was made from, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.as_deref()?.downcast_ref()
    }
}

impl PartialEq for Detail {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for Detail {}

impl std::hash::Hash for Detail {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.message.hash(state);
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            None => fmt::Debug::fmt(&*self.message, f),
            Some(source) => write!(f, "{:?} (from {source:?})", &*self.message),
        }
    }
}

impl ExitReason {
    /// An application-defined reason (`Error`) from anything printable.
    ///
    /// To keep a Rust error's type for receivers to downcast, convert it instead:
    /// `ExitReason::from(err)` (what `?` does in a process body).
    pub fn error(reason: impl fmt::Display) -> ExitReason {
        ExitReason::Error(Detail::message(reason))
    }

    /// `{shutdown, Detail}`: a requested stop with a detail, treated like `Shutdown` by
    /// supervisors and loggers.
    pub fn shutdown_with(detail: impl fmt::Display) -> ExitReason {
        ExitReason::ShutdownWith(Detail::message(detail))
    }

    /// `{shutdown, Detail}` that keeps `error` for receivers to downcast.
    pub fn shutdown_with_error<E: std::error::Error + Send + Sync + 'static>(
        error: E,
    ) -> ExitReason {
        ExitReason::ShutdownWith(Detail::from_error(error))
    }

    /// The Rust error an `Error` or `ShutdownWith` reason was made from, if it is an `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// use ferrotp::ExitReason;
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("account {0} is frozen")]
    /// struct Frozen(u32);
    ///
    /// let reason = ExitReason::from(Frozen(7));
    /// assert_eq!(reason.downcast_ref::<Frozen>().map(|f| f.0), Some(7));
    /// assert!(ExitReason::error("account 7 is frozen").downcast_ref::<Frozen>().is_none());
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.detail()?.downcast_ref()
    }

    /// The detail of an `Error` or `ShutdownWith` reason.
    pub fn detail(&self) -> Option<&Detail> {
        match self {
            ExitReason::Error(d) | ExitReason::ShutdownWith(d) => Some(d),
            _ => None,
        }
    }

    /// Whether this is `Normal`, the only reason a link partner ignores.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// Whether this is any reason but `Normal`: one that kills a non-trapping link partner.
    pub fn is_abnormal(&self) -> bool {
        !self.is_normal()
    }

    /// Whether this is `Normal`, `Shutdown` or `ShutdownWith(_)`: the reasons after which a
    /// transient child is not restarted and that are not reported as crashes.
    pub fn is_shutdown(&self) -> bool {
        matches!(
            self,
            ExitReason::Normal | ExitReason::Shutdown | ExitReason::ShutdownWith(_)
        )
    }

    /// Where the panic happened, for a `Panic` reason that knows it: the `location` field of
    /// crash reports.
    pub fn panic_location(&self) -> Option<&str> {
        match self {
            ExitReason::Panic { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// Whether this reason came from a panic.
    pub fn is_panic(&self) -> bool {
        matches!(self, ExitReason::Panic { .. })
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::ShutdownWith(d) => write!(f, "{{shutdown, {d}}}"),
            ExitReason::Kill => f.write_str("kill"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::NoConnection => f.write_str("noconnection"),
            ExitReason::Panic {
                message,
                location: Some(loc),
            } => write!(f, "panicked at {loc}: {message}"),
            ExitReason::Panic {
                message,
                location: None,
            } => write!(f, "panicked: {message}"),
            ExitReason::Error(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl fmt::Debug for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("Normal"),
            ExitReason::Shutdown => f.write_str("Shutdown"),
            ExitReason::ShutdownWith(d) => f.debug_tuple("ShutdownWith").field(d).finish(),
            ExitReason::Kill => f.write_str("Kill"),
            ExitReason::Killed => f.write_str("Killed"),
            ExitReason::NoProc => f.write_str("NoProc"),
            ExitReason::NoConnection => f.write_str("NoConnection"),
            ExitReason::Panic { message, location } => f
                .debug_struct("Panic")
                .field("message", message)
                .field("location", location)
                .finish(),
            ExitReason::Error(e) => f.debug_tuple("Error").field(e).finish(),
        }
    }
}

/// What a process body returns: `Ok(())` is a [`Normal`](ExitReason::Normal) exit, `Err(r)`
/// an exit with reason `r`.
///
/// A fixed type (rather than "anything convertible") lets a body that never returns — a
/// `loop` — type-check without annotations, and lets `?` end a process on any error.
pub type ProcessResult = Result<(), ExitReason>;

/// Any error ends a process with [`ExitReason::Error`] carrying it (its message, and the error
/// itself for [`ExitReason::downcast_ref`]), so `?` works in process bodies.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// use ferrotp::{ExitReason, ProcessResult};
///
/// fn parse(port: &str) -> ProcessResult {
///     let _port: u16 = port.parse()?;
///     Ok(())
/// }
/// assert_eq!(parse("80"), Ok(()));
/// assert_eq!(parse("http"), Err(ExitReason::error("invalid digit found in string")));
/// ```
impl<E: std::error::Error + Send + Sync + 'static> From<E> for ExitReason {
    fn from(e: E) -> Self {
        ExitReason::Error(Detail::from_error(e))
    }
}
