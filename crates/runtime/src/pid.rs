//! Process identifiers and unique references.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The identity of a process: which node it lives on, which incarnation of that node created
/// it, and its serial number there.
///
/// A `Pid` is a small `Copy` value, like an Erlang pid term. It says *who* a process is; it does
/// not keep the process alive and it does not carry a message type. Links, monitors, exit signals
/// and liveness checks all take a `Pid`; typed sending goes through an [`Addr`](crate::Addr).
///
/// The node and creation fields exist from day one so that a future distribution layer can map a
/// `Pid` onto Erlang's `NEW_PID_EXT` (node, id, serial, creation) without changing this type.
/// Local pids have node `0`.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::{process, Message};
///
/// let addr = process::spawn(|mut ctx| async move {
///     while let Message::User(()) = ctx.recv().await {}
///     Ok(())
/// });
/// let pid = addr.pid();
/// assert!(pid.is_local());
/// assert!(process::is_alive(pid));
/// println!("spawned {pid}"); // e.g. <0.42.1>
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    node: u32,
    creation: u32,
    serial: u64,
}

impl Pid {
    /// The pid used as the sender of exit signals that do not come from a process (for example
    /// [`process::exit`](crate::process::exit) called from `main`). It is never alive.
    pub const RUNTIME: Pid = Pid {
        node: 0,
        creation: 0,
        serial: 0,
    };

    pub(crate) fn new_local() -> Pid {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Pid {
            node: 0,
            creation: local_creation(),
            serial: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// A pid from its parts, for a distribution layer naming processes on other nodes
    /// (`node` is its own index for the node, never `0`), or turning a pid of this node back
    /// from the wire (`node` `0`, with [`Pid::local_creation`] if it names a process of this
    /// run). A made-up pid names no process: it is not alive, and signals to it get `noproc`.
    pub fn from_parts(node: u32, creation: u32, serial: u64) -> Pid {
        Pid {
            node,
            creation,
            serial,
        }
    }

    /// The creation of pids made by this run of the program.
    pub fn local_creation() -> u32 {
        local_creation()
    }

    /// The node this process lives on; `0` is the local node.
    pub fn node(&self) -> u32 {
        self.node
    }

    /// The incarnation of the node that created this pid. Pids from an earlier run of a node
    /// never match pids of the current one.
    pub fn creation(&self) -> u32 {
        self.creation
    }

    /// The serial number of the process on its node, unique for the node's incarnation.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Whether the process lives on this node.
    pub fn is_local(&self) -> bool {
        self.node == 0
    }
}

/// Every run of a program is a new incarnation of the local node; pids from an earlier run
/// (printed, persisted, received over a wire later) must not alias live processes.
pub(crate) fn local_creation() -> u32 {
    static CREATION: OnceLock<u32> = OnceLock::new();
    *CREATION.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        // Never 0: creation 0 is reserved for `Pid::RUNTIME`.
        ((nanos ^ (u64::from(std::process::id()) << 20)) as u32) | 1
    })
}

impl fmt::Display for Pid {
    /// Erlang's notation: `<node.serial.creation>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<{}.{}.{}>",
            self.node,
            self.serial,
            self.creation % 1000
        )
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A unique reference, as made by Erlang's `make_ref/0`: identifies a monitor, a timer or a
/// pending call.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference(u64);

impl Reference {
    /// A reference that no other call to `new` in this program returns.
    pub fn new() -> Reference {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Reference(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Its number, unique within this run: for a distribution layer that puts it on the wire.
    pub fn id(&self) -> u64 {
        self.0
    }

    /// The reference numbered `id`: for a distribution layer reading back one of this node's
    /// references. A number `new` never returned makes a reference that matches nothing.
    pub fn from_id(id: u64) -> Reference {
        Reference(id)
    }
}

impl Default for Reference {
    fn default() -> Self {
        Reference::new()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<0.{}>", self.0)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
