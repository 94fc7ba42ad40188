//! What the observer remembers between two snapshots: each process's message count (for the
//! rate), the callback it was in and since when, and the processes that died, shown greyed
//! for [`DEAD_FOR`].
//!
//! Updated only when a snapshot is built, that is only while someone looks.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ferrotp_runtime::observe::{Callback, ProcessRow};
use ferrotp_runtime::Pid;
use rustc_hash::FxHashMap;

/// How long a dead process stays on the page.
pub(crate) const DEAD_FOR: Duration = Duration::from_secs(10);

/// Rates are measured over at least this long; faster snapshots reuse the last rate.
const MIN_RATE_WINDOW: Duration = Duration::from_millis(200);

struct Seen {
    row: ProcessRow,
    /// Messages handled at the start of the rate window.
    handled_at_window: u64,
    rate: f64,
    /// The callback it was in, the message count then, and when it was first seen there.
    callback: Option<(Callback, u64, Instant)>,
}

/// A process that is gone, kept for [`DEAD_FOR`].
#[derive(Clone)]
pub(crate) struct Dead {
    pub(crate) row: ProcessRow,
    pub(crate) died: Instant,
    pub(crate) reason: Option<String>,
}

/// What a snapshot adds to the runtime's rows.
#[derive(Clone, Copy, Default)]
pub(crate) struct Extra {
    /// Messages handled per second.
    pub(crate) rate: f64,
    /// How long it has been in its current callback, as far as the observer saw.
    pub(crate) in_callback: Option<Duration>,
}

#[derive(Default)]
pub(crate) struct Tracker {
    seen: FxHashMap<Pid, Seen>,
    window_start: Option<Instant>,
    dead: VecDeque<Dead>,
}

impl Tracker {
    /// Take in a fresh list of processes: rates, callback durations, and the newly dead.
    pub(crate) fn update(&mut self, rows: &[ProcessRow], now: Instant) -> FxHashMap<Pid, Extra> {
        let window = self.window_start.map(|s| now.saturating_duration_since(s));
        let new_window = window.map_or(true, |w| w >= MIN_RATE_WINDOW);
        let mut seen = FxHashMap::with_capacity_and_hasher(rows.len(), Default::default());
        let mut extra = FxHashMap::with_capacity_and_hasher(rows.len(), Default::default());
        for row in rows {
            let before = self.seen.remove(&row.pid);
            let (handled_at_window, rate) = match (&before, window) {
                (Some(b), Some(w)) if new_window => (
                    row.messages_handled,
                    row.messages_handled.saturating_sub(b.handled_at_window) as f64
                        / w.as_secs_f64(),
                ),
                (Some(b), _) => (b.handled_at_window, b.rate),
                (None, _) => (row.messages_handled, 0.0),
            };
            let callback = row
                .callback
                .map(|cb| match before.as_ref().and_then(|b| b.callback) {
                    // Same callback, no message taken since: the same invocation.
                    Some((was, count, since)) if was == cb && count == row.messages_handled => {
                        (cb, count, since)
                    }
                    _ => (cb, row.messages_handled, now),
                });
            extra.insert(
                row.pid,
                Extra {
                    rate,
                    in_callback: callback.map(|(_, _, since)| now.saturating_duration_since(since)),
                },
            );
            seen.insert(
                row.pid,
                Seen {
                    row: row.clone(),
                    handled_at_window,
                    rate,
                    callback,
                },
            );
        }
        // Whatever was seen before and is not now has died.
        for (pid, gone) in self.seen.drain() {
            let reason = ferrotp_runtime::observe::exit_reason(pid).map(|r| r.to_string());
            self.dead.push_back(Dead {
                row: gone.row,
                died: now,
                reason,
            });
        }
        while self
            .dead
            .front()
            .is_some_and(|d| now.saturating_duration_since(d.died) > DEAD_FOR)
        {
            self.dead.pop_front();
        }
        self.seen = seen;
        if new_window {
            self.window_start = Some(now);
        }
        extra
    }

    /// The processes that died in the last [`DEAD_FOR`].
    pub(crate) fn dead(&self) -> impl Iterator<Item = &Dead> {
        self.dead.iter()
    }

    /// How long `pid` has been in its current callback, as last seen.
    pub(crate) fn in_callback(&self, pid: Pid, now: Instant) -> Option<Duration> {
        let (_, _, since) = self.seen.get(&pid)?.callback?;
        Some(now.saturating_duration_since(since))
    }
}
