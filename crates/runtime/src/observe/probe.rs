//! What the runtime keeps in every process for the observer: when it was born, whether it is
//! suspended or being upgraded, and which callback it is running. A few bytes, written with
//! relaxed stores by the process itself (or by `sys` and the loader), read by anyone.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The process-wide origin of [`Probe`] birth times.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

const SUSPENDED: u8 = 1;
const UPGRADING: u8 = 2;

/// A GenServer callback, as the observer names the one a server is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Callback {
    /// `init`.
    Init,
    /// `handle_call`.
    HandleCall,
    /// `handle_cast`.
    HandleCast,
    /// `handle_info` (messages, exits, downs, the idle timeout).
    HandleInfo,
    /// `handle_continue`.
    HandleContinue,
    /// `terminate`.
    Terminate,
}

impl Callback {
    const ALL: [Callback; 6] = [
        Callback::Init,
        Callback::HandleCall,
        Callback::HandleCast,
        Callback::HandleInfo,
        Callback::HandleContinue,
        Callback::Terminate,
    ];

    /// The callback's name, as in the [`GenServer`](crate::gen_server::GenServer) trait.
    pub fn name(self) -> &'static str {
        match self {
            Callback::Init => "init",
            Callback::HandleCall => "handle_call",
            Callback::HandleCast => "handle_cast",
            Callback::HandleInfo => "handle_info",
            Callback::HandleContinue => "handle_continue",
            Callback::Terminate => "terminate",
        }
    }

    fn code(self) -> u8 {
        Callback::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8 + 1
    }

    fn from_code(code: u8) -> Option<Callback> {
        Callback::ALL
            .get(usize::from(code).checked_sub(1)?)
            .copied()
    }
}

impl std::fmt::Display for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) struct Probe {
    /// Nanoseconds from [`EPOCH`] to the spawn.
    born: u64,
    flags: AtomicU8,
    callback: AtomicU8,
}

impl Probe {
    pub(crate) fn new() -> Probe {
        let born = EPOCH.elapsed().as_nanos() as u64;
        Probe {
            born,
            flags: AtomicU8::new(0),
            callback: AtomicU8::new(0),
        }
    }

    pub(crate) fn age(&self) -> Duration {
        let born = Duration::from_nanos(self.born);
        EPOCH.elapsed().saturating_sub(born)
    }

    pub(crate) fn set_suspended(&self, on: bool) {
        self.set_flag(SUSPENDED, on);
    }

    pub(crate) fn set_upgrading(&self, on: bool) {
        self.set_flag(UPGRADING, on);
    }

    fn set_flag(&self, flag: u8, on: bool) {
        if on {
            self.flags.fetch_or(flag, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!flag, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_suspended(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & SUSPENDED != 0
    }

    pub(crate) fn is_upgrading(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & UPGRADING != 0
    }

    /// Entering `callback` (`None`: back in the receive loop).
    #[inline]
    pub(crate) fn enter(&self, callback: Option<Callback>) {
        self.callback
            .store(callback.map_or(0, Callback::code), Ordering::Relaxed);
    }

    pub(crate) fn callback(&self) -> Option<Callback> {
        Callback::from_code(self.callback.load(Ordering::Relaxed))
    }
}
