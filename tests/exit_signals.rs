//! Exit signals end to end: every row of OTP's receive table, through links and `exit/2`.

mod common;

use common::{exits_on_message, idle, Probe, Seen};
use ferrotp::prelude::*;

async fn linked_probe_sees(trap: bool, reason: ExitReason) -> (Probe, Pid, ExitReason) {
    let probe = Probe::spawn(trap);
    let child = exits_on_message(reason);
    let cpid = child.pid();
    probe.run(move |ctx| ctx.link(cpid)).await.unwrap();
    let exited = process::await_exit(cpid);
    child.send(()).unwrap();
    let final_reason = exited.await;
    (probe, cpid, final_reason)
}

#[tokio::test(start_paused = true)]
async fn normal_exit_does_not_terminate_a_linked_process() {
    let (mut probe, _, _) = linked_probe_sees(false, ExitReason::Normal).await;
    probe.assert_quiet().await;
    assert!(process::is_alive(probe.pid()));
}

#[tokio::test(start_paused = true)]
async fn abnormal_exit_terminates_a_linked_process_with_the_same_reason() {
    let probe = Probe::spawn(false);
    let child = exits_on_message(ExitReason::error("db down"));
    let cpid = child.pid();
    probe.run(move |ctx| ctx.link(cpid)).await.unwrap();
    let exited = process::await_exit(probe.pid());
    child.send(()).unwrap();
    assert_eq!(exited.await, ExitReason::error("db down"));
}

#[tokio::test(start_paused = true)]
async fn trapping_process_receives_linked_exit_as_a_message_even_for_normal() {
    for reason in [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::error("x"),
    ] {
        let (mut probe, cpid, _) = linked_probe_sees(true, reason.clone()).await;
        assert_eq!(probe.next().await, Seen::Exit(Exit { from: cpid, reason }));
        assert!(process::is_alive(probe.pid()));
    }
}

#[tokio::test(start_paused = true)]
async fn exit_kill_terminates_with_killed_even_when_trapping() {
    let target = idle(true);
    process::exit(target.pid(), ExitReason::Kill).unwrap();
    assert_eq!(process::await_exit(target.pid()).await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn link_partners_of_a_killed_process_receive_killed() {
    let mut probe = Probe::spawn(true);
    let target = idle(false);
    let tpid = target.pid();
    probe.run(move |ctx| ctx.link(tpid)).await.unwrap();
    process::exit(tpid, ExitReason::Kill).unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: tpid,
            reason: ExitReason::Killed
        })
    );
}

#[tokio::test(start_paused = true)]
async fn link_delivered_kill_is_trappable() {
    let (mut probe, cpid, _) = linked_probe_sees(true, ExitReason::Kill).await;
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: cpid,
            reason: ExitReason::Kill
        })
    );
    assert!(process::is_alive(probe.pid()));
}

#[tokio::test(start_paused = true)]
async fn link_delivered_kill_terminates_a_non_trapping_process_with_kill() {
    let probe = Probe::spawn(false);
    let child = exits_on_message(ExitReason::Kill);
    let cpid = child.pid();
    probe.run(move |ctx| ctx.link(cpid)).await.unwrap();
    let exited = process::await_exit(probe.pid());
    child.send(()).unwrap();
    assert_eq!(exited.await, ExitReason::Kill);
}

#[tokio::test(start_paused = true)]
async fn exit_normal_to_another_non_trapping_process_is_ignored() {
    let mut probe = Probe::spawn(false);
    let sender = Probe::spawn(false);
    let target = probe.pid();
    sender
        .run(move |ctx| ctx.exit(target, ExitReason::Normal))
        .await
        .unwrap();
    probe.assert_quiet().await;
    assert!(process::is_alive(target));
}

#[tokio::test(start_paused = true)]
async fn exit_normal_to_self_terminates_the_caller_normally() {
    let probe = Probe::spawn(false);
    let me = probe.pid();
    let exited = process::await_exit(me);
    probe
        .run(move |ctx| ctx.exit(me, ExitReason::Normal))
        .await
        .unwrap();
    assert_eq!(exited.await, ExitReason::Normal);
}

#[tokio::test(start_paused = true)]
async fn exit_normal_to_self_while_trapping_is_a_message() {
    let mut probe = Probe::spawn(true);
    let me = probe.pid();
    probe
        .run(move |ctx| ctx.exit(me, ExitReason::Normal))
        .await
        .unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: me,
            reason: ExitReason::Normal
        })
    );
}

#[tokio::test(start_paused = true)]
async fn exit_with_abnormal_reason_terminates_a_non_trapping_target_with_it() {
    let target = idle(false);
    process::exit(target.pid(), ExitReason::Shutdown).unwrap();
    assert_eq!(
        process::await_exit(target.pid()).await,
        ExitReason::Shutdown
    );
}

#[tokio::test(start_paused = true)]
async fn exit_to_a_trapping_target_is_a_message_from_the_sender() {
    let mut probe = Probe::spawn(true);
    let sender = Probe::spawn(false);
    let (target, spid) = (probe.pid(), sender.pid());
    sender
        .run(move |ctx| ctx.exit(target, ExitReason::Shutdown))
        .await
        .unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: spid,
            reason: ExitReason::Shutdown
        })
    );
}

#[tokio::test(start_paused = true)]
async fn exit_from_outside_any_process_comes_from_the_runtime_pid() {
    let mut probe = Probe::spawn(true);
    process::exit(probe.pid(), ExitReason::Shutdown).unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: Pid::RUNTIME,
            reason: ExitReason::Shutdown
        })
    );
}

#[tokio::test(start_paused = true)]
async fn exit_to_a_dead_process_is_noproc() {
    let target = exits_on_message(ExitReason::Normal);
    let exited = process::await_exit(target.pid());
    target.send(()).unwrap();
    exited.await;
    let err = process::exit(target.pid(), ExitReason::Kill).unwrap_err();
    assert_eq!(err.pid(), target.pid());
}

#[tokio::test(start_paused = true)]
async fn first_terminating_signal_decides_the_reason() {
    let target = idle(false);
    process::exit(target.pid(), ExitReason::Shutdown).unwrap();
    process::exit(target.pid(), ExitReason::Kill).unwrap_or(());
    assert_eq!(
        process::await_exit(target.pid()).await,
        ExitReason::Shutdown
    );
}

#[tokio::test(start_paused = true)]
async fn exit_message_comes_after_messages_the_dying_process_sent_first() {
    let mut probe = Probe::spawn(true);
    let paddr = probe.addr.clone();
    let ppid = probe.pid();
    let child = process::spawn(move |mut ctx: Context<()>| async move {
        ctx.recv().await;
        for n in 0..3 {
            paddr.send(common::Cmd::Data(n)).unwrap();
        }
        Err::<(), _>(ExitReason::error("done"))
    });
    let cpid = child.pid();
    probe.run(move |ctx| ctx.link(cpid)).await.unwrap();
    let _ = ppid;
    child.send(()).unwrap();
    for n in 0..3 {
        assert_eq!(probe.next().await, Seen::Data(n));
    }
    assert!(matches!(probe.next().await, Seen::Exit(e) if e.from == cpid));
}

#[tokio::test(start_paused = true)]
async fn exit_signals_go_out_after_the_name_is_released() {
    const NAME: &str = "exit_signals_named_child";
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A trapping watcher that checks the name the moment the Exit reaches it.
    let watcher = Builder::new()
        .trap_exit(true)
        .spawn(move |mut ctx: Context<Pid>| async move {
            let Message::User(child) = ctx.recv().await else {
                return Ok(());
            };
            ctx.link(child).unwrap();
            ctx.exit(child, ExitReason::error("crash")).unwrap();
            if let Message::Exit(_) = ctx.recv().await {
                let _ = tx.send(registry::whereis(NAME));
            }
            Ok(())
        })
        .unwrap();
    let child = idle(false);
    registry::register(NAME, child.pid()).unwrap();
    watcher.send(child.pid()).unwrap();
    assert_eq!(rx.await.unwrap(), None);
}
