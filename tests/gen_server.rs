//! GenServer: OTP's start outcomes, callbacks, client API and terminate rules.

mod common;

use std::time::Duration;

use common::server::{Call, Cast, InitMode, Log, Setup, Srv};
use common::Probe;
use ferrotp::gen_server::*;
use ferrotp::prelude::*;
use tokio::time::Instant;

async fn started(log: &Log) -> Server<Srv> {
    Srv::start(Setup::new(log)).await.unwrap()
}

fn pid(s: &Server<Srv>) -> Pid {
    s.pid().unwrap()
}

// Start.

#[tokio::test(start_paused = true)]
async fn start_returns_only_after_init_finished() {
    let log = Log::default();
    let t0 = Instant::now();
    let srv = Srv::start(Setup::new(&log).init(InitMode::Sleep(Duration::from_secs(3))))
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(3));
    assert_eq!(log.entries(), ["init"]);
    assert!(srv.is_alive());
}

#[tokio::test(start_paused = true)]
async fn init_ignore_gives_ignored_and_exits_normal() {
    let log = Log::default();
    let err = Srv::start(Setup::new(&log).init(InitMode::Ignore))
        .await
        .unwrap_err();
    assert_eq!(err, StartError::Ignored);
}

#[tokio::test(start_paused = true)]
async fn init_stop_gives_the_reason_and_exits_with_it() {
    let log = Log::default();
    let err = Srv::start(Setup::new(&log).init(InitMode::Stop(ExitReason::error("no db"))))
        .await
        .unwrap_err();
    assert_eq!(err, StartError::Stopped(ExitReason::error("no db")));
}

#[tokio::test(start_paused = true)]
async fn init_error_gives_the_reason() {
    let log = Log::default();
    let err = Srv::start(Setup::new(&log).init(InitMode::Error(ExitReason::error("bad args"))))
        .await
        .unwrap_err();
    assert_eq!(err, StartError::Error(ExitReason::error("bad args")));
}

/// A `tracing` layer that panics on a process's exit line: foreign code in the middle of an
/// exit.
struct PanicsOnExitLine;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PanicsOnExitLine {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct IsExitLine(bool);
        impl tracing::field::Visit for IsExitLine {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "process exited" {
                    self.0 = true;
                }
            }
        }
        let mut line = IsExitLine(false);
        event.record(&mut line);
        assert!(!line.0, "a subscriber that panics on exit lines");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_returns_even_if_a_subscriber_panics_on_the_childs_exit() {
    use tracing_subscriber::layer::SubscriberExt;
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(PanicsOnExitLine));
    let log = Log::default();
    let start = Srv::start(Setup::new(&log).init(InitMode::Error(ExitReason::error("bad args"))));
    let started = tokio::time::timeout(Duration::from_secs(60), start)
        .await
        .expect("a failed start returns once its child has exited");
    assert_eq!(
        started.unwrap_err(),
        StartError::Error(ExitReason::error("bad args"))
    );
}

#[tokio::test(start_paused = true)]
async fn init_panic_gives_the_panic_as_exit_reason() {
    let log = Log::default();
    let err = Srv::start(Setup::new(&log).init(InitMode::Panic))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StartError::Exited(ExitReason::Panic { message, .. }) if &**message == "init failed"),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_taken_name_fails_the_start_before_init_runs() {
    let log = Log::default();
    let first = start_with::<Srv>(Setup::new(&log), StartOptions::new().name("gs_taken"))
        .await
        .unwrap();
    let other_log = Log::default();
    let err = start_with::<Srv>(Setup::new(&other_log), StartOptions::new().name("gs_taken"))
        .await
        .unwrap_err();
    assert_eq!(err, StartError::AlreadyStarted(pid(&first)));
    assert!(
        other_log.entries().is_empty(),
        "init ran: {:?}",
        other_log.entries()
    );
}

#[tokio::test(start_paused = true)]
async fn the_name_is_free_again_when_a_failed_start_returns() {
    let log = Log::default();
    let opts = StartOptions::new().name("gs_retry");
    let err = start_with::<Srv>(
        Setup::new(&log).init(InitMode::Stop(ExitReason::Shutdown)),
        opts.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err, StartError::Stopped(ExitReason::Shutdown));
    start_with::<Srv>(Setup::new(&log), opts).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_start_timeout_kills_a_slow_init() {
    let log = Log::default();
    let err = start_with::<Srv>(
        Setup::new(&log).init(InitMode::Sleep(Duration::from_secs(60))),
        StartOptions::new()
            .timeout(Duration::from_secs(1))
            .name("gs_slow"),
    )
    .await
    .unwrap_err();
    assert_eq!(err, StartError::Timeout(Duration::from_secs(1)));
    assert_eq!(registry::whereis("gs_slow"), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_link_leaves_no_exit_message_for_a_trapping_parent() {
    let log = Log::default();
    let setup = Setup::new(&log).init(InitMode::Stop(ExitReason::error("nope")));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = Builder::new()
        .trap_exit(true)
        .spawn(move |mut ctx: Context| async move {
            let err = Srv::start_link(setup).await.unwrap_err();
            // Wait well past the child's exit: no Exit message may arrive.
            let late = ctx.recv_timeout(Duration::from_secs(5)).await;
            let _ = tx.send((err, late.is_none()));
            std::future::pending().await
        })
        .unwrap();
    let (err, quiet) = rx.await.unwrap();
    assert_eq!(err, StartError::Stopped(ExitReason::error("nope")));
    assert!(quiet, "the trapping parent received an Exit message");
    assert!(process::is_alive(parent.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_link_with_an_abnormal_reason_kills_a_non_trapping_parent() {
    let log = Log::default();
    let setup = Setup::new(&log).init(InitMode::Stop(ExitReason::error("nope")));
    let parent = process::spawn(move |_: Context| async move {
        let _ = Srv::start_link(setup).await;
        std::future::pending().await
    });
    assert_eq!(
        process::await_exit(parent.pid()).await,
        ExitReason::error("nope")
    );
}

// Calls.

#[tokio::test(start_paused = true)]
async fn call_returns_the_reply_and_cast_changes_state() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.cast(Cast::Set(5));
    assert_eq!(srv.call(Call::Get).await, Ok(5));
    assert_eq!(srv.call(|r| Call::Set(9, r)).await, Ok(9));
}

#[tokio::test(start_paused = true)]
async fn a_call_to_a_server_whose_exit_is_decided_fails_at_once_with_noproc() {
    let log = Log::default();
    let srv = started(&log).await;
    process::exit(pid(&srv), ExitReason::Kill).unwrap();
    // The server has not run since the kill: it is dead to callers already, and the call
    // does not wait for its exit.
    assert_eq!(srv.call(Call::Get).await, Err(CallError::NoProc));
    assert_eq!(process::await_exit(pid(&srv)).await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn a_deferred_reply_can_come_from_another_process() {
    let log = Log::default();
    let srv = started(&log).await;
    assert_eq!(srv.call(|r| Call::ReplyFromElsewhere(77, r)).await, Ok(77));
}

#[tokio::test(start_paused = true)]
async fn a_held_reply_is_sent_by_a_later_callback() {
    let log = Log::default();
    let srv = started(&log).await;
    let waiter = {
        let srv = srv.clone();
        tokio::spawn(async move { srv.call(Call::Hold).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    srv.cast(Cast::Release(3));
    assert_eq!(waiter.await.unwrap(), Ok(3));
}

#[tokio::test(start_paused = true)]
async fn stop_with_reply_runs_terminate_before_the_caller_gets_the_reply() {
    let log = Log::default();
    let srv = started(&log).await;
    let reply = srv
        .call(|r| Call::StopReply(ExitReason::Normal, 1, r))
        .await;
    assert_eq!(reply, Ok(1));
    // By the time the reply arrived, terminate had run.
    assert!(log.contains("terminate normal"), "{:?}", log.entries());
}

#[tokio::test(start_paused = true)]
async fn stop_without_reply_fails_the_call_with_the_reason() {
    let log = Log::default();
    let srv = started(&log).await;
    let r = srv
        .call(|r| Call::Stop(ExitReason::shutdown_with("bye"), r))
        .await;
    assert_eq!(r, Err(CallError::Exit(ExitReason::shutdown_with("bye"))));
    assert!(log.contains("terminate {shutdown, bye}"));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_panics_mid_call_gives_the_caller_its_exit_reason() {
    let log = Log::default();
    let srv = started(&log).await;
    let err = srv.call(Call::Panic).await.unwrap_err();
    assert!(
        matches!(err.exit_reason(), Some(ExitReason::Panic { message, .. }) if &**message == "handle_call crashed")
    );
    assert!(
        log.entries()[1].starts_with("terminate panicked at"),
        "{:?}",
        log.entries()
    );
    assert!(log.entries()[1].ends_with("handle_call crashed"));
}

#[tokio::test(start_paused = true)]
async fn a_call_times_out_the_server_keeps_running_and_the_late_reply_is_dropped() {
    let log = Log::default();
    let srv = started(&log).await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let srv2 = srv.clone();
    // The caller is a process: its mailbox must stay clean after the timeout.
    process::spawn(move |ctx: Context| async move {
        let r = srv2
            .call_timeout(
                |r| Call::Slow(Duration::from_secs(10), 1, r),
                Duration::from_secs(1),
            )
            .await;
        // Quiet window well past the server's late reply.
        tokio::time::sleep(Duration::from_secs(30)).await;
        let _ = tx.send((r, ctx.mailbox_len()));
        Ok(())
    });
    let (r, queued) = rx.await.unwrap();
    assert_eq!(r, Err(CallError::Timeout(Duration::from_secs(1))));
    assert_eq!(queued, 0);
    assert!(log.contains("slow reply delivered=false"));
    assert_eq!(srv.call(Call::Get).await, Ok(0));
}

#[tokio::test(start_paused = true)]
async fn replying_to_a_caller_that_timed_out_is_an_error() {
    let log = Log::default();
    let srv = started(&log).await;
    let r = srv.call_timeout(Call::Hold, Duration::from_secs(1)).await;
    assert!(r.unwrap_err().is_timeout());
    srv.cast(Cast::Release(1));
    assert_eq!(srv.call(Call::Get).await, Ok(0));
    assert!(log.contains("released ok=false"));
}

#[tokio::test(start_paused = true)]
async fn calling_a_dead_server_is_noproc() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.stop(ExitReason::Normal, None).await.unwrap();
    assert_eq!(srv.call(Call::Get).await, Err(CallError::NoProc));
}

#[tokio::test(start_paused = true)]
async fn calling_an_unregistered_name_is_noproc() {
    let srv: Server<Srv> = Server::named("gs_nobody");
    assert_eq!(srv.call(Call::Get).await, Err(CallError::NoProc));
}

#[tokio::test(start_paused = true)]
async fn calling_yourself_is_an_error_not_a_deadlock() {
    let log = Log::default();
    let srv = started(&log).await;
    assert_eq!(srv.call(Call::Myself).await, Ok(-1));
}

#[tokio::test(start_paused = true)]
async fn a_named_handle_reaches_the_next_incarnation() {
    let log = Log::default();
    let opts = StartOptions::new().name("gs_incarnations");
    let first = start_with::<Srv>(Setup::new(&log), opts.clone())
        .await
        .unwrap();
    let by_name: Server<Srv> = Server::named("gs_incarnations");
    by_name.call(|r| Call::Set(1, r)).await.unwrap();
    first.stop(ExitReason::Shutdown, None).await.unwrap();
    assert_eq!(by_name.call(Call::Get).await, Err(CallError::NoProc));
    let _second = start_with::<Srv>(Setup::new(&log), opts).await.unwrap();
    assert_eq!(by_name.call(Call::Get).await, Ok(0));
    assert_eq!(first.call(Call::Get).await, Err(CallError::NoProc));
}

#[tokio::test(start_paused = true)]
async fn cast_to_a_dead_server_succeeds_but_try_cast_reports_it() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.stop(ExitReason::Normal, None).await.unwrap();
    srv.cast(Cast::Set(1));
    let err = srv.try_cast(Cast::Set(2)).unwrap_err();
    assert!(err.is_noproc());
    assert!(matches!(err.into_inner(), Cast::Set(2)));
}

#[tokio::test(start_paused = true)]
async fn a_full_server_mailbox_refuses_a_call_with_a_typed_error() {
    let log = Log::default();
    let srv = start_with::<Srv>(Setup::new(&log), StartOptions::new().mailbox_capacity(1))
        .await
        .unwrap();
    // Keep the server busy, then fill its one slot.
    let busy = {
        let srv = srv.clone();
        tokio::spawn(async move { srv.call(|r| Call::Slow(Duration::from_secs(2), 1, r)).await })
    };
    tokio::task::yield_now().await;
    srv.try_cast(Cast::Set(1)).unwrap();
    assert_eq!(srv.call(Call::Get).await, Err(CallError::MailboxFull));
    assert_eq!(busy.await.unwrap(), Ok(1));
}

// Timeouts and continue.

#[tokio::test(start_paused = true)]
async fn an_idle_timeout_fires_handle_info_timeout() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).init(InitMode::Timeout(Duration::from_secs(2))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(log.entries(), ["init", "timeout"]);
    let _ = srv;
}

#[tokio::test(start_paused = true)]
async fn any_message_cancels_the_idle_timeout() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).init(InitMode::Timeout(Duration::from_secs(2))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    srv.cast(Cast::Set(1));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(log.entries(), ["init", "cast 1"]);
}

#[tokio::test(start_paused = true)]
async fn a_sys_request_does_not_cancel_the_idle_timeout_it_restarts_it() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).init(InitMode::Timeout(Duration::from_secs(2))))
        .await
        .unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    ferrotp::sys::get_state(&srv, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(log.entries(), ["init"], "fired too early");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(log.entries(), ["init", "timeout"]);
    assert!(t0.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_returned_from_a_call_fires_after_the_reply() {
    let log = Log::default();
    let srv = started(&log).await;
    assert_eq!(
        srv.call(|r| Call::GetThenTimeout(Duration::from_secs(1), r))
            .await,
        Ok(0)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(log.entries(), ["init", "timeout"]);
}

#[tokio::test(start_paused = true)]
async fn continue_runs_before_queued_messages_and_chains() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).init(InitMode::ContinueChain(2)))
        .await
        .unwrap();
    srv.call(Call::Get).await.unwrap();
    assert_eq!(
        log.entries(),
        [
            "init",
            "continue 2",
            "continue 1",
            "continue 0",
            "info queued before continue"
        ]
    );
}

// Info.

#[tokio::test(start_paused = true)]
async fn handle_info_gets_plain_messages_downs_and_non_parent_exits() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).trapping()).await.unwrap();
    srv.send("hello".into()).unwrap();
    let watched = common::idle(false);
    srv.call(|r| Call::Monitor(watched.pid(), r)).await.unwrap();
    let gone = process::await_exit(watched.pid());
    process::exit(watched.pid(), ExitReason::error("watched died")).unwrap();
    gone.await;
    let neighbour = Probe::spawn(false);
    let srv_pid = pid(&srv);
    neighbour.run(move |ctx| ctx.link(srv_pid)).await.unwrap();
    process::exit(neighbour.pid(), ExitReason::error("neighbour died")).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        log.entries(),
        [
            "init",
            "info hello",
            "down watched died",
            "exit neighbour died"
        ]
    );
    assert!(srv.is_alive());
}

// Terminate.

#[tokio::test(start_paused = true)]
async fn terminate_runs_on_stop_even_when_not_trapping() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.stop(ExitReason::shutdown_with("maintenance"), None)
        .await
        .unwrap();
    assert_eq!(log.entries(), ["init", "terminate {shutdown, maintenance}"]);
}

#[tokio::test(start_paused = true)]
async fn terminate_runs_after_a_callback_panics() {
    let log = Log::default();
    let srv = started(&log).await;
    let exited = process::await_exit(pid(&srv));
    srv.cast(Cast::Panic);
    assert!(exited.await.is_panic());
    assert!(
        log.entries()[1].starts_with("terminate panicked at"),
        "{:?}",
        log.entries()
    );
}

#[tokio::test(start_paused = true)]
async fn terminate_runs_on_a_parent_exit_when_trapping_even_for_normal() {
    let log = Log::default();
    let setup = Setup::new(&log).trapping();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = process::spawn(move |mut ctx: Context| async move {
        let srv = Srv::start_link(setup).await.unwrap();
        let _ = tx.send(srv);
        ctx.recv().await; // exit normally on any message
        Ok(())
    });
    let srv = rx.await.unwrap();
    let exited = process::await_exit(pid(&srv));
    parent.send(()).unwrap();
    assert_eq!(exited.await, ExitReason::Normal);
    assert_eq!(log.entries(), ["init", "terminate normal"]);
}

#[tokio::test(start_paused = true)]
async fn a_parent_exit_kills_a_non_trapping_server_without_terminate() {
    let log = Log::default();
    let setup = Setup::new(&log);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = process::spawn(move |mut ctx: Context| async move {
        let srv = Srv::start_link(setup).await.unwrap();
        let _ = tx.send(srv);
        ctx.recv().await;
        Err(ExitReason::Shutdown)
    });
    let srv = rx.await.unwrap();
    let exited = process::await_exit(pid(&srv));
    parent.send(()).unwrap();
    assert_eq!(exited.await, ExitReason::Shutdown);
    assert_eq!(log.entries(), ["init"]);
}

#[tokio::test(start_paused = true)]
async fn terminate_is_skipped_on_kill() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).trapping()).await.unwrap();
    let exited = process::await_exit(pid(&srv));
    process::exit(pid(&srv), ExitReason::Kill).unwrap();
    assert_eq!(exited.await, ExitReason::Killed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(log.entries(), ["init"]);
}

#[tokio::test(start_paused = true)]
async fn an_exit_signal_from_a_non_parent_goes_to_handle_info_when_trapping() {
    let log = Log::default();
    let srv = Srv::start(Setup::new(&log).trapping()).await.unwrap();
    process::exit(pid(&srv), ExitReason::Shutdown).unwrap();
    assert_eq!(srv.call(Call::Get).await, Ok(0));
    assert_eq!(log.entries(), ["init", "exit shutdown"]);
}

// Stop.

#[tokio::test(start_paused = true)]
async fn stop_reports_another_exit_reason_when_terminate_panics() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.call(|r| Call::Set(666, r)).await.unwrap();
    let err = srv.stop(ExitReason::Normal, None).await.unwrap_err();
    assert!(
        matches!(err, StopError::Exit(ExitReason::Panic { .. })),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_times_out_when_terminate_hangs() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.call(|r| Call::Set(999, r)).await.unwrap();
    let err = srv
        .stop(ExitReason::Normal, Some(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err, StopError::Timeout(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn stopping_a_dead_server_is_noproc() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.stop(ExitReason::Normal, None).await.unwrap();
    assert_eq!(
        srv.stop(ExitReason::Normal, None).await,
        Err(StopError::NoProc)
    );
}

#[tokio::test(start_paused = true)]
async fn default_handle_cast_stops_with_bad_cast() {
    struct OnlyCalls;
    impl GenServer for OnlyCalls {
        type Args = ();
        type Call = ();
        type Cast = ();
        type Info = ();
        type Continue = ();
        async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
            Init::ok(OnlyCalls)
        }
    }
    let srv = OnlyCalls::start(()).await.unwrap();
    let exited = process::await_exit(srv.pid().unwrap());
    srv.send(()).unwrap(); // default handle_info: logged, server lives
    srv.cast(());
    let reason = exited.await;
    assert!(reason.to_string().starts_with("bad_cast"), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn a_hibernating_server_keeps_serving_every_message() {
    struct Sleepy;
    impl GenServer for Sleepy {
        type Args = ();
        /// The only call: how many messages wait behind it.
        type Call = ReplyTo<usize>;
        type Cast = ();
        type Info = ();
        type Continue = ();
        async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
            Init::ok(Sleepy)
        }
        async fn handle_call(
            &mut self,
            from: ReplyTo<usize>,
            ctx: &mut ServerContext<Self>,
        ) -> CallResult<Self> {
            CallResult::reply_then(from, ctx.mailbox_len(), Next::Hibernate)
        }
        async fn handle_cast(&mut self, _: (), _: &mut ServerContext<Self>) -> HandleResult<Self> {
            HandleResult::NoReply(Next::Hibernate)
        }
    }
    let srv = Sleepy::start(()).await.unwrap();
    for _ in 0..1000 {
        srv.cast(());
    }
    assert_eq!(srv.call(|to| to).await, Ok(0));
    assert_eq!(srv.call(|to| to).await, Ok(0));
    let stats = ferrotp::sys::statistics(&srv, None).await.unwrap();
    assert_eq!(stats.messages_handled, 1002);
}
