//! `ferrotp::observe`: what the runtime itself knows about the running system, read without a
//! message to any user process.

use std::time::Duration;

use ferrotp::observe::{self, Callback, EventKind};
use ferrotp::prelude::*;
use ferrotp::process::ProcessStatus;
use ferrotp::supervisor::{
    ChildPid, DynamicSupervisor, DynamicSupervisorFlags, Started, Strategy, SupervisorFlags,
};

/// A worker that waits for messages and panics on `0`.
fn worker(id: &str) -> ChildSpec {
    ChildSpec::worker(id, |opts| async move {
        let addr = opts
            .builder()
            .spawn(|mut ctx: Context<u8>| async move {
                loop {
                    if let Message::User(0) = ctx.recv().await {
                        panic!("asked to crash");
                    }
                }
            })
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(addr.pid()))
    })
}

fn running(pid: ChildPid) -> Pid {
    match pid {
        ChildPid::Running(p) => p,
        other => panic!("not running: {other:?}"),
    }
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not met within 10 s of virtual time");
}

#[tokio::test(start_paused = true)]
async fn a_supervisors_published_table_matches_which_children() {
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![worker("a"), worker("b"), worker("c")],
    )
    .await
    .unwrap();
    let view = observe::supervisor(sup.pid().unwrap(), None, 200).unwrap();
    let mut which: Vec<_> = sup.which_children().await.unwrap();
    which.reverse(); // which_children is newest first; the view is in start order
    assert_eq!(view.children.len(), 3);
    for (shown, info) in view.children.iter().zip(&which) {
        assert_eq!(shown.id, info.id);
        assert_eq!(shown.pid, info.pid);
        assert_eq!(shown.restart, info.restart);
    }
    assert!(observe::supervisors().contains(&sup.pid().unwrap()));
}

#[tokio::test(start_paused = true)]
async fn a_crash_shows_as_a_restart_a_last_exit_and_a_crash_report_with_its_location() {
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![worker("w")])
        .await
        .unwrap();
    let sup_pid = sup.pid().unwrap();
    let before = observe::supervisor(sup_pid, None, 10).unwrap();
    let old = running(before.children[0].pid);
    process::addr_of::<u8>(old).unwrap().send(0).unwrap();
    wait_until(|| {
        observe::supervisor(sup_pid, None, 10).is_some_and(|v| {
            v.children[0].restarts == 1 && v.children[0].pid != before.children[0].pid
        })
    })
    .await;
    let after = observe::supervisor(sup_pid, None, 10).unwrap();
    assert_eq!(after.restarts_in_window, 1);
    let last = after.children[0].last_exit.clone().unwrap();
    assert!(last.to_string().contains("asked to crash"), "{last}");
    let new = running(after.children[0].pid);
    assert_eq!(observe::last_exit_of_child(new), Some(last));

    let log = observe::crash_log();
    let crash = log
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Crash {
                pid,
                supervisor,
                child_id,
                reason,
                restarting,
            } if *pid == old => Some((*supervisor, child_id.clone(), reason.clone(), *restarting)),
            _ => None,
        })
        .expect("the crash is in the log");
    assert_eq!(crash.0, sup_pid);
    assert_eq!(&*crash.1, "w");
    assert!(crash.2.panic_location().unwrap().contains("observe.rs"));
    assert!(crash.3);
    assert!(log.iter().any(|e| matches!(&e.kind,
        EventKind::Restart { pid, .. } if *pid == new)));
    let row = observe::snapshot()
        .into_iter()
        .find(|r| r.pid == new)
        .unwrap();
    assert_eq!(row.restarts, 1);
    assert_eq!(row.supervisor, Some((sup_pid, "w".into())));
}

#[tokio::test(start_paused = true)]
async fn reaching_the_restart_intensity_is_logged_as_an_escalation() {
    let flags = SupervisorFlags::new(Strategy::OneForOne).max_restarts(0);
    let sup = Supervisor::start(flags, vec![worker("fragile")])
        .await
        .unwrap();
    let sup_pid = sup.pid().unwrap();
    let child = running(observe::supervisor(sup_pid, None, 1).unwrap().children[0].pid);
    process::addr_of::<u8>(child).unwrap().send(0).unwrap();
    wait_until(|| {
        observe::crash_log().iter().any(|e| {
            matches!(&e.kind, EventKind::Escalation { supervisor, .. } if *supervisor == sup_pid)
        })
    })
    .await;
    wait_until(|| observe::supervisor(sup_pid, None, 1).is_none()).await;
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_supervisors_children_are_capped_and_searchable() {
    let sup = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    for i in 0..500 {
        sup.start_child(worker(&format!("conn-{i}"))).await.unwrap();
    }
    let pid = sup.pid().unwrap();
    let view = observe::supervisor(pid, None, 200).unwrap();
    assert_eq!(view.children_total, 500);
    assert_eq!(view.children.len(), 200);
    let found = observe::supervisor(pid, Some("CONN-42"), 200).unwrap();
    // conn-42 and conn-420..=conn-429
    assert_eq!(found.children_matching, 11);
    assert!(found.children.iter().all(|c| c.id.contains("conn-42")));
}

#[tokio::test(start_paused = true)]
async fn a_suspended_server_shows_as_suspended_and_a_stuck_call_shows_its_callback() {
    struct Slow;
    #[gen_server]
    impl Slow {
        async fn init(_: ()) -> Result<Self, ExitReason> {
            Ok(Slow)
        }
        #[call]
        async fn stall(&self) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    let server = Slow::start(()).await.unwrap();
    let pid = server.pid().unwrap();
    let row = |pid| {
        observe::snapshot()
            .into_iter()
            .find(|r| r.pid == pid)
            .unwrap()
    };
    assert_eq!(row(pid).status, ProcessStatus::Waiting);
    sys::suspend(server.server(), None).await.unwrap();
    assert_eq!(row(pid).status, ProcessStatus::Suspended);
    assert_eq!(
        process::process_info(pid).unwrap().status,
        ProcessStatus::Suspended
    );
    sys::resume(server.server(), None).await.unwrap();
    assert_eq!(row(pid).status, ProcessStatus::Waiting);

    let caller = tokio::spawn({
        let server = server.clone();
        async move { server.stall_timeout(Duration::from_secs(7200)).await }
    });
    wait_until(|| row(pid).callback == Some(Callback::HandleCall)).await;
    caller.abort();
}

#[tokio::test(start_paused = true)]
async fn format_status_shows_only_servers_that_opt_in_and_gives_up_on_a_busy_one() {
    #[derive(Debug)]
    struct Shown {
        count: u64,
    }
    #[gen_server(debug_state)]
    impl Shown {
        async fn init(count: u64) -> Result<Self, ExitReason> {
            Ok(Shown { count })
        }
        #[call]
        fn count(&self) -> u64 {
            self.count
        }
        #[call]
        async fn stall(&self) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    struct Hidden;
    #[gen_server]
    impl Hidden {
        async fn init(_: ()) -> Result<Self, ExitReason> {
            Ok(Hidden)
        }
    }
    let shown = Shown::start(41).await.unwrap();
    let text = observe::format_status(shown.pid().unwrap(), Duration::from_millis(100))
        .await
        .unwrap();
    assert!(text.contains("count: 41"), "{text}");
    assert_eq!(shown.count().await, Ok(41));

    let hidden = Hidden::start(()).await.unwrap();
    assert_eq!(
        observe::format_status(hidden.pid().unwrap(), Duration::from_millis(100)).await,
        Err(observe::FormatStatusError::NotShown)
    );
    // A type that answered `None` is not asked again: even a busy server of that type
    // answers at once, without a request waiting in its mailbox.
    let stuck = Hidden::start(()).await.unwrap();
    sys::suspend(stuck.server(), None).await.unwrap();
    let before = observe::process(stuck.pid().unwrap())
        .unwrap()
        .messages_handled;
    assert_eq!(
        observe::format_status(stuck.pid().unwrap(), Duration::from_millis(100)).await,
        Err(observe::FormatStatusError::NotShown)
    );
    let after = observe::process(stuck.pid().unwrap()).unwrap();
    assert_eq!((after.messages_handled, after.mailbox_len), (before, 0));
    let plain = process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        Ok(())
    });
    assert_eq!(
        observe::format_status(plain.pid(), Duration::from_millis(100)).await,
        Err(observe::FormatStatusError::NotShown)
    );

    let busy = tokio::spawn({
        let shown = shown.clone();
        async move { shown.stall_timeout(Duration::from_secs(7200)).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(
        observe::format_status(shown.pid().unwrap(), Duration::from_millis(100)).await,
        Err(observe::FormatStatusError::Timeout(Duration::from_millis(
            100
        )))
    );
    busy.abort();
}

#[tokio::test(start_paused = true)]
async fn a_process_that_exited_recently_keeps_its_exit_reason() {
    let addr = process::spawn(|_: Context| async move { Err(ExitReason::error("boom")) });
    let pid = addr.pid();
    wait_until(|| !process::is_alive(pid)).await;
    let reason = observe::exit_reason(pid).unwrap();
    assert!(reason.to_string().contains("boom"));
    assert_eq!(
        observe::exit_reason(
            process::spawn(|mut c: Context| async move {
                c.recv().await;
                Ok(())
            })
            .pid()
        ),
        None
    );
}

#[tokio::test]
async fn upgrade_records_are_kept_in_order() {
    let before = observe::upgrade_history().len();
    let mut events = observe::subscribe();
    observe::record_upgrade(observe::UpgradeRecord::new(
        "counter",
        "1",
        "2",
        4,
        Duration::from_millis(3),
        None,
    ));
    let pushed = events.recv().await.unwrap();
    let history = observe::upgrade_history();
    assert_eq!(history.len(), before + 1);
    assert_eq!(history.last().unwrap().seq, pushed.seq);
    assert!(
        matches!(&pushed.kind, EventKind::Upgrade(r) if r.to == "2" && r.rolled_back.is_none())
    );
}

#[tokio::test(start_paused = true)]
async fn suspend_and_resume_by_pid_reach_any_gen_server_and_refuse_plain_processes() {
    struct Idle;
    #[gen_server]
    impl Idle {
        async fn init(_: ()) -> Result<Self, ExitReason> {
            Ok(Idle)
        }
    }
    let server = Idle::start(()).await.unwrap();
    let pid = server.pid().unwrap();
    observe::suspend(pid, Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        observe::process(pid).unwrap().status,
        ProcessStatus::Suspended
    );
    observe::resume(pid, Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        observe::process(pid).unwrap().status,
        ProcessStatus::Waiting
    );

    let plain = process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        Ok(())
    });
    assert_eq!(
        observe::suspend(plain.pid(), Duration::from_secs(1)).await,
        Err(observe::ControlError::NotAServer)
    );
}

#[tokio::test(start_paused = true)]
async fn terminate_and_restart_child_by_pid_go_through_the_supervisor() {
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![worker("w")])
        .await
        .unwrap();
    let sup_pid = sup.pid().unwrap();
    let child = running(observe::supervisor(sup_pid, None, 1).unwrap().children[0].pid);
    observe::terminate_child(sup_pid, observe::ChildRef::Pid(child))
        .await
        .unwrap();
    let view = observe::supervisor(sup_pid, None, 1).unwrap();
    assert_eq!(view.children[0].pid, ChildPid::Undefined);
    assert_eq!(observe::exit_reason(child), Some(ExitReason::Shutdown));
    let again = observe::restart_child(sup_pid, "w").await.unwrap().unwrap();
    assert_eq!(
        observe::supervisor(sup_pid, None, 1).unwrap().children[0].pid,
        ChildPid::Running(again)
    );
    assert_eq!(
        observe::restart_child(sup_pid, "nope").await,
        Err(observe::ControlError::NoSuchChild("nope".into()))
    );

    let dynamic = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let d = dynamic.pid().unwrap();
    let kid = dynamic.start_child(worker("k")).await.unwrap().unwrap();
    assert!(matches!(
        observe::restart_child(d, "k").await,
        Err(observe::ControlError::Unsupported(_))
    ));
    observe::terminate_child(d, observe::ChildRef::Pid(kid))
        .await
        .unwrap();
    assert_eq!(observe::supervisor(d, None, 10).unwrap().children_total, 0);
}

#[tokio::test(start_paused = true)]
async fn a_bystander_stopped_by_one_for_all_shows_its_shutdown_and_one_restart() {
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForAll),
        vec![worker("a"), worker("b")],
    )
    .await
    .unwrap();
    let sup_pid = sup.pid().unwrap();
    let a = running(observe::supervisor(sup_pid, None, 2).unwrap().children[0].pid);
    process::addr_of::<u8>(a).unwrap().send(0).unwrap();
    wait_until(|| {
        observe::supervisor(sup_pid, None, 2)
            .is_some_and(|v| v.children.iter().all(|c| c.restarts == 1))
    })
    .await;
    let view = observe::supervisor(sup_pid, None, 2).unwrap();
    assert!(view.children[0]
        .last_exit
        .as_ref()
        .is_some_and(|r| r.to_string().contains("asked to crash")));
    assert_eq!(view.children[1].last_exit, Some(ExitReason::Shutdown));
    assert!(view
        .children
        .iter()
        .all(|c| matches!(c.pid, ChildPid::Running(_))));
}
