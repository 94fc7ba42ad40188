//! Timers on tokio's paused clock.

mod common;

use std::time::Duration;

use ferrotp::prelude::*;
use ferrotp::timer::CancelTimerError;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A process that forwards each message with the (paused) time it arrived.
fn recorder<M: Send + 'static>() -> (Addr<M>, mpsc::UnboundedReceiver<(M, Instant)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let addr = process::spawn(move |mut ctx| async move {
        while let Message::User(m) = ctx.recv().await {
            let _ = tx.send((m, Instant::now()));
        }
        Ok(())
    });
    (addr, rx)
}

#[tokio::test(start_paused = true)]
async fn send_after_delivers_exactly_at_the_deadline() {
    let (addr, mut rx) = recorder();
    let start = Instant::now();
    let t = timer::send_after(&addr, "tick", Duration::from_secs(30));
    assert!(t.is_pending());
    let (m, at) = rx.recv().await.unwrap();
    assert_eq!(m, "tick");
    assert_eq!(at - start, Duration::from_secs(30));
    assert!(!t.is_pending());
}

#[tokio::test(start_paused = true)]
async fn cancel_returns_the_time_left_and_nothing_is_delivered() {
    let (addr, mut rx) = recorder::<&str>();
    let t = timer::send_after(&addr, "never", Duration::from_secs(10));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(t.cancel(), Ok(Duration::from_secs(6)));
    let quiet = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await;
    assert!(quiet.is_err(), "a cancelled timer delivered {quiet:?}");
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_fired_timer_is_an_error() {
    let (addr, mut rx) = recorder();
    let t = timer::send_after(&addr, 1, Duration::from_millis(5));
    rx.recv().await.unwrap();
    assert_eq!(t.cancel(), Err(CancelTimerError::AlreadyFired));
}

#[tokio::test(start_paused = true)]
async fn cancelling_twice_is_an_error() {
    let (addr, _rx) = recorder::<u8>();
    let t = timer::send_after(&addr, 1, Duration::from_secs(1));
    t.cancel().unwrap();
    assert_eq!(t.cancel(), Err(CancelTimerError::AlreadyCancelled));
}

#[tokio::test(start_paused = true)]
async fn send_interval_ticks_every_period_until_cancelled() {
    let (addr, mut rx) = recorder();
    let start = Instant::now();
    let t = timer::send_interval(&addr, "tick", Duration::from_secs(2));
    for n in 1..=3u32 {
        let (_, at) = rx.recv().await.unwrap();
        assert_eq!(at - start, Duration::from_secs(2 * u64::from(n)));
    }
    t.cancel().unwrap();
    let quiet = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await;
    assert!(quiet.is_err());
}

#[tokio::test(start_paused = true)]
async fn an_interval_ends_when_its_receiver_exits() {
    let addr = process::spawn(|mut ctx: Context<u8>| async move {
        ctx.recv().await;
        Ok(())
    });
    let exited = process::await_exit(addr.pid());
    let t = timer::send_interval(&addr, 1, Duration::from_secs(1));
    exited.await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!t.is_pending());
    assert_eq!(t.cancel(), Err(CancelTimerError::AlreadyFired));
}

#[tokio::test(start_paused = true)]
async fn timers_to_one_process_arrive_in_deadline_order() {
    let (addr, mut rx) = recorder();
    for (m, secs) in [(3, 30), (1, 10), (2, 20)] {
        timer::send_after(&addr, m, Duration::from_secs(secs));
    }
    let got: Vec<_> = [rx.recv().await, rx.recv().await, rx.recv().await]
        .into_iter()
        .map(|x| x.unwrap().0)
        .collect();
    assert_eq!(got, [1, 2, 3]);
}
