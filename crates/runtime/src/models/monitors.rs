//! Monitors racing exits: one `Down` per monitor, none after `demonitor` says it was active or
//! after a flushing `demonitor` returns.

use super::{drain, exit_on_thread, model, process};
use crate::message::Message;
use crate::process::cell::ProcessCell;
use crate::signal::ops;
use crate::{ExitReason, Reference};

fn downs(cell: &ProcessCell<()>, reference: Reference) -> usize {
    drain(cell)
        .into_iter()
        .filter(|m| matches!(m, Message::Down(d) if d.reference == reference))
        .count()
}

#[test]
fn a_monitor_racing_the_targets_exit_yields_exactly_one_down() {
    model(|| {
        let a = process::<()>(false);
        let b = process::<()>(false);
        let dying = exit_on_thread(&b, ExitReason::Normal);
        let reference = ops::monitor(&*a, b.core.pid);
        dying.join().unwrap();
        assert_eq!(downs(&a, reference), 1);
    });
}

#[test]
fn no_down_is_seen_after_a_flushing_demonitor_returns() {
    model(|| {
        let a = process::<()>(false);
        let b = process::<()>(false);
        let reference = ops::monitor(&*a, b.core.pid);
        let dying = exit_on_thread(&b, ExitReason::Normal);
        ops::demonitor(&*a, reference, true);
        let right_after = downs(&a, reference);
        dying.join().unwrap();
        assert_eq!(right_after, 0, "flush left a Down in the mailbox");
        assert_eq!(
            downs(&a, reference),
            0,
            "a Down arrived after demonitor returned"
        );
    });
}

#[test]
fn demonitor_reports_active_exactly_when_no_down_was_queued() {
    model(|| {
        let a = process::<()>(false);
        let b = process::<()>(false);
        let reference = ops::monitor(&*a, b.core.pid);
        let dying = exit_on_thread(&b, ExitReason::Normal);
        let was_active = ops::demonitor(&*a, reference, false);
        dying.join().unwrap();
        let queued = downs(&a, reference);
        if was_active {
            assert_eq!(queued, 0, "demonitor said active, yet a Down came");
        } else {
            assert_eq!(queued, 1, "demonitor said inactive, yet no Down came");
        }
    });
}
