//! The runtime stays live and bounded: processes share their worker cooperatively, extreme
//! durations mean "infinity", a spawn that cannot happen hurts nobody, and a failed lookup says
//! why.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::server::{Call, Log, Setup, Srv};
use ferrotp::gen_server::{CallError, GenServer, Server};
use ferrotp::prelude::*;
use ferrotp::supervisor::{Shutdown, Strategy, Supervisor, SupervisorFlags};
use ferrotp::{sys, timer, LookupError, SpawnError};

// ---- Cooperative scheduling -------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn a_process_draining_a_long_mailbox_lets_other_tasks_run() {
    const QUEUED: usize = 20_000;
    let other_ran = Arc::new(AtomicBool::new(false));
    let seen_at = Arc::new(AtomicUsize::new(usize::MAX));
    let (go, started) = tokio::sync::oneshot::channel::<()>();
    let drainer = {
        let (other_ran, seen_at) = (other_ran.clone(), seen_at.clone());
        process::spawn(move |mut ctx: Context<u32>| async move {
            let _ = started.await;
            for n in 0..QUEUED {
                ctx.recv().await;
                if other_ran.load(Ordering::Relaxed) {
                    seen_at.store(n, Ordering::Relaxed);
                    break;
                }
            }
            Ok(())
        })
    };
    for n in 0..QUEUED as u32 {
        drainer.send(n).unwrap();
    }
    go.send(()).unwrap();
    // Runs only when the drainer yields its (only) worker thread.
    tokio::spawn(async move { other_ran.store(true, Ordering::Relaxed) });
    process::await_exit(drainer.pid()).await;
    let at = seen_at.load(Ordering::Relaxed);
    assert!(
        at < QUEUED,
        "the drainer held the thread for all {QUEUED} messages"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_calls_that_fail_at_once_lets_other_tasks_run() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log)).await.unwrap();
    srv.stop(ExitReason::Normal, None).await.unwrap();
    let other_ran = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let other_ran = other_ran.clone();
        async move { other_ran.store(true, Ordering::Relaxed) }
    });
    let mut calls = 0;
    while !other_ran.load(Ordering::Relaxed) {
        assert_eq!(srv.call(Call::Get).await, Err(CallError::NoProc));
        calls += 1;
        assert!(calls < 100_000, "failing calls never yielded");
    }
}

// ---- Extreme durations ------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn an_idle_timeout_past_the_clocks_range_never_fires() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log)).await.unwrap();
    srv.call(|r| Call::GetThenTimeout(Duration::MAX, r))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(100 * 365 * 86_400)).await;
    assert_eq!(srv.call(Call::Get).await, Ok(0), "still serving");
    assert!(!log.contains("timeout"));
}

#[tokio::test(start_paused = true)]
async fn calls_and_sys_requests_with_the_longest_timeout_wait_as_long_as_needed() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log)).await.unwrap();
    assert_eq!(
        srv.call_timeout(
            |r| Call::Slow(Duration::from_secs(3600), 7, r),
            Duration::MAX
        )
        .await,
        Ok(7)
    );
    assert!(sys::statistics(&srv, Some(Duration::MAX)).await.is_ok());
    srv.stop(ExitReason::Normal, Some(Duration::MAX))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_timeout_past_the_clocks_range_waits_for_the_child() {
    let log = Log::default();
    let spec = <Srv as ferrotp::supervisor::Child>::child_spec(Setup::new(&log).trapping())
        .shutdown(Shutdown::Timeout(Duration::MAX));
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    sup.stop(ExitReason::Shutdown).await.unwrap();
    assert!(log.contains("terminate shutdown"));
}

#[tokio::test(start_paused = true)]
async fn timers_past_the_clocks_range_never_fire_and_can_be_cancelled() {
    let addr = process::spawn(|mut ctx: Context<&'static str>| async move {
        let m = ctx.recv().await;
        panic!("a timer that never fires delivered {m:?}");
    });
    let once = timer::send_after(&addr, "once", Duration::MAX);
    let every = timer::send_interval(&addr, "every", Duration::MAX);
    tokio::time::sleep(Duration::from_secs(100 * 365 * 86_400)).await;
    assert!(addr.is_alive());
    assert!(once.is_pending() && every.is_pending());
    assert_eq!(once.cancel(), Ok(Duration::MAX));
    assert_eq!(every.cancel(), Ok(Duration::MAX));
}

// ---- A spawn that cannot happen -------------------------------------------------------

#[test]
fn a_spawn_outside_any_runtime_fails_typed_and_does_not_kill_its_link_partner() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let partner = rt.block_on(async { common::idle(false) });
    // This thread is in no runtime.
    let spawned = process::Builder::new()
        .link(partner.pid())
        .spawn(|_: Context| async { Ok(()) });
    assert_eq!(spawned.unwrap_err(), SpawnError::NoRuntime);
    rt.block_on(async {
        tokio::task::yield_now().await;
        assert!(
            partner.is_alive(),
            "nobody was linked to the process that never ran"
        );
        assert!(process::process_info(partner.pid())
            .unwrap()
            .links
            .is_empty());
    });
}

#[test]
fn a_call_with_a_timeout_from_another_executor_is_a_typed_error_not_a_panic() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let log = Log::default();
    let srv = rt.block_on(Srv::start(Setup::new(&log))).unwrap();
    // A minimal executor that is not tokio's.
    let outcome = block_on(srv.call_timeout(
        |r| Call::Slow(Duration::from_secs(1), 1, r),
        Duration::from_secs(5),
    ));
    assert_eq!(outcome, Err(CallError::NoRuntime));
    assert_eq!(
        block_on(srv.call_infinity(Call::Get)),
        Ok(0),
        "no timer needed"
    );
}

fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

// ---- Lookups keep their detail ----------------------------------------------------------

struct Other;

impl GenServer for Other {
    type Args = ();
    type Call = ();
    type Cast = ();
    type Info = ();
    type Continue = ();
    async fn init(
        _: (),
        _: &mut ferrotp::gen_server::ServerContext<Self>,
    ) -> ferrotp::gen_server::Init<Self> {
        ferrotp::gen_server::Init::ok(Other)
    }
}

#[tokio::test(start_paused = true)]
async fn a_name_held_by_a_server_of_another_type_is_reported_as_such_not_as_noproc() {
    let held = ferrotp::gen_server::start_with::<Other>(
        (),
        ferrotp::gen_server::StartOptions::new().name("held-by-other"),
    )
    .await
    .unwrap();
    let wrong: Server<Srv> = Server::named("held-by-other");
    match wrong.call(Call::Get).await {
        Err(CallError::WrongType(LookupError::WrongMessageType { pid, .. })) => {
            assert_eq!(Some(pid), held.pid())
        }
        other => panic!("{other:?}"),
    }
    let refused = wrong.try_cast(common::server::Cast::Set(1)).unwrap_err();
    assert!(refused.is_wrong_type() && !refused.is_noproc());
    assert!(matches!(
        sys::statistics(&wrong, None).await,
        Err(sys::SysError::WrongType(_))
    ));
}
