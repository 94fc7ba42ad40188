//! Supervisor: OTP's start, restart, intensity, shutdown and administration rules.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::kid::{kid, kid_with, plain, Kid, KidArgs};
use common::server::Log;
use ferrotp::prelude::*;
use ferrotp::supervisor::*;

fn flags(strategy: Strategy) -> SupervisorFlags {
    SupervisorFlags::new(strategy)
}

async fn pid_of(sup: &Supervisor, id: &str) -> Option<Pid> {
    sup.which_children()
        .await
        .unwrap()
        .into_iter()
        .find(|c| &*c.id == id)
        .and_then(|c| match c.pid {
            ChildPid::Running(p) => Some(p),
            _ => None,
        })
}

/// Make child `id` exit with `reason` (by asking it to stop, or with an untrappable kill), and
/// wait until the supervisor has handled it.
async fn crash(sup: &Supervisor, id: &str, reason: ExitReason) {
    let pid = pid_of(sup, id).await.expect("child running");
    let exited = process::await_exit(pid);
    if reason == ExitReason::Kill {
        process::exit(pid, ExitReason::Kill).unwrap();
    } else {
        Server::<Kid>::from_pid(pid).unwrap().cast(reason);
    }
    exited.await;
    // A call is served after the exit message: the supervisor has reacted by now.
    let _ = sup.count_children().await;
}

// Start and shutdown order.

#[tokio::test(start_paused = true)]
async fn children_start_in_order_and_are_listed_newest_first() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("a", &log), kid("b", &log), kid("c", &log)],
    )
    .await
    .unwrap();
    assert_eq!(log.entries(), ["start a", "start b", "start c"]);
    let ids: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids, ["c", "b", "a"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_stops_the_started_children_in_reverse_and_fails() {
    let log = Log::default();
    let bad = KidArgs::new("c", &log);
    bad.fail_starts.store(1, Ordering::SeqCst);
    let err = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![
            kid("a", &log),
            kid("b", &log),
            kid_with(bad),
            kid("d", &log),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, SupervisorError::FailedToStartChild { id, .. } if &**id == "c"),
        "{err:?}"
    );
    assert_eq!(
        log.entries(),
        [
            "start a",
            "start b",
            "start-failed c",
            "stop b shutdown",
            "stop a shutdown"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stop_terminates_children_one_at_a_time_in_reverse_start_order() {
    let log = Log::default();
    let children = ["a", "b", "c"].map(|id| {
        kid_with(KidArgs {
            slow_terminate: Some(Duration::from_millis(10)),
            ..KidArgs::new(id, &log)
        })
    });
    let sup = Supervisor::start(flags(Strategy::OneForOne), children.to_vec())
        .await
        .unwrap();
    sup.stop(ExitReason::Shutdown).await.unwrap();
    assert_eq!(
        log.entries()[3..],
        ["stop c shutdown", "stop b shutdown", "stop a shutdown"]
    );
}

// Strategies.

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_crashed_child() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("a", &log), kid("b", &log), kid("c", &log)],
    )
    .await
    .unwrap();
    let (a, b, c) = (
        pid_of(&sup, "a").await,
        pid_of(&sup, "b").await,
        pid_of(&sup, "c").await,
    );
    crash(&sup, "b", ExitReason::error("boom")).await;
    assert_eq!(pid_of(&sup, "a").await, a);
    assert_ne!(pid_of(&sup, "b").await, b);
    assert!(pid_of(&sup, "b").await.is_some());
    assert_eq!(pid_of(&sup, "c").await, c);
    assert_eq!(log.entries()[3..], ["stop b boom", "start b"]);
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForAll),
        vec![kid("a", &log), kid("b", &log), kid("c", &log)],
    )
    .await
    .unwrap();
    crash(&sup, "b", ExitReason::error("boom")).await;
    assert_eq!(
        log.entries()[3..],
        [
            "stop b boom",
            "stop c shutdown",
            "stop a shutdown",
            "start a",
            "start b",
            "start c"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_crashed_child_and_those_after_it() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::RestForOne),
        vec![
            kid("a", &log),
            kid("b", &log),
            kid("c", &log),
            kid("d", &log),
        ],
    )
    .await
    .unwrap();
    let a = pid_of(&sup, "a").await;
    crash(&sup, "b", ExitReason::error("boom")).await;
    assert_eq!(
        log.entries()[4..],
        [
            "stop b boom",
            "stop d shutdown",
            "stop c shutdown",
            "start b",
            "start c",
            "start d"
        ]
    );
    assert_eq!(pid_of(&sup, "a").await, a);
}

#[tokio::test(start_paused = true)]
async fn temporary_bystanders_of_a_group_restart_are_dropped() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForAll),
        vec![
            kid("a", &log),
            kid("t", &log).restart(Restart::Temporary),
            kid("c", &log),
        ],
    )
    .await
    .unwrap();
    crash(&sup, "c", ExitReason::error("boom")).await;
    let ids: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids, ["c", "a"]);
}

// Restart types.

#[tokio::test(start_paused = true)]
async fn a_transient_child_is_restarted_only_after_an_abnormal_exit() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("t", &log).restart(Restart::Transient)],
    )
    .await
    .unwrap();
    crash(&sup, "t", ExitReason::Killed).await;
    assert!(
        pid_of(&sup, "t").await.is_some(),
        "killed is abnormal: restarted"
    );
    crash(&sup, "t", ExitReason::shutdown_with("done")).await;
    let child = &sup.which_children().await.unwrap()[0];
    assert_eq!(child.pid, ChildPid::Undefined, "spec kept, not restarted");
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_is_never_restarted_and_its_spec_is_removed() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("t", &log).restart(Restart::Temporary)],
    )
    .await
    .unwrap();
    crash(&sup, "t", ExitReason::error("boom")).await;
    assert!(sup.which_children().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_permanent_child_is_restarted_even_after_a_normal_exit() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![kid("p", &log)])
        .await
        .unwrap();
    let first = pid_of(&sup, "p").await.unwrap();
    crash(&sup, "p", ExitReason::Normal).await;
    assert!(pid_of(&sup, "p").await.is_some_and(|p| p != first));
}

// Intensity.

#[tokio::test(start_paused = true)]
async fn the_fourth_crash_within_five_seconds_shuts_the_supervisor_down() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("a", &log), kid("b", &log)],
    )
    .await
    .unwrap();
    let sup_exit = process::await_exit(sup.pid().unwrap());
    for _ in 0..3 {
        crash(&sup, "a", ExitReason::error("boom")).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(sup.pid().is_some_and(process::is_alive));
    let a = pid_of(&sup, "a").await.unwrap();
    Server::<Kid>::from_pid(a)
        .unwrap()
        .cast(ExitReason::error("boom"));
    assert_eq!(sup_exit.await, ExitReason::Shutdown);
    assert_eq!(
        log.entries().last().map(String::as_str),
        Some("stop b shutdown")
    );
}

#[tokio::test(start_paused = true)]
async fn crashes_spaced_past_the_window_never_exhaust_intensity() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![kid("a", &log)])
        .await
        .unwrap();
    for _ in 0..10 {
        crash(&sup, "a", ExitReason::error("boom")).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    assert!(pid_of(&sup, "a").await.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_group_restart_counts_once() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForAll).max_restarts(2),
        vec![kid("a", &log), kid("b", &log), kid("c", &log)],
    )
    .await
    .unwrap();
    crash(&sup, "a", ExitReason::error("1")).await;
    crash(&sup, "b", ExitReason::error("2")).await;
    assert!(sup.pid().is_some_and(process::is_alive));
}

#[tokio::test(start_paused = true)]
async fn a_failed_restart_is_retried_and_every_attempt_counts() {
    let log = Log::default();
    let args = KidArgs::new("a", &log);
    let fail = args.fail_starts.clone();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne).max_restarts(3),
        vec![kid_with(args)],
    )
    .await
    .unwrap();
    let sup_exit = process::await_exit(sup.pid().unwrap());
    fail.store(100, Ordering::SeqCst);
    let a = pid_of(&sup, "a").await.unwrap();
    Server::<Kid>::from_pid(a)
        .unwrap()
        .cast(ExitReason::error("boom"));
    assert_eq!(sup_exit.await, ExitReason::Shutdown);
    let failed = log
        .entries()
        .iter()
        .filter(|e| *e == "start-failed a")
        .count();
    assert_eq!(failed, 3, "{:?}", log.entries());
}

#[tokio::test(start_paused = true)]
async fn a_restart_that_fails_once_is_retried_and_succeeds() {
    let log = Log::default();
    let args = KidArgs::new("a", &log);
    let fail = args.fail_starts.clone();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![kid_with(args)])
        .await
        .unwrap();
    fail.store(1, Ordering::SeqCst);
    crash(&sup, "a", ExitReason::error("boom")).await;
    sup.count_children().await.unwrap();
    assert!(pid_of(&sup, "a").await.is_some());
    assert_eq!(
        log.entries()[1..],
        ["stop a boom", "start-failed a", "start a"]
    );
}

#[tokio::test(start_paused = true)]
async fn exhaustion_escalates_through_a_three_level_tree() {
    let log = Log::default();
    let leaf_sup = Supervisor::child_spec(
        flags(Strategy::OneForOne).max_restarts(1),
        vec![kid("leaf", &log)],
    )
    .id("leaf_sup")
    .name("escalation_leaf_sup");
    let mid_sup =
        Supervisor::child_spec(flags(Strategy::OneForOne).max_restarts(0), vec![leaf_sup])
            .id("mid_sup");
    let root = Supervisor::start(flags(Strategy::OneForOne).max_restarts(5), vec![mid_sup])
        .await
        .unwrap();
    let mid_before = pid_of(&root, "mid_sup").await.unwrap();
    let mid_exit = process::await_exit(mid_before);
    let leaf_sup = Supervisor::named("escalation_leaf_sup");
    // Two crashes exceed the leaf supervisor's intensity of 1: it exits shutdown, which the
    // middle supervisor (intensity 0) cannot absorb either; the root restarts the middle one.
    for _ in 0..2 {
        let leaf = pid_of(&leaf_sup, "leaf").await.unwrap();
        let exited = process::await_exit(leaf);
        process::exit(leaf, ExitReason::Kill).unwrap();
        exited.await;
    }
    assert_eq!(mid_exit.await, ExitReason::Shutdown);
    root.count_children().await.unwrap();
    let mid_after = pid_of(&root, "mid_sup").await.unwrap();
    assert_ne!(mid_before, mid_after);
    assert!(
        pid_of(&leaf_sup, "leaf").await.is_some(),
        "the subtree is back"
    );
}

// Shutdown kinds.

#[tokio::test(start_paused = true)]
async fn brutal_kill_skips_terminate() {
    let log = Log::default();
    let spec = kid_with(KidArgs {
        slow_terminate: Some(Duration::ZERO),
        ..KidArgs::new("a", &log)
    })
    .shutdown(Shutdown::BrutalKill);
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    sup.terminate_child("a").await.unwrap();
    assert_eq!(log.entries(), ["start a"]);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_shutdown_runs_terminate_then_kills_a_child_that_takes_too_long() {
    let log = Log::default();
    let spec = kid_with(KidArgs {
        slow_terminate: Some(Duration::from_secs(3600)),
        ..KidArgs::new("a", &log)
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(2)));
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let a = pid_of(&sup, "a").await.unwrap();
    let exited = process::await_exit(a);
    let t0 = tokio::time::Instant::now();
    sup.terminate_child("a").await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(exited.await, ExitReason::Killed);
    assert_eq!(log.entries(), ["start a", "stop a shutdown"]);
}

#[tokio::test(start_paused = true)]
async fn an_infinity_shutdown_waits_for_terminate_to_finish() {
    let log = Log::default();
    let spec = kid_with(KidArgs {
        slow_terminate: Some(Duration::from_secs(600)),
        ..KidArgs::new("a", &log)
    })
    .shutdown(Shutdown::Infinity);
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let a = pid_of(&sup, "a").await.unwrap();
    let exited = process::await_exit(a);
    let t0 = tokio::time::Instant::now();
    sup.terminate_child("a").await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(600));
    assert_eq!(exited.await, ExitReason::Shutdown);
}

// Auto-shutdown.

#[tokio::test(start_paused = true)]
async fn any_significant_shuts_down_when_a_significant_child_ends_for_good() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne).auto_shutdown(AutoShutdown::AnySignificant),
        vec![
            kid("s", &log).restart(Restart::Transient).significant(true),
            kid("w", &log),
        ],
    )
    .await
    .unwrap();
    let sup_exit = process::await_exit(sup.pid().unwrap());
    let s = pid_of(&sup, "s").await.unwrap();
    Server::<Kid>::from_pid(s).unwrap().cast(ExitReason::Normal);
    assert_eq!(sup_exit.await, ExitReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_transient_significant_child_is_restarted_not_a_shutdown() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne).auto_shutdown(AutoShutdown::AnySignificant),
        vec![kid("s", &log).restart(Restart::Transient).significant(true)],
    )
    .await
    .unwrap();
    crash(&sup, "s", ExitReason::error("boom")).await;
    assert!(pid_of(&sup, "s").await.is_some());
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_for_the_last_significant_child() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne).auto_shutdown(AutoShutdown::AllSignificant),
        vec![
            kid("s1", &log)
                .restart(Restart::Temporary)
                .significant(true),
            kid("s2", &log)
                .restart(Restart::Temporary)
                .significant(true),
        ],
    )
    .await
    .unwrap();
    let sup_pid = sup.pid().unwrap();
    crash(&sup, "s1", ExitReason::error("x")).await;
    assert!(process::is_alive(sup_pid));
    let sup_exit = process::await_exit(sup_pid);
    let s2 = pid_of(&sup, "s2").await.unwrap();
    Server::<Kid>::from_pid(s2)
        .unwrap()
        .cast(ExitReason::error("y"));
    assert_eq!(sup_exit.await, ExitReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn terminate_child_of_a_significant_child_does_not_shut_down() {
    let log = Log::default();
    let sup = Supervisor::start(
        flags(Strategy::OneForOne).auto_shutdown(AutoShutdown::AnySignificant),
        vec![kid("s", &log).restart(Restart::Transient).significant(true)],
    )
    .await
    .unwrap();
    sup.terminate_child("s").await.unwrap();
    assert!(sup.pid().is_some_and(process::is_alive));
}

// Validation and administration.

#[tokio::test(start_paused = true)]
async fn invalid_specs_are_rejected_before_anything_starts() {
    let log = Log::default();
    let dup = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("a", &log), kid("a", &log)],
    )
    .await;
    assert_eq!(
        dup.unwrap_err(),
        SupervisorError::DuplicateChildId("a".into())
    );
    let permanent_significant = Supervisor::start(
        flags(Strategy::OneForOne).auto_shutdown(AutoShutdown::AnySignificant),
        vec![kid("p", &log).significant(true)],
    )
    .await;
    assert_eq!(
        permanent_significant.unwrap_err(),
        SupervisorError::InvalidChildSpec {
            id: "p".into(),
            problem: ChildSpecProblem::SignificantPermanent
        }
    );
    let no_auto = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("t", &log).restart(Restart::Transient).significant(true)],
    )
    .await;
    assert_eq!(
        no_auto.unwrap_err(),
        SupervisorError::InvalidChildSpec {
            id: "t".into(),
            problem: ChildSpecProblem::SignificantWithoutAutoShutdown
        }
    );
    let bad_period = Supervisor::start(flags(Strategy::OneForOne).max_seconds(0), vec![]).await;
    assert_eq!(
        bad_period.unwrap_err(),
        SupervisorError::InvalidFlags(FlagsProblem::ZeroPeriod)
    );
    let zero_shutdown = Supervisor::start(
        flags(Strategy::OneForOne),
        vec![kid("z", &log).shutdown(Shutdown::Timeout(Duration::ZERO))],
    )
    .await;
    assert_eq!(
        zero_shutdown.unwrap_err(),
        SupervisorError::InvalidChildSpec {
            id: "z".into(),
            problem: ChildSpecProblem::ZeroShutdownTimeout
        }
    );
    assert!(log.entries().is_empty());
}

#[tokio::test(start_paused = true)]
async fn start_child_adds_and_refuses_known_ids() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![kid("a", &log)])
        .await
        .unwrap();
    let a = pid_of(&sup, "a").await.unwrap();
    assert_eq!(
        sup.start_child(kid("a", &log)).await,
        Err(SupervisorError::AlreadyStarted(a))
    );
    let b = sup.start_child(kid("b", &log)).await.unwrap();
    assert_eq!(b, pid_of(&sup, "b").await);
    sup.terminate_child("b").await.unwrap();
    assert_eq!(
        sup.start_child(kid("b", &log)).await,
        Err(SupervisorError::AlreadyPresent)
    );
}

#[tokio::test(start_paused = true)]
async fn terminate_restart_and_delete_child_follow_otp() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![kid("a", &log)])
        .await
        .unwrap();
    assert_eq!(
        sup.terminate_child("zz").await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(sup.restart_child("a").await, Err(SupervisorError::Running));
    assert_eq!(sup.delete_child("a").await, Err(SupervisorError::Running));
    sup.terminate_child("a").await.unwrap();
    sup.terminate_child("a").await.unwrap(); // already stopped: still ok
    assert_eq!(
        sup.count_children().await.unwrap(),
        ChildCounts {
            specs: 1,
            active: 0,
            supervisors: 0,
            workers: 1
        }
    );
    let again = sup.restart_child("a").await.unwrap();
    assert_eq!(again, pid_of(&sup, "a").await);
    sup.terminate_child("a").await.unwrap();
    sup.delete_child("a").await.unwrap();
    assert_eq!(
        sup.get_childspec("a").await.unwrap_err(),
        SupervisorError::NotFound
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_start_child_is_reported_and_not_kept() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![])
        .await
        .unwrap();
    let args = KidArgs::new("x", &log);
    args.fail_starts.store(1, Ordering::SeqCst);
    let err = sup.start_child(kid_with(args)).await.unwrap_err();
    assert!(matches!(err, SupervisorError::StartFailed(_)));
    assert!(sup.which_children().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_start_function_is_a_failed_start_not_a_crash() {
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![])
        .await
        .unwrap();
    let spec = ChildSpec::worker("bad", |_| async { panic!("start function bug") });
    let err = sup.start_child(spec).await.unwrap_err();
    assert!(matches!(
        err,
        SupervisorError::StartFailed(ExitReason::Panic { .. })
    ));
    assert!(sup.pid().is_some_and(process::is_alive));
}

#[tokio::test(start_paused = true)]
async fn a_stray_exit_signal_is_ignored() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![kid("a", &log)])
        .await
        .unwrap();
    process::exit(sup.pid().unwrap(), ExitReason::Shutdown).unwrap();
    assert_eq!(sup.count_children().await.unwrap().active, 1);
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_dies_with_its_parent_after_stopping_its_children() {
    let log = Log::default();
    let children = vec![kid("a", &log)];
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = process::spawn(move |mut ctx: Context| async move {
        let sup = Supervisor::start_link(flags(Strategy::OneForOne), children)
            .await
            .unwrap();
        let _ = tx.send(sup);
        ctx.recv().await;
        Err(ExitReason::error("parent crashed"))
    });
    let sup = rx.await.unwrap();
    let exited = process::await_exit(sup.pid().unwrap());
    parent.send(()).unwrap();
    assert_eq!(exited.await, ExitReason::error("parent crashed"));
    // Children are shut down with `shutdown`; the supervisor exits with its parent's reason.
    assert_eq!(log.entries(), ["start a", "stop a shutdown"]);
}

#[tokio::test(start_paused = true)]
async fn a_named_child_is_reached_by_name_after_each_restart() {
    let log = Log::default();
    let spec = kid("a", &log).name("sup_named_kid");
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let client: Server<common::kid::Kid> = Server::named("sup_named_kid");
    let first = client.call(common::kid::KidCall::Pid).await.unwrap();
    crash(&sup, "a", ExitReason::error("boom")).await;
    let second = client.call(common::kid::KidCall::Pid).await.unwrap();
    assert_ne!(first, second);
}

#[tokio::test(start_paused = true)]
async fn a_plain_process_child_is_supervised_too() {
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![plain("p")])
        .await
        .unwrap();
    let first = pid_of(&sup, "p").await.unwrap();
    crash(&sup, "p", ExitReason::Kill).await;
    assert_ne!(pid_of(&sup, "p").await.unwrap(), first);
}

#[tokio::test(start_paused = true)]
async fn a_child_whose_init_hangs_fails_the_start_after_its_start_timeout() {
    use common::server::{InitMode, Setup, Srv};
    let log = Log::default();
    let hanging =
        Srv::child_spec(Setup::new(&log).init(InitMode::Sleep(Duration::from_secs(3600))))
            .id("slow")
            .start_timeout(Duration::from_secs(2));
    let t0 = tokio::time::Instant::now();
    let err = Supervisor::start(flags(Strategy::OneForOne), vec![hanging])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SupervisorError::FailedToStartChild { id, .. } if &**id == "slow"),
        "{err:?}"
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
}

// ---- A supervisor never loses track of a child ----------------------------------------------

/// A start function that forgets to link its process to the supervisor.
fn unlinked(id: &'static str) -> ChildSpec {
    ChildSpec::worker(id, |_opts| async move {
        let addr = process::Builder::new()
            .spawn(|_: Context| std::future::pending())
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(addr.pid()))
    })
}

#[tokio::test(start_paused = true)]
async fn a_child_whose_start_forgot_to_link_is_still_supervised() {
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![unlinked("u")])
        .await
        .unwrap();
    let first = pid_of(&sup, "u").await.unwrap();
    assert!(process::process_info(first)
        .unwrap()
        .links
        .contains(&sup.pid().unwrap()));
    crash(&sup, "u", ExitReason::Kill).await;
    let second = pid_of(&sup, "u").await.unwrap();
    assert_ne!(second, first);
    assert!(process::is_alive(second));
}

#[tokio::test(start_paused = true)]
async fn a_child_that_died_before_the_supervisor_linked_is_restarted() {
    let starts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = starts.clone();
    // The first incarnation is unlinked and dies before its start function returns.
    let spec = ChildSpec::worker("early", move |opts| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                let doomed = process::Builder::new()
                    .spawn(|_: Context| async { Err(ExitReason::error("died at once")) })
                    .map_err(ExitReason::from)?;
                let pid = doomed.pid();
                process::await_exit(pid).await;
                Ok(Started::Pid(pid))
            } else {
                let addr = opts
                    .builder()
                    .spawn(|_: Context| std::future::pending())
                    .map_err(ExitReason::from)?;
                Ok(Started::Pid(addr.pid()))
            }
        }
    });
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let _ = sup.count_children().await.unwrap();
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    assert!(pid_of(&sup, "early").await.is_some_and(process::is_alive));
}

// ---- Arguments by value --------------------------------------------------------------------

/// A resource that cannot be cloned, as a socket.
struct Socket(u32);

struct Conn {
    socket: Socket,
}

enum ConnCall {
    Port(ReplyTo<u32>),
}

impl GenServer for Conn {
    type Args = Socket;
    type Call = ConnCall;
    type Cast = ();
    type Info = ();
    type Continue = ();

    async fn init(socket: Socket, _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Conn { socket })
    }

    async fn handle_call(
        &mut self,
        call: ConnCall,
        _: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        let ConnCall::Port(to) = call;
        CallResult::reply(to, self.socket.0)
    }
}

#[tokio::test(start_paused = true)]
async fn a_child_with_one_shot_arguments_gets_them_by_value() {
    let conns = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let pid = conns
        .start_child(Conn::child_spec_once(Socket(8080)))
        .await
        .unwrap()
        .unwrap();
    let conn = Server::<Conn>::from_pid(pid).unwrap();
    assert_eq!(conn.call(ConnCall::Port).await, Ok(8080));
}

#[tokio::test(start_paused = true)]
async fn a_one_shot_child_must_be_temporary() {
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![])
        .await
        .unwrap();
    let err = sup
        .start_child(Conn::child_spec_once(Socket(1)).restart(Restart::Permanent))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SupervisorError::InvalidChildSpec {
            id: "Conn".into(),
            problem: ChildSpecProblem::OneShotRestart
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_restarted_supervisor_leaves_out_a_one_shot_child_that_already_ran() {
    let inner = Supervisor::child_spec(
        flags(Strategy::OneForOne),
        vec![Conn::child_spec_once(Socket(1))],
    )
    .id("inner");
    let outer = Supervisor::start(flags(Strategy::OneForOne), vec![inner])
        .await
        .unwrap();
    let first = pid_of(&outer, "inner").await.unwrap();
    let first_exit = process::await_exit(first);
    process::exit(first, ExitReason::Kill).unwrap();
    assert_eq!(first_exit.await, ExitReason::Killed);

    let second = loop {
        match pid_of(&outer, "inner").await {
            Some(p) if p != first => break p,
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    };
    let restarted = Supervisor::from_pid(second).unwrap();
    assert!(restarted.which_children().await.unwrap().is_empty());
    assert!(outer.pid().is_some_and(process::is_alive));
}

#[tokio::test(start_paused = true)]
async fn code_change_does_not_bring_back_a_spent_one_shot_child() {
    let spec = ChildSpec::worker_once("job", (), |(), opts| async move {
        let addr = opts
            .builder()
            .spawn(|_: Context| async { Ok(()) })
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(addr.pid()))
    });
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    while !sup.which_children().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sup.change_code(None).await.unwrap();
    assert!(sup.which_children().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_transient_child_found_dead_at_start_with_a_normal_exit_is_not_restarted() {
    let starts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = starts.clone();
    // A start function that forgot to link, whose process has already exited normally.
    let spec = ChildSpec::worker("early", move |_opts| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            let done = process::Builder::new()
                .spawn(|_: Context| async { Ok(()) })
                .map_err(ExitReason::from)?;
            let pid = done.pid();
            assert_eq!(process::await_exit(pid).await, ExitReason::Normal);
            Ok(Started::Pid(pid))
        }
    })
    .restart(Restart::Transient);
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    // The exit is handled like any other: the child is listed as not running.
    let children = loop {
        let children = sup.which_children().await.unwrap();
        if children[0].pid == ChildPid::Undefined {
            break children;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert_eq!(children.len(), 1);
    assert_eq!(starts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn every_startable_gives_a_child_spec_with_a_default_id() {
    let log = Log::default();
    let specs = [
        Kid::child_spec(KidArgs::new("k", &log)),
        Supervisor::child_spec(flags(Strategy::OneForOne), vec![]),
        DynamicSupervisor::child_spec(DynamicSupervisorFlags::new()),
        Registry::<u8, ()>::child_spec(Keys::Unique),
        Agent::child_spec(|| 0u8),
        ferrotp::task::TaskSupervisor::child_spec(DynamicSupervisorFlags::new()),
    ];
    let ids: Vec<&str> = specs.iter().map(|s| &*s.id).collect();
    assert_eq!(
        ids,
        [
            "Kid",
            "Supervisor",
            "DynamicSupervisor",
            "Registry",
            "Agent",
            "TaskSupervisor"
        ]
    );
    assert_eq!(specs[1].child_type, ChildType::Supervisor);
    assert_eq!(specs[1].shutdown, Shutdown::Infinity);
}

// ---- Module supervisors ----------------------------------------------------------------------

/// A supervisor defined by its init, which can be told to change its children.
struct Tree {
    log: Log,
    /// Which version of the children `init` returns.
    version: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// The pid `init` ran in.
    ran_in: std::sync::Arc<parking_lot::Mutex<Option<Pid>>>,
}

impl SupervisorModule for Tree {
    fn init(&self) -> SupervisorInit {
        *self.ran_in.lock() = process::current();
        match self.version.load(Ordering::SeqCst) {
            0 => SupervisorInit::Ignore,
            1 => SupervisorInit::Ok(
                flags(Strategy::OneForOne),
                vec![kid("a", &self.log), kid("b", &self.log)],
            ),
            // v2: `a` becomes transient, `c` is new, `b` is gone from the list.
            2 => SupervisorInit::Ok(
                flags(Strategy::OneForAll).max_restarts(10),
                vec![
                    kid("a", &self.log).restart(Restart::Transient),
                    kid("c", &self.log),
                ],
            ),
            // v3: invalid.
            _ => SupervisorInit::Ok(flags(Strategy::OneForOne).max_seconds(0), vec![]),
        }
    }
}

fn tree(version: u32, log: &Log) -> Tree {
    Tree {
        log: log.clone(),
        version: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(version)),
        ran_in: Default::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_module_supervisors_init_runs_in_its_own_process() {
    let log = Log::default();
    let t = tree(1, &log);
    let ran_in = t.ran_in.clone();
    let sup = Supervisor::start_module(t, StartOptions::new())
        .await
        .unwrap();
    assert_eq!(*ran_in.lock(), sup.pid());
    assert_eq!(log.entries(), ["start a", "start b"]);
}

#[tokio::test(start_paused = true)]
async fn an_ignoring_init_starts_nothing_and_leaves_no_process_or_exit_message() {
    let log = Log::default();
    let t = tree(0, &log);
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A trapping parent starts it linked, then looks for any message for 5 s.
    let parent = process::Builder::new()
        .trap_exit(true)
        .spawn(move |mut ctx: Context| async move {
            let started = Supervisor::start_module(t, StartOptions::new().link()).await;
            let links = process::process_info(ctx.pid()).unwrap().links;
            let quiet = tokio::time::timeout(Duration::from_secs(5), ctx.recv())
                .await
                .is_err();
            let _ = tx.send((started.map(|_| ()), links, quiet));
            Ok(())
        })
        .unwrap();
    let (started, left_behind, quiet) = rx.await.unwrap();
    assert_eq!(started, Err(SupervisorError::Ignored));
    assert!(left_behind.is_empty(), "still linked to {left_behind:?}");
    assert!(quiet, "the parent got a message");
    assert!(process::await_exit(parent.pid()).await.is_normal());
}

#[tokio::test(start_paused = true)]
async fn an_ignoring_module_child_is_kept_as_not_running() {
    let log = Log::default();
    let sup = Supervisor::start(flags(Strategy::OneForOne), vec![tree(0, &log).child_spec()])
        .await
        .unwrap();
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(&*children[0].id, "Tree");
    assert_eq!(children[0].pid, ChildPid::Undefined);
}

#[tokio::test(start_paused = true)]
async fn a_code_change_reruns_init_with_otps_rules() {
    let log = Log::default();
    let t = tree(1, &log);
    let version = t.version.clone();
    let sup = Supervisor::start_module(t, StartOptions::new())
        .await
        .unwrap();
    let a = pid_of(&sup, "a").await.unwrap();
    let b = pid_of(&sup, "b").await.unwrap();
    version.store(2, Ordering::SeqCst);
    sup.change_code(None).await.unwrap();
    // Kept ids keep running with their new spec; new ids are added, not started; ids missing
    // from the new list are kept.
    let children = sup.which_children().await.unwrap();
    let row = |id: &str| children.iter().find(|c| &*c.id == id).unwrap().clone();
    assert_eq!(row("a").pid, ChildPid::Running(a));
    assert_eq!(row("a").restart, Restart::Transient);
    assert_eq!(row("b").pid, ChildPid::Running(b));
    assert_eq!(row("c").pid, ChildPid::Undefined);
    assert_eq!(log.entries(), ["start a", "start b"]);
    // The new strategy applies: one_for_all restarts the others with `a`.
    sup.restart_child("c").await.unwrap();
    crash(&sup, "a", ExitReason::error("boom")).await;
    assert!(log.contains("stop b shutdown"));
    assert!(log.contains("stop c shutdown"));
}

#[tokio::test(start_paused = true)]
async fn a_code_change_to_invalid_flags_changes_nothing_and_is_reported() {
    let log = Log::default();
    let t = tree(1, &log);
    let version = t.version.clone();
    let sup = Supervisor::start_module(t, StartOptions::new())
        .await
        .unwrap();
    version.store(3, Ordering::SeqCst);
    assert!(sup.change_code(None).await.is_err());
    assert_eq!(sup.count_children().await.unwrap().active, 2);
    // Still serving, resumed.
    crash(&sup, "a", ExitReason::error("boom")).await;
    assert!(pid_of(&sup, "a").await.is_some());
}
