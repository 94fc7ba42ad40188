//! Links: bidirectional, at most one per pair, removable from either side.

mod common;

use common::{exits_on_message, idle, Probe, Seen};
use ferrotp::prelude::*;

#[tokio::test(start_paused = true)]
async fn link_is_bidirectional() {
    let probe = Probe::spawn(false);
    let mut watcher = Probe::spawn(true);
    let (ppid, wpid) = (probe.pid(), watcher.pid());
    watcher.run(move |ctx| ctx.link(ppid)).await.unwrap();
    // The probe did not call link, yet its crash reaches the watcher...
    process::exit(ppid, ExitReason::error("a")).unwrap();
    assert!(matches!(watcher.next().await, Seen::Exit(e) if e.from == ppid));
    // ...and the other direction: a new partner linked by the watcher dies with it.
    let partner = idle(false);
    let partner_pid = partner.pid();
    watcher.run(move |ctx| ctx.link(partner_pid)).await.unwrap();
    let partner_exit = process::await_exit(partner_pid);
    process::exit(wpid, ExitReason::Kill).unwrap();
    assert_eq!(partner_exit.await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn linking_twice_makes_one_link() {
    let probe = Probe::spawn(true);
    let target = idle(false);
    let tpid = target.pid();
    probe.run(move |ctx| ctx.link(tpid)).await.unwrap();
    probe.run(move |ctx| ctx.link(tpid)).await.unwrap();
    let info = process::process_info(probe.pid()).unwrap();
    assert_eq!(info.links, vec![tpid]);
    let target_info = process::process_info(tpid).unwrap();
    assert_eq!(target_info.links, vec![probe.pid()]);
}

#[tokio::test(start_paused = true)]
async fn unlink_by_the_caller_stops_propagation() {
    let mut probe = Probe::spawn(true);
    let child = exits_on_message(ExitReason::error("x"));
    let cpid = child.pid();
    probe.run(move |ctx| ctx.link(cpid)).await.unwrap();
    probe.run(move |ctx| ctx.unlink(cpid)).await;
    child.send(()).unwrap();
    probe.assert_quiet().await;
}

#[tokio::test(start_paused = true)]
async fn unlink_by_the_other_side_stops_propagation() {
    let mut probe = Probe::spawn(true);
    let other = Probe::spawn(false);
    let (ppid, opid) = (probe.pid(), other.pid());
    probe.run(move |ctx| ctx.link(opid)).await.unwrap();
    other.run(move |ctx| ctx.unlink(ppid)).await;
    assert!(process::process_info(ppid).unwrap().links.is_empty());
    process::exit(opid, ExitReason::Kill).unwrap();
    probe.assert_quiet().await;
}

#[tokio::test(start_paused = true)]
async fn link_to_a_dead_process_is_noproc_for_a_non_trapping_caller() {
    let probe = Probe::spawn(false);
    let dead = exits_on_message(ExitReason::Normal);
    let dpid = dead.pid();
    let exited = process::await_exit(dpid);
    dead.send(()).unwrap();
    exited.await;
    let err = probe.run(move |ctx| ctx.link(dpid)).await.unwrap_err();
    assert_eq!(err.pid(), dpid);
    assert!(process::is_alive(probe.pid()));
}

#[tokio::test(start_paused = true)]
async fn link_to_a_dead_process_gives_a_trapping_caller_an_exit_noproc_message() {
    let mut probe = Probe::spawn(true);
    let dead = exits_on_message(ExitReason::Normal);
    let dpid = dead.pid();
    let exited = process::await_exit(dpid);
    dead.send(()).unwrap();
    exited.await;
    probe.run(move |ctx| ctx.link(dpid)).await.unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: dpid,
            reason: ExitReason::NoProc
        })
    );
}

#[tokio::test(start_paused = true)]
async fn linking_to_yourself_does_nothing() {
    let probe = Probe::spawn(false);
    let me = probe.pid();
    probe.run(move |ctx| ctx.link(me)).await.unwrap();
    assert!(process::process_info(me).unwrap().links.is_empty());
}

#[tokio::test(start_paused = true)]
async fn spawn_link_links_before_the_child_runs() {
    let probe = Probe::spawn(false);
    let exited = process::await_exit(probe.pid());
    probe
        .run(|ctx| {
            ctx.spawn_link(|_: Context| async { Err::<(), _>(ExitReason::error("at once")) });
        })
        .await;
    assert_eq!(exited.await, ExitReason::error("at once"));
}

#[tokio::test(start_paused = true)]
async fn a_dead_process_leaves_no_link_behind() {
    let probe = Probe::spawn(true);
    let child = exits_on_message(ExitReason::Normal);
    let cpid = child.pid();
    probe.run(move |ctx| ctx.link(cpid)).await.unwrap();
    let exited = process::await_exit(cpid);
    child.send(()).unwrap();
    exited.await;
    assert!(process::process_info(probe.pid()).unwrap().links.is_empty());
}

#[tokio::test(start_paused = true)]
async fn builder_link_to_a_dead_process_fails_before_the_body_runs() {
    let dead = exits_on_message(ExitReason::Normal);
    let exited = process::await_exit(dead.pid());
    dead.send(()).unwrap();
    exited.await;
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ran.clone();
    let err = Builder::new()
        .link(dead.pid())
        .name("never_registered_link_target")
        .spawn(move |_: Context| async move {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err, SpawnError::NoProc(dead.pid()));
    tokio::task::yield_now().await;
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(registry::whereis("never_registered_link_target"), None);
}
