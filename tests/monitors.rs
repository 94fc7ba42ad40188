//! Monitors: unidirectional, independent, `noproc` for the dead, removable with flush.

mod common;

use common::{exits_on_message, idle, Probe, Seen};
use ferrotp::prelude::*;

#[tokio::test(start_paused = true)]
async fn down_carries_the_reference_pid_and_exit_reason() {
    let mut probe = Probe::spawn(false);
    let target = exits_on_message(ExitReason::error("gone"));
    let tpid = target.pid();
    let r = probe.run(move |ctx| ctx.monitor(tpid)).await;
    target.send(()).unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Down(Down {
            reference: r,
            pid: tpid,
            reason: ExitReason::error("gone")
        })
    );
}

#[tokio::test(start_paused = true)]
async fn monitoring_a_dead_process_gives_an_immediate_noproc_down() {
    let mut probe = Probe::spawn(false);
    let dead = exits_on_message(ExitReason::Normal);
    let dpid = dead.pid();
    let exited = process::await_exit(dpid);
    dead.send(()).unwrap();
    exited.await;
    let r = probe.run(move |ctx| ctx.monitor(dpid)).await;
    assert_eq!(
        probe.next().await,
        Seen::Down(Down {
            reference: r,
            pid: dpid,
            reason: ExitReason::NoProc
        })
    );
}

#[tokio::test(start_paused = true)]
async fn repeated_monitors_are_independent() {
    let mut probe = Probe::spawn(false);
    let target = idle(false);
    let tpid = target.pid();
    let r1 = probe.run(move |ctx| ctx.monitor(tpid)).await;
    let r2 = probe.run(move |ctx| ctx.monitor(tpid)).await;
    assert_ne!(r1, r2);
    probe.run(move |ctx| ctx.demonitor(r1)).await;
    process::exit(tpid, ExitReason::Shutdown).unwrap();
    assert!(matches!(probe.next().await, Seen::Down(d) if d.reference == r2));
    probe.assert_quiet().await;
}

#[tokio::test(start_paused = true)]
async fn a_monitor_does_not_tie_the_lives_of_the_two_processes() {
    let probe = Probe::spawn(false);
    let target = idle(false);
    let tpid = target.pid();
    probe.run(move |ctx| ctx.monitor(tpid)).await;
    let probe_exit = process::await_exit(probe.pid());
    process::exit(probe.pid(), ExitReason::error("watcher died")).unwrap();
    probe_exit.await;
    assert!(process::is_alive(tpid));
    process::exit(tpid, ExitReason::error("target died")).unwrap();
    assert!(!process::is_alive(tpid));
}

#[tokio::test(start_paused = true)]
async fn demonitor_prevents_the_down() {
    let mut probe = Probe::spawn(false);
    let target = idle(false);
    let tpid = target.pid();
    let r = probe.run(move |ctx| ctx.monitor(tpid)).await;
    assert!(probe.run(move |ctx| ctx.demonitor(r)).await);
    assert!(!probe.run(move |ctx| ctx.demonitor(r)).await);
    process::exit(tpid, ExitReason::Kill).unwrap();
    probe.assert_quiet().await;
}

#[tokio::test(start_paused = true)]
async fn demonitor_flush_removes_an_already_queued_down() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    process::spawn(move |ctx: Context<()>| async move {
        let target = idle(false);
        let r = ctx.monitor(target.pid());
        let exited = process::await_exit(target.pid());
        process::exit(target.pid(), ExitReason::Kill).unwrap();
        // Busy with something other than the mailbox while the Down is queued.
        exited.await;
        let queued_before = ctx.mailbox_len();
        let was_active = ctx.demonitor_flush(r);
        let _ = tx.send((queued_before, was_active, ctx.mailbox_len()));
        Ok(())
    });
    assert_eq!(rx.await.unwrap(), (1, false, 0));
}

#[tokio::test(start_paused = true)]
async fn is_alive_is_false_as_soon_as_a_terminating_signal_was_sent() {
    let target = idle(false);
    process::exit(target.pid(), ExitReason::Shutdown).unwrap();
    assert!(!process::is_alive(target.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_dead_watcher_leaves_no_monitor_on_its_target() {
    let probe = Probe::spawn(false);
    let target = idle(false);
    let tpid = target.pid();
    probe.run(move |ctx| ctx.monitor(tpid)).await;
    assert_eq!(
        process::process_info(tpid).unwrap().monitored_by,
        vec![probe.pid()]
    );
    let exited = process::await_exit(probe.pid());
    process::exit(probe.pid(), ExitReason::Kill).unwrap();
    exited.await;
    assert!(process::process_info(tpid).unwrap().monitored_by.is_empty());
}

#[tokio::test(start_paused = true)]
async fn spawn_monitor_reports_a_child_that_fails_at_once() {
    let mut probe = Probe::spawn(false);
    let (cpid, r) = probe
        .run(|ctx| {
            let (child, r) =
                ctx.spawn_monitor(|_: Context| async { Err::<(), _>(ExitReason::Shutdown) });
            (child.pid(), r)
        })
        .await;
    assert_eq!(
        probe.next().await,
        Seen::Down(Down {
            reference: r,
            pid: cpid,
            reason: ExitReason::Shutdown
        })
    );
}

#[tokio::test(start_paused = true)]
async fn when_await_exit_resolves_every_monitor_has_its_down() {
    let target = idle(false);
    // Watchers that never read their mailbox: the Down must be queued there.
    let watchers: Vec<Addr<()>> = (0..8)
        .map(|_| {
            let pid = target.pid();
            process::spawn(move |ctx: Context<()>| async move {
                ctx.monitor(pid);
                std::future::pending().await
            })
        })
        .collect();
    while process::process_info(target.pid())
        .unwrap()
        .monitored_by
        .len()
        < 8
    {
        tokio::task::yield_now().await; // the watchers set up their monitors
    }
    let exited = process::await_exit(target.pid());
    process::exit(target.pid(), ExitReason::Kill).unwrap();
    exited.await;
    for w in &watchers {
        assert_eq!(process::process_info(w.pid()).unwrap().mailbox_len, 1);
    }
}
