//! The runtime's seam for pids on other nodes: what a local process does to a remote pid
//! reaches the installed distribution, and what a remote process does arrives under OTP's
//! rules. A recording distribution stands in for the network; each test filters the events
//! of its own processes, as the tests of this binary share the one installed distribution.

mod common;

use std::sync::{Arc, OnceLock};

use common::{Probe, Seen};
use ferrotp::distribution::{self, Distribution};
use ferrotp::prelude::*;
use parking_lot::Mutex;

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Link(Pid, Pid),
    Unlink(Pid, Pid),
    Exit(Pid, Pid, ExitReason, bool),
    Monitor(Pid, Pid, Reference),
    Demonitor(Pid, Pid, Reference),
    Down(Pid, Pid, Reference, ExitReason),
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Distribution for Recorder {
    fn link(&self, from: Pid, to: Pid) {
        self.0.lock().push(Event::Link(from, to));
    }
    fn unlink(&self, from: Pid, to: Pid) {
        self.0.lock().push(Event::Unlink(from, to));
    }
    fn exit(&self, from: Pid, to: Pid, reason: &ExitReason, via_link: bool) {
        self.0
            .lock()
            .push(Event::Exit(from, to, reason.clone(), via_link));
    }
    fn monitor(&self, watcher: Pid, target: Pid, reference: Reference) {
        self.0
            .lock()
            .push(Event::Monitor(watcher, target, reference));
    }
    fn demonitor(&self, watcher: Pid, target: Pid, reference: Reference) {
        self.0
            .lock()
            .push(Event::Demonitor(watcher, target, reference));
    }
    fn down(&self, watcher: Pid, target: Pid, reference: Reference, reason: &ExitReason) {
        self.0
            .lock()
            .push(Event::Down(watcher, target, reference, reason.clone()));
    }
}

fn recorder() -> &'static Arc<Recorder> {
    static RECORDER: OnceLock<Arc<Recorder>> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let r = Arc::new(Recorder::default());
        distribution::install(r.clone()).expect("the only distribution of this test binary");
        r
    })
}

/// The events that involve `pid`.
fn events_of(pid: Pid) -> Vec<Event> {
    recorder()
        .0
        .lock()
        .iter()
        .filter(|e| match e {
            Event::Link(a, b) | Event::Unlink(a, b) => *a == pid || *b == pid,
            Event::Exit(a, b, ..) => *a == pid || *b == pid,
            Event::Monitor(a, b, _) | Event::Demonitor(a, b, _) => *a == pid || *b == pid,
            Event::Down(a, b, ..) => *a == pid || *b == pid,
        })
        .cloned()
        .collect()
}

/// A pid on node 7, unique per call.
fn remote() -> Pid {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    Pid::from_parts(
        7,
        1,
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    )
}

#[tokio::test(start_paused = true)]
async fn a_second_distribution_cannot_be_installed() {
    recorder();
    assert!(distribution::is_installed());
    assert_eq!(
        distribution::install(Arc::new(Recorder::default())),
        Err(distribution::AlreadyInstalled)
    );
}

#[tokio::test(start_paused = true)]
async fn linking_to_a_remote_pid_records_the_link_and_tells_the_distribution() {
    recorder();
    let probe = Probe::spawn(false);
    let (me, them) = (probe.pid(), remote());
    probe.run(move |ctx| ctx.link(them)).await.unwrap();
    assert_eq!(events_of(me), vec![Event::Link(me, them)]);
    assert!(process::process_info(me).unwrap().links.contains(&them));
    probe.run(move |ctx| ctx.unlink(them)).await;
    assert_eq!(events_of(me)[1], Event::Unlink(me, them));
    assert!(process::process_info(me).unwrap().links.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_local_process_terminating_sends_its_reason_through_each_remote_link() {
    recorder();
    let probe = Probe::spawn(false);
    let (me, them) = (probe.pid(), remote());
    probe.run(move |ctx| ctx.link(them)).await.unwrap();
    let exited = process::await_exit(me);
    process::exit(me, ExitReason::error("boom")).unwrap();
    exited.await;
    assert!(events_of(me).contains(&Event::Exit(me, them, ExitReason::error("boom"), true)));
}

#[tokio::test(start_paused = true)]
async fn an_exit_signal_through_a_link_from_a_remote_pid_follows_the_trap_exit_rules() {
    recorder();
    let mut trapping = Probe::spawn(true);
    let plain = Probe::spawn(false);
    let them = remote();
    distribution::link_from(them, trapping.pid()).unwrap();
    distribution::link_from(them, plain.pid()).unwrap();
    let plain_exit = process::await_exit(plain.pid());

    distribution::exit_from(them, trapping.pid(), &ExitReason::NoConnection, true).unwrap();
    distribution::exit_from(them, plain.pid(), &ExitReason::NoConnection, true).unwrap();

    assert_eq!(
        trapping.next().await,
        Seen::Exit(Exit {
            from: them,
            reason: ExitReason::NoConnection
        })
    );
    assert_eq!(plain_exit.await, ExitReason::NoConnection);
}

#[tokio::test(start_paused = true)]
async fn a_remote_link_to_a_dead_process_is_refused_with_noproc() {
    recorder();
    let probe = Probe::spawn(false);
    let pid = probe.pid();
    let exited = process::await_exit(pid);
    process::exit(pid, ExitReason::Kill).unwrap();
    exited.await;
    assert!(distribution::link_from(remote(), pid).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_remote_monitor_is_told_when_the_local_target_terminates() {
    recorder();
    let probe = Probe::spawn(false);
    let (target, watcher, reference) = (probe.pid(), remote(), Reference::new());
    distribution::monitor_from(watcher, target, reference).unwrap();
    assert!(process::process_info(target)
        .unwrap()
        .monitored_by
        .contains(&watcher));
    let exited = process::await_exit(target);
    process::exit(target, ExitReason::Shutdown).unwrap();
    exited.await;
    assert_eq!(
        events_of(target),
        vec![Event::Down(
            watcher,
            target,
            reference,
            ExitReason::Shutdown
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_removed_remote_monitor_is_not_told() {
    recorder();
    let probe = Probe::spawn(false);
    let (target, reference) = (probe.pid(), Reference::new());
    distribution::monitor_from(remote(), target, reference).unwrap();
    distribution::demonitor_from(target, reference);
    let exited = process::await_exit(target);
    process::exit(target, ExitReason::Kill).unwrap();
    exited.await;
    assert!(events_of(target).is_empty());
}

#[tokio::test(start_paused = true)]
async fn monitoring_a_remote_pid_delivers_the_down_the_distribution_reports() {
    recorder();
    let mut probe = Probe::spawn(false);
    let (me, them) = (probe.pid(), remote());
    let reference = probe.run(move |ctx| ctx.monitor(them)).await;
    assert_eq!(events_of(me), vec![Event::Monitor(me, them, reference)]);
    let down = Down {
        reference,
        pid: them,
        reason: ExitReason::NoConnection,
    };
    distribution::down_from(me, down.clone());
    assert_eq!(probe.next().await, Seen::Down(down));
    assert!(process::process_info(me).unwrap().monitors.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_terminating_process_removes_its_monitors_of_remote_pids() {
    recorder();
    let probe = Probe::spawn(false);
    let (me, them) = (probe.pid(), remote());
    let reference = probe.run(move |ctx| ctx.monitor(them)).await;
    let exited = process::await_exit(me);
    process::exit(me, ExitReason::Kill).unwrap();
    exited.await;
    assert!(events_of(me).contains(&Event::Demonitor(me, them, reference)));
}

#[tokio::test(start_paused = true)]
async fn exit_to_a_remote_pid_is_sent_as_an_exit_signal_not_through_a_link() {
    recorder();
    let them = remote();
    process::exit(them, ExitReason::Shutdown).unwrap();
    assert_eq!(
        events_of(them),
        vec![Event::Exit(Pid::RUNTIME, them, ExitReason::Shutdown, false)]
    );
}
