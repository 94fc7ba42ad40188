//! Processes: spawning, isolation, mailboxes, introspection.

mod common;

use std::time::Duration;

use common::{idle, Probe, Seen};
use ferrotp::prelude::*;
use ferrotp::process::ProcessStatus;

#[tokio::test(start_paused = true)]
async fn returning_from_the_body_exits_normal() {
    let addr = process::spawn(|_: Context| async { Ok(()) });
    assert_eq!(process::await_exit(addr.pid()).await, ExitReason::Normal);
}

#[tokio::test(start_paused = true)]
async fn returning_an_error_exits_with_it() {
    let addr = process::spawn(|_: Context| async { Err::<(), _>(ExitReason::error("bad config")) });
    assert_eq!(
        process::await_exit(addr.pid()).await,
        ExitReason::error("bad config")
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_becomes_the_exit_reason_with_message_and_location() {
    let addr = process::spawn(|mut ctx: Context<u32>| async move {
        if let Message::User(n) = ctx.recv().await {
            panic!("cannot handle {n}");
        }
        Ok(())
    });
    let exited = process::await_exit(addr.pid());
    addr.send(7).unwrap();
    match exited.await {
        ExitReason::Panic { message, location } => {
            assert_eq!(&*message, "cannot handle 7");
            assert!(location.unwrap().contains("tests/processes.rs"));
        }
        other => panic!("expected a panic reason, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_spawn_functions_own_code_runs_as_the_process_and_its_panic_is_the_exit_reason() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = process::spawn(move |_: Context| {
        // Before the future is made: already the new process.
        tx.send(process::current()).unwrap();
        async { Ok(()) }
    });
    assert_eq!(rx.await.unwrap(), Some(addr.pid()));

    let panicking = process::spawn_joinable(|_: Context| -> std::future::Ready<ProcessResult> {
        panic!("no future today")
    });
    match panicking.1.await {
        ExitReason::Panic { message, .. } => assert_eq!(&*message, "no future today"),
        other => panic!("expected a panic reason, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_process_killed_before_it_first_runs_never_calls_its_function_and_drops_it() {
    let (called_tx, called_rx) = std::sync::mpsc::channel::<()>();
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
    // Dropping the function drops what it captured, and so the sender.
    struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            let _ = self.0.take().unwrap().send(());
        }
    }
    let guard = OnDrop(Some(dropped_tx));
    let (addr, joined) = process::spawn_joinable(move |_: Context| {
        let _guard = guard;
        called_tx.send(()).unwrap();
        async { Ok(()) }
    });
    // A current-thread runtime: the process's task has not run yet.
    process::exit(addr.pid(), ExitReason::Kill).unwrap();
    assert_eq!(joined.await, ExitReason::Killed);
    dropped_rx.await.unwrap();
    assert!(called_rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_panic_reaches_links_and_monitors_and_nothing_else() {
    let mut watcher = Probe::spawn(true);
    let bystander = idle(false);
    let crasher = process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        panic!("boom");
    });
    let cpid = crasher.pid();
    watcher.run(move |ctx| ctx.link(cpid)).await.unwrap();
    let r = watcher.run(move |ctx| ctx.monitor(cpid)).await;
    crasher.send(()).unwrap();
    let first = watcher.next().await;
    let second = watcher.next().await;
    assert!(
        matches!(first, Seen::Exit(Exit { from, reason: ExitReason::Panic { .. } }) if from == cpid)
    );
    assert!(
        matches!(second, Seen::Down(Down { reference, reason: ExitReason::Panic { .. }, .. }) if reference == r)
    );
    assert!(process::is_alive(watcher.pid()));
    assert!(process::is_alive(bystander.pid()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_panicking_processes_leave_the_runtime_working() {
    const N: usize = 10_000;
    let mut exits = Vec::with_capacity(N);
    let mut addrs = Vec::with_capacity(N);
    for _ in 0..N {
        let addr = process::spawn(|mut ctx: Context<usize>| async move {
            if let Message::User(i) = ctx.recv().await {
                panic!("process {i} failed");
            }
            Ok(())
        });
        exits.push(process::await_exit(addr.pid()));
        addrs.push(addr);
    }
    // All of them panic at once.
    for (i, addr) in addrs.iter().enumerate() {
        addr.send(i).unwrap();
    }
    for (i, exit) in exits.into_iter().enumerate() {
        match exit.await {
            ExitReason::Panic { message, .. } => {
                assert_eq!(&*message, format!("process {i} failed"))
            }
            other => panic!("process {i}: expected a panic, got {other:?}"),
        }
    }
    // The runtime still spawns, delivers and reports.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let echo = process::spawn(|mut ctx| async move {
        if let Message::User(s) = ctx.recv().await {
            tx.send(s).unwrap();
        }
        Ok(())
    });
    echo.send("still alive").unwrap();
    assert_eq!(rx.await.unwrap(), "still alive");
    assert!(addrs.iter().all(|a| !a.is_alive()));
}

#[tokio::test(start_paused = true)]
async fn messages_from_one_sender_arrive_in_send_order() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = process::spawn(|mut ctx| async move {
        let mut got = Vec::new();
        while got.len() < 1000 {
            if let Message::User(n) = ctx.recv().await {
                got.push(n);
            }
        }
        tx.send(got).unwrap();
        Ok(())
    });
    for n in 0..1000u32 {
        addr.send(n).unwrap();
    }
    assert_eq!(rx.await.unwrap(), (0..1000).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn sending_to_a_dead_process_hands_the_message_back_as_noproc() {
    let addr = process::spawn(|_: Context<String>| async { Ok(()) });
    process::await_exit(addr.pid()).await;
    let err = addr.send("lost?".to_string()).unwrap_err();
    assert!(err.is_noproc());
    assert_eq!(err.pid(), Some(addr.pid()));
    assert_eq!(err.into_inner(), "lost?");
}

#[tokio::test(start_paused = true)]
async fn a_full_bounded_mailbox_hands_the_message_back() {
    let addr = Builder::new()
        .mailbox_capacity(2)
        .spawn(|_: Context<u8>| std::future::pending())
        .unwrap();
    addr.send(1).unwrap();
    addr.send(2).unwrap();
    let err = addr.send(3).unwrap_err();
    assert!(err.is_full());
    assert!(err.to_string().contains("full"));
    assert_eq!(err.into_inner(), 3);
    assert_eq!(addr.mailbox_len(), 2);
}

#[tokio::test(start_paused = true)]
async fn exit_and_down_notices_are_never_refused_by_a_full_mailbox() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let full = Builder::new()
        .mailbox_capacity(1)
        .trap_exit(true)
        .spawn(|mut ctx: Context<u8>| async move {
            let target = idle(false);
            ctx.monitor(target.pid());
            ctx.link(target.pid()).unwrap();
            // Fill the mailbox, then let the target die.
            ctx.addr().send(0).unwrap();
            let exited = process::await_exit(target.pid());
            process::exit(target.pid(), ExitReason::Shutdown).unwrap();
            exited.await;
            let mut kinds = Vec::new();
            while let Some(m) = ctx.try_recv() {
                kinds.push(match m {
                    Message::User(_) => "user",
                    Message::Exit(_) => "exit",
                    Message::Down(_) => "down",
                });
            }
            tx.send(kinds).unwrap();
            Ok(())
        })
        .unwrap();
    let mut kinds = rx.await.unwrap();
    kinds[1..].sort();
    assert_eq!(kinds, ["user", "down", "exit"]);
    let _ = full;
}

#[tokio::test(start_paused = true)]
async fn a_terminating_signal_takes_effect_at_the_next_await() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = process::spawn(|_: Context| async move {
        // A long computation that yields between steps is interruptible.
        let _held = tx;
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let exited = process::await_exit(worker.pid());
    process::exit(worker.pid(), ExitReason::Kill).unwrap();
    assert_eq!(exited.await, ExitReason::Killed);
    // Its future was dropped: what it held is released.
    assert!(rx.await.is_err());
}

#[tokio::test(start_paused = true)]
async fn recv_timeout_returns_none_when_nothing_arrives() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    process::spawn(|mut ctx: Context| async move {
        let got = ctx.recv_timeout(Duration::from_secs(10)).await;
        tx.send(got.is_none()).unwrap();
        Ok(())
    });
    assert!(rx.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn process_info_reports_links_monitors_name_and_flags() {
    let probe = Probe::spawn(true);
    let target = idle(false);
    let (ppid, tpid) = (probe.pid(), target.pid());
    probe.run(move |ctx| ctx.link(tpid)).await.unwrap();
    probe.run(move |ctx| ctx.monitor(tpid)).await;
    probe.run(|ctx| ctx.register("info_probe")).await.unwrap();
    probe.addr.send(common::Cmd::Data(1)).unwrap_or(());
    tokio::task::yield_now().await;
    let info = process::process_info(ppid).unwrap();
    assert_eq!(info.links, vec![tpid]);
    assert_eq!(info.monitors, vec![tpid]);
    assert_eq!(info.registered_name.as_deref(), Some("info_probe"));
    assert!(info.trap_exit);
    assert_eq!(info.status, ProcessStatus::Waiting);
    assert!(info.messages_received >= 4);
    assert!(info.message_type.ends_with("Cmd"));
}

#[tokio::test(start_paused = true)]
async fn processes_lists_live_processes_only() {
    let a = idle(false);
    assert!(process::processes().contains(&a.pid()));
    let exited = process::await_exit(a.pid());
    process::exit(a.pid(), ExitReason::Kill).unwrap();
    exited.await;
    assert!(!process::processes().contains(&a.pid()));
    assert!(process::process_info(a.pid()).is_none());
}

#[tokio::test(start_paused = true)]
async fn current_is_the_running_process_and_none_outside() {
    assert_eq!(process::current(), None);
    let probe = Probe::spawn(false);
    let seen = probe.run(|_| process::current()).await;
    assert_eq!(seen, Some(probe.pid()));
}

#[tokio::test(start_paused = true)]
async fn pids_are_unique_and_print_like_erlang() {
    let a = idle(false).pid();
    let b = idle(false).pid();
    assert_ne!(a, b);
    let shown = a.to_string();
    assert!(shown.starts_with("<0.") && shown.ends_with('>'), "{shown}");
}

#[test]
fn dropping_the_runtime_ends_its_processes_and_tells_their_watchers() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (pid, exited) = rt.block_on(async {
        let p = idle(false).pid();
        (p, process::await_exit(p))
    });
    drop(rt);
    assert!(!process::is_alive(pid));
    let reason = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(exited);
    assert_eq!(reason, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn a_join_handle_yields_the_exit_reason_however_the_process_ended() {
    let (_, normal) = process::spawn_joinable(|_: Context| async { Ok(()) });
    let (_, failed) =
        process::spawn_joinable(|_: Context| async { Err(ExitReason::error("bad input")) });
    let (_, panicked) = process::spawn_joinable(|_: Context| async { panic!("boom") });
    let (sleeper, killed) = process::spawn_joinable(|_: Context| std::future::pending());
    process::exit(sleeper.pid(), ExitReason::Kill).unwrap();
    assert_eq!(normal.await, ExitReason::Normal);
    assert_eq!(failed.await, ExitReason::error("bad input"));
    assert!(matches!(panicked.await, ExitReason::Panic { message, .. } if &*message == "boom"));
    assert_eq!(killed.await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_join_handle_leaves_the_process_running() {
    let (addr, handle) = process::spawn_joinable(|mut ctx: Context<u8>| async move {
        ctx.recv().await;
        Ok(())
    });
    assert_eq!(handle.pid(), addr.pid());
    drop(handle);
    tokio::task::yield_now().await;
    assert!(addr.is_alive());
    let exited = process::await_exit(addr.pid());
    addr.send(1).unwrap();
    assert_eq!(exited.await, ExitReason::Normal);
}

#[tokio::test(start_paused = true)]
async fn await_exit_on_a_process_that_already_exited_gives_its_reason() {
    let (addr, done) =
        process::spawn_joinable(|_: Context| async { Err(ExitReason::error("gone")) });
    done.await;
    assert!(!process::is_alive(addr.pid()));
    assert_eq!(
        process::await_exit(addr.pid()).await,
        ExitReason::error("gone")
    );
}

#[tokio::test(start_paused = true)]
async fn await_exit_on_a_pid_that_never_named_a_process_is_noproc() {
    assert_eq!(process::await_exit(Pid::RUNTIME).await, ExitReason::NoProc);
}

#[tokio::test(start_paused = true)]
async fn a_process_spawned_monitored_that_dies_at_once_is_never_missed() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    process::spawn(move |mut ctx: Context| async move {
        let (child, reference) = Builder::new()
            .spawn_monitor(|_: Context| async { Err(ExitReason::error("at once")) })
            .unwrap();
        if let Message::Down(down) = ctx.recv().await {
            let _ = tx.send((
                down.reference == reference,
                down.pid == child.pid(),
                down.reason,
            ));
        }
        Ok(())
    });
    assert_eq!(
        rx.await.unwrap(),
        (true, true, ExitReason::error("at once"))
    );
}

#[tokio::test(start_paused = true)]
async fn spawn_monitor_outside_a_process_is_a_typed_error() {
    let err = Builder::new()
        .spawn_monitor(|_: Context| std::future::pending())
        .unwrap_err();
    assert_eq!(err, SpawnError::NotInProcess);
}

#[tokio::test(start_paused = true)]
async fn link_caller_links_to_the_calling_process_before_the_child_runs() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let parent = process::spawn(move |_: Context| async move {
        let child = Builder::new()
            .link_caller()
            .spawn(|_: Context| std::future::pending())
            .unwrap();
        let _ = tx.send(child.pid());
        Err(ExitReason::error("parent crashed"))
    });
    let child = rx.await.unwrap();
    assert_eq!(
        process::await_exit(child).await,
        ExitReason::error("parent crashed")
    );
    assert!(!process::is_alive(parent.pid()));
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("account {0} is frozen")]
struct Frozen(u32);

#[tokio::test(start_paused = true)]
async fn an_error_a_process_exits_with_keeps_its_type_for_whoever_receives_the_reason() {
    let addr = process::spawn(|_: Context| async { Err(Frozen(7))? });
    let reason = process::await_exit(addr.pid()).await;
    assert_eq!(reason.downcast_ref::<Frozen>(), Some(&Frozen(7)));
    // Equal by message to a reason rebuilt from text (a log line, another node).
    assert_eq!(reason, ExitReason::error("account 7 is frozen"));
}
