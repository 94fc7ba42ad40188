//! What the runtime keeps in every process for the observer: when it was born, whether it is
//! suspended or being upgraded, and which callback it is running. A few bytes, written with
//! relaxed stores by the process itself (or by `sys` and the loader), read by anyone.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

const SUSPENDED: u8 = 1;
const UPGRADING: u8 = 2;

/// A GenServer callback, as the observer names the one a server is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Callback {
    /// `init`.
    Init = 1,
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

    fn from_code(code: u8) -> Option<Callback> {
        Some(match code {
            1 => Callback::Init,
            2 => Callback::HandleCall,
            3 => Callback::HandleCast,
            4 => Callback::HandleInfo,
            5 => Callback::HandleContinue,
            6 => Callback::Terminate,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) struct Probe {
    /// The spawn's clock reading, kept as read: turning it into a number (a subtraction from
    /// an epoch and a conversion) cost every spawn twice what reading the clock does, and
    /// only the observer ever looks at it.
    born: Instant,
    flags: AtomicU8,
    callback: AtomicU8,
}

impl Probe {
    pub(crate) fn new() -> Probe {
        Probe {
            born: Instant::now(),
            flags: AtomicU8::new(0),
            callback: AtomicU8::new(0),
        }
    }

    /// How long ago it was born, at `now` (read once for many probes).
    pub(crate) fn age_at(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.born)
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
            .store(callback.map_or(0, |c| c as u8), Ordering::Relaxed);
    }

    pub(crate) fn callback(&self) -> Option<Callback> {
        Callback::from_code(self.callback.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_callback_reads_back_as_itself() {
        let probe = Probe::new();
        for c in [
            Callback::Init,
            Callback::HandleCall,
            Callback::HandleCast,
            Callback::HandleInfo,
            Callback::HandleContinue,
            Callback::Terminate,
        ] {
            probe.enter(Some(c));
            assert_eq!(probe.callback(), Some(c));
        }
        probe.enter(None);
        assert_eq!(probe.callback(), None);
    }
}
