//! DynamicSupervisor: children on demand, max_children, extra arguments, concurrent shutdown.

mod common;

use std::time::Duration;

use common::kid::{kid, kid_with, Kid, KidArgs};
use common::server::Log;
use ferrotp::prelude::*;
use ferrotp::supervisor::*;

#[tokio::test(start_paused = true)]
async fn max_children_refuses_the_next_child() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new().max_children(2))
        .await
        .unwrap();
    sup.start_child(kid("a", &log)).await.unwrap();
    sup.start_child(kid("b", &log)).await.unwrap();
    assert_eq!(
        sup.start_child(kid("c", &log)).await,
        Err(SupervisorError::MaxChildren)
    );
    assert_eq!(log.entries(), ["start a", "start b"]);
}

#[tokio::test(start_paused = true)]
async fn ids_need_not_be_unique() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let a = sup.start_child(kid("same", &log)).await.unwrap();
    let b = sup.start_child(kid("same", &log)).await.unwrap();
    assert_ne!(a, b);
    assert_eq!(sup.count_children().await.unwrap().active, 2);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_child_is_restarted_under_a_new_pid() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let first = sup.start_child(kid("a", &log)).await.unwrap().unwrap();
    let exited = process::await_exit(first);
    Server::<Kid>::from_pid(first)
        .unwrap()
        .cast(ExitReason::error("boom"));
    exited.await;
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert!(matches!(children[0].pid, ChildPid::Running(p) if p != first));
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_is_forgotten_when_it_exits() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let pid = sup
        .start_child(kid("t", &log).restart(Restart::Temporary))
        .await
        .unwrap()
        .unwrap();
    let exited = process::await_exit(pid);
    Server::<Kid>::from_pid(pid)
        .unwrap()
        .cast(ExitReason::error("boom"));
    exited.await;
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
}

#[tokio::test(start_paused = true)]
async fn terminate_child_by_pid_then_not_found() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let pid = sup.start_child(kid("a", &log)).await.unwrap().unwrap();
    sup.terminate_child(pid).await.unwrap();
    assert_eq!(
        sup.terminate_child(pid).await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(log.entries(), ["start a", "stop a shutdown"]);
}

#[tokio::test(start_paused = true)]
async fn intensity_is_counted_across_all_children() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new().max_restarts(1))
        .await
        .unwrap();
    let sup_exit = process::await_exit(sup.pid().unwrap());
    for id in ["a", "b"] {
        let pid = sup.start_child(kid(id, &log)).await.unwrap().unwrap();
        process::exit(pid, ExitReason::Kill).unwrap();
    }
    assert_eq!(sup_exit.await, ExitReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn extra_arguments_reach_every_child_spec() {
    let log = Log::default();
    let sup: DynamicSupervisor<&'static str> = DynamicSupervisor::start_with(
        DynamicSupervisorFlags::new(),
        "tenant-7",
        StartOptions::new(),
    )
    .await
    .unwrap();
    let l = log.clone();
    sup.start_child_with(move |tenant| kid_with(KidArgs::new(tenant, &l)))
        .await
        .unwrap();
    assert_eq!(log.entries(), ["start tenant-7"]);
}

#[tokio::test(start_paused = true)]
async fn children_are_shut_down_concurrently_each_with_its_own_shutdown() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    for id in ["a", "b", "c"] {
        let args = KidArgs {
            slow_terminate: Some(Duration::from_secs(10)),
            ..KidArgs::new(id, &log)
        };
        sup.start_child(kid_with(args).shutdown(Shutdown::Timeout(Duration::from_secs(60))))
            .await
            .unwrap();
    }
    let t0 = tokio::time::Instant::now();
    sup.stop(ExitReason::Shutdown).await.unwrap();
    // One after the other would take 30 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    assert_eq!(
        log.entries()
            .iter()
            .filter(|e| e.starts_with("stop"))
            .count(),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_child_is_reported() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let args = KidArgs::new("x", &log);
    args.fail_starts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        sup.start_child(kid_with(args)).await,
        Err(SupervisorError::StartFailed(_))
    ));
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
}

#[tokio::test(start_paused = true)]
async fn a_child_between_failed_restarts_is_listed_counted_and_removable_by_its_old_pid() {
    let log = Log::default();
    let sup = DynamicSupervisor::start(
        DynamicSupervisorFlags::new()
            .max_children(1)
            .max_restarts(u32::MAX),
    )
    .await
    .unwrap();
    let args = KidArgs::new("a", &log);
    let fail_starts = args.fail_starts.clone();
    let old = sup.start_child(kid_with(args)).await.unwrap().unwrap();
    // From now on every start of it fails: the supervisor keeps retrying.
    fail_starts.store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    let exited = process::await_exit(old);
    Server::<Kid>::from_pid(old)
        .unwrap()
        .cast(ExitReason::error("boom"));
    exited.await;
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].pid, ChildPid::Restarting);
    // It still holds its place against max_children, as in OTP.
    assert_eq!(
        sup.start_child(kid("b", &log)).await,
        Err(SupervisorError::MaxChildren)
    );
    // OTP's terminate_child(OldPid) removes it and stops the retries.
    sup.terminate_child(old).await.unwrap();
    assert!(sup.which_children().await.unwrap().is_empty());
    let failures = log.entries().len();
    assert!(sup.start_child(kid("b", &log)).await.unwrap().is_some());
    assert_eq!(log.entries()[failures..], ["start b"]);
}

#[tokio::test(start_paused = true)]
async fn bad_flags_are_refused_before_anything_starts() {
    assert_eq!(
        DynamicSupervisor::start(DynamicSupervisorFlags::new().max_seconds(0))
            .await
            .unwrap_err(),
        SupervisorError::InvalidFlags(FlagsProblem::ZeroPeriod)
    );
    assert_eq!(
        DynamicSupervisor::start(DynamicSupervisorFlags::new().max_children(0))
            .await
            .unwrap_err(),
        SupervisorError::InvalidFlags(FlagsProblem::ZeroMaxChildren)
    );
}
