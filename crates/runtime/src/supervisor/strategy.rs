//! Which children a strategy stops and restarts, and which exits restart which children:
//! OTP's `restart/3` and `do_restart/3` as pure functions.

use crate::ExitReason;

/// How a supervisor reacts to a child's termination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Restart only the child that terminated.
    #[default]
    OneForOne,
    /// Terminate all other children, then restart all of them.
    OneForAll,
    /// Terminate the children started after the one that terminated, then restart it and them.
    RestForOne,
}

/// When a terminated child is restarted (OTP's `do_restart`).
///
/// | restart   | `Normal` | `Shutdown` | `ShutdownWith(_)` | other (`Killed`, panic, …) |
/// |-----------|----------|------------|-------------------|----------------------------|
/// | Permanent | restart  | restart    | restart           | restart                    |
/// | Transient | –        | –          | –                 | restart                    |
/// | Temporary | –        | –          | –                 | –                          |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only after an abnormal exit (not `Normal`, `Shutdown` or `ShutdownWith`).
    Transient,
    /// Never; its spec is removed when it terminates, for any reason.
    Temporary,
}

/// Whether a child with `restart` that exited with `reason` is restarted (the table on
/// [`Restart`]).
pub(crate) fn should_restart(restart: Restart, reason: &ExitReason) -> bool {
    match restart {
        Restart::Permanent => true,
        Restart::Transient => !reason.is_shutdown(),
        Restart::Temporary => false,
    }
}

/// What a strategy does about the child at `failed` (an index in start order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RestartPlan {
    /// Running children to terminate first, in this order (reverse start order).
    pub(crate) terminate: Vec<usize>,
    /// Children to start again afterwards, in this order (start order). Temporary children
    /// are never in it: terminated as bystanders, they are removed.
    pub(crate) restart: Vec<usize>,
}

/// Plan the reaction of `strategy` to the termination of child `failed`.
///
/// `children[i]` is `(restart type, running)` for the child at start position `i`; the
/// failed child itself is not running any more.
pub(crate) fn restart_plan(
    strategy: Strategy,
    children: &[(Restart, bool)],
    failed: usize,
) -> RestartPlan {
    let affected: Vec<usize> = match strategy {
        Strategy::OneForOne => vec![failed],
        Strategy::OneForAll => (0..children.len()).collect(),
        Strategy::RestForOne => (failed..children.len()).collect(),
    };
    RestartPlan {
        terminate: affected
            .iter()
            .rev()
            .copied()
            .filter(|&i| i != failed && children[i].1)
            .collect(),
        restart: affected
            .into_iter()
            .filter(|&i| i == failed || children[i].0 != Restart::Temporary)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Restart = Restart::Permanent;
    const T: Restart = Restart::Transient;
    const TMP: Restart = Restart::Temporary;

    #[test]
    fn permanent_restarts_after_every_reason() {
        for r in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::shutdown_with("x"),
            ExitReason::Killed,
            ExitReason::error("e"),
        ] {
            assert!(should_restart(P, &r), "{r:?}");
        }
    }

    #[test]
    fn transient_restarts_only_after_abnormal_reasons() {
        assert!(!should_restart(T, &ExitReason::Normal));
        assert!(!should_restart(T, &ExitReason::Shutdown));
        assert!(!should_restart(T, &ExitReason::shutdown_with("x")));
        assert!(should_restart(T, &ExitReason::Killed));
        assert!(should_restart(T, &ExitReason::Kill));
        assert!(should_restart(T, &ExitReason::error("e")));
    }

    #[test]
    fn temporary_never_restarts() {
        for r in [
            ExitReason::Normal,
            ExitReason::Killed,
            ExitReason::error("e"),
        ] {
            assert!(!should_restart(TMP, &r));
        }
    }

    #[test]
    fn one_for_one_touches_only_the_failed_child() {
        let kids = [(P, true), (P, false), (P, true)];
        let plan = restart_plan(Strategy::OneForOne, &kids, 1);
        assert_eq!(
            plan,
            RestartPlan {
                terminate: vec![],
                restart: vec![1]
            }
        );
    }

    #[test]
    fn one_for_all_terminates_the_others_in_reverse_and_restarts_all_in_order() {
        let kids = [(P, true), (T, true), (P, false), (P, true)];
        let plan = restart_plan(Strategy::OneForAll, &kids, 2);
        assert_eq!(plan.terminate, [3, 1, 0]);
        assert_eq!(plan.restart, [0, 1, 2, 3]);
    }

    #[test]
    fn one_for_all_restarts_stopped_non_temporary_children_too() {
        // A child stopped with terminate_child (not running) comes back with the group.
        let kids = [(P, false), (T, true), (P, false)];
        let plan = restart_plan(Strategy::OneForAll, &kids, 2);
        assert_eq!(plan.terminate, [1]);
        assert_eq!(plan.restart, [0, 1, 2]);
    }

    #[test]
    fn temporary_bystanders_are_terminated_but_never_restarted() {
        let kids = [(TMP, true), (P, false), (TMP, true)];
        let all = restart_plan(Strategy::OneForAll, &kids, 1);
        assert_eq!(all.terminate, [2, 0]);
        assert_eq!(all.restart, [1]);
        let rest = restart_plan(Strategy::RestForOne, &kids, 1);
        assert_eq!(rest.terminate, [2]);
        assert_eq!(rest.restart, [1]);
    }

    #[test]
    fn rest_for_one_leaves_earlier_children_alone() {
        let kids = [(P, true), (P, true), (P, false), (P, true), (P, true)];
        let plan = restart_plan(Strategy::RestForOne, &kids, 2);
        assert_eq!(plan.terminate, [4, 3]);
        assert_eq!(plan.restart, [2, 3, 4]);
    }

    #[test]
    fn rest_for_one_of_the_last_child_is_one_for_one() {
        let kids = [(P, true), (P, true), (P, false)];
        assert_eq!(
            restart_plan(Strategy::RestForOne, &kids, 2),
            restart_plan(Strategy::OneForOne, &kids, 2)
        );
    }

    #[test]
    fn plans_never_terminate_the_failed_child_or_stopped_children() {
        let types = [P, T, TMP];
        for n in 1..5usize {
            for mask in 0..(1u32 << n) {
                for t in 0..3usize.pow(n as u32) {
                    let kids: Vec<(Restart, bool)> = (0..n)
                        .map(|i| (types[(t / 3usize.pow(i as u32)) % 3], mask & (1 << i) != 0))
                        .collect();
                    for failed in 0..n {
                        let mut kids = kids.clone();
                        kids[failed].1 = false;
                        for s in [
                            Strategy::OneForOne,
                            Strategy::OneForAll,
                            Strategy::RestForOne,
                        ] {
                            let plan = restart_plan(s, &kids, failed);
                            assert!(plan.terminate.iter().all(|&i| i != failed && kids[i].1));
                            assert!(plan.terminate.windows(2).all(|w| w[0] > w[1]));
                            assert!(plan.restart.windows(2).all(|w| w[0] < w[1]));
                            assert!(plan.restart.contains(&failed));
                        }
                    }
                }
            }
        }
    }
}
