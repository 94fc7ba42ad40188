//! Links racing exits: exactly one exit signal per link, none after `unlink` returns.

use super::{drain, exit_on_thread, model, process};
use crate::message::Message;
use crate::signal::ops;
use crate::{ExitReason, Pid};

/// How many `Exit` messages from `from` were queued for `cell` (received now).
fn exits_from(cell: &crate::process::cell::ProcessCell<()>, from: Pid) -> Vec<ExitReason> {
    drain(cell)
        .into_iter()
        .filter_map(|m| match m {
            Message::Exit(e) if e.from == from => Some(e.reason),
            _ => None,
        })
        .collect()
}

#[test]
fn no_exit_signal_arrives_after_unlink_returns() {
    model(|| {
        let a = process::<()>(true);
        let b = process::<()>(false);
        let b_pid = b.core.pid;
        ops::link(&*a, b_pid).unwrap();
        let dying = exit_on_thread(&b, ExitReason::error("boom"));
        ops::unlink(&*a, b_pid);
        let before = exits_from(&a, b_pid);
        dying.join().unwrap();
        assert!(before.len() <= 1, "one link, one exit signal");
        assert!(
            exits_from(&a, b_pid).is_empty(),
            "an exit signal arrived after unlink returned"
        );
    });
}

#[test]
fn no_termination_is_pending_after_unlink_returns_without_one() {
    model(|| {
        let a = process::<()>(false);
        let b = process::<()>(false);
        let b_pid = b.core.pid;
        ops::link(&*a, b_pid).unwrap();
        let dying = exit_on_thread(&b, ExitReason::error("boom"));
        ops::unlink(&*a, b_pid);
        let killed_before = a.core.kill_pending();
        dying.join().unwrap();
        assert_eq!(
            a.core.kill_pending(),
            killed_before,
            "the linked process's crash reached a caller whose unlink had returned"
        );
    });
}

#[test]
fn a_link_racing_the_targets_exit_yields_exactly_one_exit_signal() {
    model(|| {
        let a = process::<()>(true);
        let b = process::<()>(false);
        let b_pid = b.core.pid;
        let dying = exit_on_thread(&b, ExitReason::error("boom"));
        // A trapping caller is told of a dead target by message, so `link` succeeds either way.
        ops::link(&*a, b_pid).unwrap();
        dying.join().unwrap();
        let exits = exits_from(&a, b_pid);
        assert_eq!(exits.len(), 1, "exactly one exit signal: {exits:?}");
        assert!(matches!(
            &exits[0],
            ExitReason::NoProc | ExitReason::Error(_)
        ));
        let stale = a
            .core
            .lock()
            .relations
            .as_ref()
            .is_some_and(|r| r.links.contains(&b_pid));
        assert!(!stale, "a link to a dead process was left behind");
    });
}
