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
/// | `ShutdownWith(t)`            | `{shutdown, T}`             | asked to stop, with detail; not logged as a crash |
/// | `Kill`                       | `kill`                      | the reason *sent* by `exit(pid, Kill)`; a process that exits with it passes `kill` on through its links |
/// | `Killed`                     | `killed`                    | terminated by an untrappable `exit(pid, Kill)` |
/// | `NoProc`                     | `noproc`                    | the process did not exist (monitor or link to a dead pid) |
/// | `NoConnection`               | `noconnection`              | the node of the process is unreachable |
/// | `Panic { message, location }`| `{panic, Msg, Location}`    | user code panicked; the panic message and where it happened |
/// | `Error(t)`                   | any other term              | an application-defined reason |
///
/// Reasons are cheap to clone: a dying process sends one copy to every link and monitor.
///
/// # Examples
///
/// ```
/// use ferrotp_runtime::ExitReason;
///
/// let r = ExitReason::error("database unreachable");
/// assert!(r.is_abnormal());
/// assert_eq!(r.to_string(), "database unreachable");
/// assert!(ExitReason::shutdown_with("deploy").is_shutdown());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitReason {
    /// The process finished normally.
    Normal,
    /// The process was asked to shut down.
    Shutdown,
    /// The process was asked to shut down, with a detail (`{shutdown, Term}`).
    ShutdownWith(Arc<str>),
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
    Error(Arc<str>),
}

impl ExitReason {
    /// An application-defined reason (`Error`) from anything printable.
    pub fn error(reason: impl fmt::Display) -> ExitReason {
        ExitReason::Error(reason.to_string().into())
    }

    /// `{shutdown, Detail}`: a requested stop with a detail, treated like `Shutdown` by
    /// supervisors and loggers.
    pub fn shutdown_with(detail: impl fmt::Display) -> ExitReason {
        ExitReason::ShutdownWith(detail.to_string().into())
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
            ExitReason::Error(e) => f.write_str(e),
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

/// Any error ends a process with [`ExitReason::Error`] carrying its message, so `?` works in
/// process bodies.
///
/// # Examples
///
/// ```
/// use ferrotp_runtime::{ExitReason, ProcessResult};
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
        ExitReason::error(e)
    }
}
