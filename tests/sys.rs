//! `sys`: state inspection and replacement, suspend/resume, code change, statistics.

mod common;

use std::time::Duration;

use common::server::{Call, Cast, Log, Setup, Srv};
use ferrotp::gen_server::*;
use ferrotp::sys::{self, OldVsn, SysError};
use ferrotp::ExitReason;

async fn started(log: &Log) -> Server<Srv> {
    Srv::start(Setup::new(log)).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn get_state_returns_a_copy_of_the_state() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.call(|r| Call::Set(4, r)).await.unwrap();
    assert_eq!(sys::get_state(&srv, None).await.unwrap().value, 4);
    assert_eq!(sys::with_state(&srv, |s| s.value * 10, None).await, Ok(40));
}

#[tokio::test(start_paused = true)]
async fn replace_state_swaps_in_the_new_state_and_returns_it() {
    let log = Log::default();
    let srv = started(&log).await;
    let new = sys::replace_state(
        &srv,
        |s| Srv {
            value: 12,
            ..s.clone()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(new.value, 12);
    assert_eq!(srv.call(Call::Get).await, Ok(12));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_replace_state_leaves_the_state_unchanged() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.call(|r| Call::Set(3, r)).await.unwrap();
    let Err(err) = sys::replace_state(&srv, |_| panic!("bad state fun"), None).await else {
        panic!("a panicking replace_state succeeded");
    };
    assert!(matches!(
        err,
        SysError::CallbackFailed(ExitReason::Panic { .. })
    ));
    assert_eq!(srv.call(Call::Get).await, Ok(3));
}

#[tokio::test(start_paused = true)]
async fn a_suspended_server_queues_requests_and_serves_them_in_order_after_resume() {
    let log = Log::default();
    let srv = started(&log).await;
    sys::suspend(&srv, None).await.unwrap();
    srv.cast(Cast::Set(1));
    let call = {
        let srv = srv.clone();
        tokio::spawn(async move { srv.call(Call::Get).await })
    };
    // Let the caller queue its call between the two casts.
    tokio::time::sleep(Duration::from_millis(1)).await;
    srv.cast(Cast::Set(2));
    srv.send("info".into()).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Only system requests are served meanwhile.
    assert_eq!(log.entries(), ["init"]);
    let stats = sys::statistics(&srv, None).await.unwrap();
    assert!(stats.suspended);
    assert_eq!(stats.mailbox_len, 4);
    sys::resume(&srv, None).await.unwrap();
    assert_eq!(call.await.unwrap(), Ok(1));
    srv.call(Call::Get).await.unwrap();
    assert_eq!(log.entries(), ["init", "cast 1", "cast 2", "info info"]);
}

#[tokio::test(start_paused = true)]
async fn change_code_on_a_running_server_is_refused() {
    let log = Log::default();
    let srv = started(&log).await;
    let err = sys::change_code(&srv, OldVsn::Up("6".into()), "5", None)
        .await
        .unwrap_err();
    assert_eq!(err, SysError::NotSuspended);
    assert!(!log.entries().iter().any(|e| e.starts_with("code_change")));
}

#[tokio::test(start_paused = true)]
async fn change_code_while_suspended_migrates_the_state() {
    let log = Log::default();
    let srv = started(&log).await;
    sys::suspend(&srv, None).await.unwrap();
    sys::change_code(&srv, OldVsn::Up("6".into()), "42", None)
        .await
        .unwrap();
    sys::resume(&srv, None).await.unwrap();
    assert_eq!(srv.call(Call::Get).await, Ok(42));
    assert!(log.contains("code_change Up(\"6\")"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_code_change_keeps_the_old_state_and_the_server_suspended() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.call(|r| Call::Set(5, r)).await.unwrap();
    sys::suspend(&srv, None).await.unwrap();
    let err = sys::change_code(&srv, OldVsn::Down("6".into()), "fail", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SysError::CodeChange(ExitReason::error("cannot migrate"))
    );
    assert!(sys::statistics(&srv, None).await.unwrap().suspended);
    sys::resume(&srv, None).await.unwrap();
    assert_eq!(srv.call(Call::Get).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_code_change_keeps_the_old_state_and_the_server_alive() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.call(|r| Call::Set(5, r)).await.unwrap();
    sys::suspend(&srv, None).await.unwrap();
    let err = sys::change_code(&srv, OldVsn::Up("6".into()), "panic", None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SysError::CodeChange(ExitReason::Panic { .. })
    ));
    sys::resume(&srv, None).await.unwrap();
    assert_eq!(srv.call(Call::Get).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn statistics_count_handled_messages_and_report_the_version() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.cast(Cast::Set(1));
    srv.call(Call::Get).await.unwrap();
    let stats = sys::statistics(&srv, None).await.unwrap();
    assert_eq!(stats.messages_handled, 2);
    assert_eq!(stats.vsn, "7");
    assert_eq!(Some(stats.pid), srv.pid());
    assert!(!stats.suspended);
}

#[tokio::test(start_paused = true)]
async fn a_suspend_that_timed_out_does_not_suspend_the_server_later() {
    let log = Log::default();
    let srv = started(&log).await;
    let busy = {
        let srv = srv.clone();
        tokio::spawn(async move {
            srv.call_timeout(
                |r| Call::Slow(Duration::from_secs(10), 1, r),
                Duration::from_secs(60),
            )
            .await
        })
    };
    tokio::task::yield_now().await;
    // The server is in a 10 s callback: the suspend gives up after 1 s...
    assert_eq!(
        sys::suspend(&srv, Some(Duration::from_secs(1))).await,
        Err(SysError::Timeout(Duration::from_secs(1)))
    );
    assert_eq!(busy.await.unwrap(), Ok(1));
    // ...and when the server reaches it, nobody waits for it any more: it is not applied.
    assert_eq!(srv.call(Call::Get).await, Ok(0));
    assert!(!sys::statistics(&srv, None).await.unwrap().suspended);
}

#[tokio::test(start_paused = true)]
async fn sys_on_a_dead_server_is_noproc() {
    let log = Log::default();
    let srv = started(&log).await;
    srv.stop(ExitReason::Normal, None).await.unwrap();
    assert_eq!(sys::suspend(&srv, None).await, Err(SysError::NoProc));
}

#[tokio::test(start_paused = true)]
async fn stop_is_served_while_suspended() {
    let log = Log::default();
    let srv = started(&log).await;
    sys::suspend(&srv, None).await.unwrap();
    srv.stop(ExitReason::Shutdown, None).await.unwrap();
    assert_eq!(log.entries(), ["init", "terminate shutdown"]);
}
