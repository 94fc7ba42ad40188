//! Restart intensity: OTP's `add_restart/3` as a pure function.

use std::collections::VecDeque;

use tokio::time::Instant;

/// How many restarts a supervisor tolerates in a window before it gives up.
///
/// Elixir's defaults: 3 restarts in 5 seconds. With `max_restarts = I`, the `(I+1)`-th restart
/// inside the window makes the supervisor shut down; `0` means the first crash of a permanent
/// or transient child does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts tolerated within the window.
    pub max_restarts: u32,
    /// The window, in whole seconds (OTP's `period`); at least 1.
    pub max_seconds: u64,
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity {
            max_restarts: 3,
            max_seconds: 5,
        }
    }
}

/// Record a restart at `now` (whole seconds on a monotonic clock) and say whether it is
/// allowed.
///
/// OTP's rule, exactly: keep the restarts `r` with `r >= now - period`, add `now`, and allow
/// the restart if there are at most `max_restarts` of them. Timestamps are whole seconds, so a
/// gap shorter than the period is always counted and a gap of `period + 1` seconds or more is
/// always forgotten.
pub(crate) fn add_restart(restarts: &mut VecDeque<u64>, now: u64, limit: Intensity) -> bool {
    let oldest_kept = now.saturating_sub(limit.max_seconds);
    while restarts.front().is_some_and(|&r| r < oldest_kept) {
        restarts.pop_front();
    }
    restarts.push_back(now);
    restarts.len() <= limit.max_restarts as usize
}

/// The restarts a supervisor made recently, counted against its [`Intensity`].
#[derive(Debug, Clone)]
pub(crate) struct RestartLog {
    restarts: VecDeque<u64>,
    epoch: Instant,
}

impl RestartLog {
    pub(crate) fn new() -> RestartLog {
        RestartLog {
            restarts: VecDeque::new(),
            epoch: Instant::now(),
        }
    }

    /// Count a restart now; whether `intensity` allows it.
    pub(crate) fn allow(&mut self, intensity: Intensity) -> bool {
        let now = self.epoch.elapsed().as_secs();
        add_restart(&mut self.restarts, now, intensity)
    }

    /// Restarts that still count against `intensity` now.
    pub(crate) fn used(&self, intensity: Intensity) -> u32 {
        let oldest_kept = self
            .epoch
            .elapsed()
            .as_secs()
            .saturating_sub(intensity.max_seconds);
        self.restarts.iter().filter(|&&r| r >= oldest_kept).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max_restarts: u32, max_seconds: u64) -> Intensity {
        Intensity {
            max_restarts,
            max_seconds,
        }
    }

    #[test]
    fn the_restart_after_max_restarts_within_the_window_is_refused() {
        let mut log = VecDeque::new();
        for t in [0, 1, 2] {
            assert!(add_restart(&mut log, t, limit(3, 5)));
        }
        assert!(!add_restart(&mut log, 4, limit(3, 5)));
    }

    #[test]
    fn zero_intensity_refuses_the_first_restart() {
        assert!(!add_restart(&mut VecDeque::new(), 0, limit(0, 5)));
    }

    #[test]
    fn restarts_in_the_same_second_all_count() {
        let mut log = VecDeque::new();
        assert!(add_restart(&mut log, 7, limit(2, 1)));
        assert!(add_restart(&mut log, 7, limit(2, 1)));
        assert!(!add_restart(&mut log, 7, limit(2, 1)));
    }

    #[test]
    fn a_gap_of_period_plus_one_seconds_forgets_the_old_restarts() {
        let mut log = VecDeque::new();
        for t in [0, 0, 0] {
            assert!(add_restart(&mut log, t, limit(3, 5)));
        }
        assert!(add_restart(&mut log, 6, limit(3, 5)));
        assert_eq!(log, [6]);
    }

    #[test]
    fn a_gap_of_exactly_the_period_is_still_counted() {
        // OTP keeps r >= now - period: inclusive.
        let mut log = VecDeque::new();
        for t in [0, 0, 0] {
            assert!(add_restart(&mut log, t, limit(3, 5)));
        }
        assert!(!add_restart(&mut log, 5, limit(3, 5)));
    }

    #[test]
    fn crashes_spaced_wider_than_the_window_never_exhaust_intensity() {
        let mut log = VecDeque::new();
        for i in 0..1000 {
            assert!(add_restart(&mut log, i * 6, limit(1, 5)));
        }
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn a_refused_restart_is_still_recorded() {
        // The supervisor dies on a refusal, but the log must reflect what OTP's does.
        let mut log = VecDeque::new();
        assert!(add_restart(&mut log, 0, limit(1, 5)));
        assert!(!add_restart(&mut log, 1, limit(1, 5)));
        assert_eq!(log, [0, 1]);
    }

    #[test]
    fn every_window_of_decisions_matches_a_brute_force_count() {
        // Exhaustive over small schedules: allowed iff the restarts within
        // [now - period, now] (this one included) are at most max_restarts.
        for max_restarts in 0..4u32 {
            for period in 1..4u64 {
                for schedule in 0u32..(1 << 10) {
                    let mut log = VecDeque::new();
                    let mut times: Vec<u64> = Vec::new();
                    for t in 0..10u64 {
                        if schedule & (1 << t) == 0 {
                            continue;
                        }
                        times.push(t);
                        let in_window = times.iter().filter(|&&r| r + period >= t).count();
                        let expected = in_window <= max_restarts as usize;
                        assert_eq!(
                            add_restart(&mut log, t, limit(max_restarts, period)),
                            expected,
                            "I={max_restarts} P={period} schedule={schedule:b} t={t}"
                        );
                    }
                }
            }
        }
    }
}
