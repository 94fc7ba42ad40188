//! Task and TaskSupervisor.

mod common;

use std::time::Duration;

use ferrotp::prelude::*;
use ferrotp::supervisor::{DynamicSupervisorFlags, Restart, Shutdown, SupervisorError};
use ferrotp::task::{Task, TaskError, TaskOptions, TaskRef, TaskSupervisor};

#[tokio::test(start_paused = true)]
async fn await_returns_the_value() {
    let t = Task::spawn(async { "done" });
    assert_eq!(t.await.ok(), Some("done"));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_join_leaves_the_task_running_and_hands_it_back() {
    let t = Task::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        1
    });
    let pid = t.pid();
    let err = t.join(Duration::from_secs(1)).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(process::is_alive(pid), "a timed-out join stops nothing");
    // Wait again on the same task: its result still arrives.
    let t = err.into_task().unwrap();
    assert_eq!(t.join(Duration::from_secs(120)).await.ok(), Some(1));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_nolink_task_can_be_shut_down_with_the_handed_back_handle() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let t = tasks
        .async_nolink(std::future::pending::<()>())
        .await
        .unwrap();
    let pid = t.pid();
    let t = t
        .join(Duration::from_secs(1))
        .await
        .unwrap_err()
        .into_task()
        .unwrap();
    assert!(process::is_alive(pid));
    assert_eq!(t.shutdown(Shutdown::BrutalKill).await, None);
    assert!(!process::is_alive(pid));
}

#[tokio::test(start_paused = true)]
async fn await_of_a_crashed_task_gives_its_exit_reason() {
    let t = Task::spawn(async { "x".parse::<u8>().expect("task failed") });
    assert!(matches!(
        t.await,
        Err(TaskError::Exit(ExitReason::Panic { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_crashing_task_takes_its_non_trapping_caller_down() {
    let caller = process::spawn(|_: Context| async {
        let t = Task::spawn(async { panic!("task bug") });
        let _ = t.await;
        std::future::pending().await
    });
    assert!(process::await_exit(caller.pid()).await.is_panic());
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_await_does_not_kill_the_caller() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let caller = process::spawn(move |_: Context| async move {
        let t = Task::spawn(std::future::pending::<()>());
        let _ = tx.send(t.join(Duration::from_secs(1)).await);
        std::future::pending().await
    });
    assert!(rx.await.unwrap().unwrap_err().is_timeout());
    assert!(process::is_alive(caller.pid()));
}

#[tokio::test(start_paused = true)]
async fn yield_for_can_be_called_again() {
    let mut t = Task::spawn(async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        7
    });
    assert_eq!(t.yield_for(Duration::from_secs(1)).await, None);
    assert_eq!(t.yield_for(Duration::from_secs(5)).await, Some(Ok(7)));
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_a_running_task_and_returns_none() {
    let t = Task::spawn(std::future::pending::<()>());
    let pid = t.pid();
    assert_eq!(
        t.shutdown(Shutdown::Timeout(Duration::from_secs(1))).await,
        None
    );
    assert!(!process::is_alive(pid));
}

#[tokio::test(start_paused = true)]
async fn shutdown_returns_a_result_that_raced_in() {
    let t = Task::spawn(async { 5 });
    tokio::task::yield_now().await;
    assert_eq!(t.shutdown(Shutdown::BrutalKill).await, Some(Ok(5)));
}

#[tokio::test(start_paused = true)]
async fn async_nolink_crash_only_reaches_the_awaiting_caller() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tasks2 = tasks.clone();
    let caller = process::spawn(move |_: Context| async move {
        let t = tasks2
            .async_nolink(async { panic!("task bug") })
            .await
            .unwrap();
        let _ = tx.send(t.await);
        std::future::pending::<()>().await;
        Ok(())
    });
    let awaited: Result<(), TaskError<()>> = rx.await.unwrap();
    assert!(matches!(
        awaited,
        Err(TaskError::Exit(ExitReason::Panic { .. }))
    ));
    assert!(process::is_alive(caller.pid()));
    assert!(tasks.pid().is_some_and(process::is_alive));
}

#[tokio::test(start_paused = true)]
async fn async_linked_crash_takes_the_caller_down() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let caller = process::spawn(move |_: Context| async move {
        let t = tasks
            .async_linked(async { panic!("task bug") })
            .await
            .unwrap();
        let _ = t.await;
        std::future::pending().await
    });
    assert!(process::await_exit(caller.pid()).await.is_panic());
}

#[tokio::test(start_paused = true)]
async fn a_permanent_supervised_task_is_restarted_after_shutdown() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let first = tasks
        .start_child(
            move || {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(process::current());
                    std::future::pending::<()>().await
                }
            },
            TaskOptions::new().restart(Restart::Permanent),
        )
        .await
        .unwrap();
    assert_eq!(rx.recv().await.unwrap(), Some(first));
    process::exit(first, ExitReason::Shutdown).unwrap();
    let second = rx.recv().await.unwrap().unwrap();
    assert_ne!(second, first);
}

#[tokio::test(start_paused = true)]
async fn a_full_task_supervisor_refuses_new_tasks() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new().max_children(1))
        .await
        .unwrap();
    let _busy = tasks
        .async_nolink(std::future::pending::<()>())
        .await
        .unwrap();
    assert_eq!(
        tasks.async_nolink(async {}).await.unwrap_err(),
        SupervisorError::MaxChildren
    );
}

#[tokio::test(start_paused = true)]
async fn terminate_child_stops_a_task_then_not_found() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let t = tasks
        .async_nolink(std::future::pending::<()>())
        .await
        .unwrap();
    assert_eq!(tasks.children().await.unwrap(), vec![t.pid()]);
    tasks.terminate_child(t.pid()).await.unwrap();
    assert_eq!(
        tasks.terminate_child(t.pid()).await,
        Err(SupervisorError::NotFound)
    );
}

/// A GenServer that starts tasks and receives their outcomes as messages (Elixir's
/// `async_nolink` + `handle_info({ref, result})` / `{:DOWN, ...}`).
struct Jobs {
    tasks: TaskSupervisor,
    done: Vec<(TaskRef, Result<u32, ExitReason>)>,
}

enum JobsCall {
    Run(bool, ReplyTo<TaskRef>),
    Done(ReplyTo<Vec<(TaskRef, Result<u32, ExitReason>)>>),
}

impl GenServer for Jobs {
    type Args = TaskSupervisor;
    type Call = JobsCall;
    type Cast = ();
    type Info = (TaskRef, Result<u32, ExitReason>);
    type Continue = ();

    async fn init(tasks: TaskSupervisor, _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Jobs {
            tasks,
            done: Vec::new(),
        })
    }

    async fn handle_call(
        &mut self,
        call: JobsCall,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        match call {
            JobsCall::Run(fail, to) => {
                let job = async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    assert!(!fail, "job failed");
                    7
                };
                let task = self
                    .tasks
                    .async_nolink_send(job, ctx.server(), |task, outcome| (task, outcome))
                    .await
                    .unwrap();
                CallResult::reply(to, task)
            }
            JobsCall::Done(to) => CallResult::reply(to, std::mem::take(&mut self.done)),
        }
    }

    async fn handle_info(
        &mut self,
        info: Info<(TaskRef, Result<u32, ExitReason>)>,
        _: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        if let Info::Message(outcome) = info {
            self.done.push(outcome);
        }
        HandleResult::noreply()
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_receives_a_task_result_as_a_message() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let jobs = Jobs::start(tasks).await.unwrap();
    let task = jobs.call(|to| JobsCall::Run(false, to)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        jobs.call(JobsCall::Done).await.unwrap(),
        vec![(task, Ok(7))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_receives_a_crashed_tasks_reason_as_a_message_and_lives_on() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let jobs = Jobs::start(tasks).await.unwrap();
    let task = jobs.call(|to| JobsCall::Run(true, to)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let done = jobs.call(JobsCall::Done).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, task);
    assert!(
        done[0].1.as_ref().is_err_and(ExitReason::is_panic),
        "{done:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_supervisor_is_named_found_and_started_from_a_child_spec() {
    let sup = Supervisor::start(
        SupervisorFlags::new(supervisor::Strategy::OneForOne),
        vec![TaskSupervisor::child_spec(DynamicSupervisorFlags::new()).name("task_sup_named")],
    )
    .await
    .unwrap();
    let tasks = TaskSupervisor::named("task_sup_named");
    let by_pid = TaskSupervisor::from_pid(tasks.pid().unwrap()).unwrap();
    let t = by_pid.async_nolink(async { 3 }).await.unwrap();
    assert_eq!(t.await.ok(), Some(3));
    assert_eq!(sup.count_children().await.unwrap().supervisors, 1);
}

#[tokio::test(start_paused = true)]
async fn start_child_takes_a_shutdown_option() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    // A task that ignores shutdown for an hour: BrutalKill does not wait for it.
    let pid = tasks
        .start_child(
            move || {
                let tx = tx.lock().unwrap().take();
                async move {
                    if let Some(tx) = tx {
                        let _ = tx.send(());
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            },
            TaskOptions::new().shutdown(Shutdown::BrutalKill),
        )
        .await
        .unwrap();
    rx.await.unwrap();
    let t0 = tokio::time::Instant::now();
    tasks.terminate_child(pid).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert!(!process::is_alive(pid));
}

#[tokio::test(start_paused = true)]
async fn yield_for_after_the_value_gives_the_normal_exit_instead_of_the_value_again() {
    let mut t = Task::spawn(async { 7 });
    assert_eq!(t.yield_for(Duration::from_secs(1)).await, Some(Ok(7)));
    let again = tokio::time::timeout(Duration::from_secs(5), t.yield_for(Duration::from_secs(1)))
        .await
        .expect("a second yield_for returns at once");
    assert_eq!(again, Some(Err(ExitReason::Normal)));
}

#[tokio::test(start_paused = true)]
async fn join_after_yield_for_took_the_value_gives_the_normal_exit() {
    let mut t = Task::spawn(async { 7 });
    assert_eq!(t.yield_for(Duration::from_secs(1)).await, Some(Ok(7)));
    let joined = tokio::time::timeout(Duration::from_secs(5), t.join(Duration::from_secs(1)))
        .await
        .expect("join returns at once");
    assert_eq!(joined.unwrap_err().exit_reason(), Some(&ExitReason::Normal));
}

#[tokio::test(start_paused = true)]
async fn yield_for_after_a_crash_gives_the_same_exit_reason_again() {
    let tasks = TaskSupervisor::start(Default::default()).await.unwrap();
    let mut t = tasks.async_nolink(async { panic!("boom") }).await.unwrap();
    let first = t.yield_for(Duration::from_secs(1)).await;
    let Some(Err(reason)) = first else {
        panic!("expected the crash, got {first:?}")
    };
    assert!(reason.is_panic(), "{reason:?}");
    let again = tokio::time::timeout(Duration::from_secs(5), t.yield_for(Duration::from_secs(1)))
        .await
        .expect("returns at once");
    assert_eq!(again, Some(Err(reason)));
}

#[tokio::test(start_paused = true)]
async fn async_nolink_send_delivers_exactly_one_message_per_task_whatever_its_end() {
    let tasks = TaskSupervisor::start(Default::default()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = process::spawn(
        move |mut ctx: Context<(TaskRef, Result<u32, ExitReason>)>| async move {
            while let Message::User(m) = ctx.recv().await {
                let _ = tx.send(m);
            }
            Ok(())
        },
    );
    let wrap = |t: TaskRef, o: Result<u32, ExitReason>| (t, o);
    let value = tasks
        .async_nolink_send(async { 1u32 }, sink.clone(), wrap)
        .await
        .unwrap();
    let crashed = tasks
        .async_nolink_send(async { panic!("boom") }, sink.clone(), wrap)
        .await
        .unwrap();
    let killed = tasks
        .async_nolink_send(std::future::pending::<u32>(), sink.clone(), wrap)
        .await
        .unwrap();
    process::exit(killed.pid, ExitReason::Kill).unwrap();
    let stopped = tasks
        .async_nolink_send(std::future::pending::<u32>(), sink.clone(), wrap)
        .await
        .unwrap();
    tasks.stop().await.unwrap();
    let mut got = std::collections::HashMap::new();
    for _ in 0..4 {
        let (t, outcome) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("one message per task")
            .unwrap();
        assert!(
            got.insert(t.reference, outcome).is_none(),
            "two messages for {t:?}"
        );
    }
    assert_eq!(got[&value.reference], Ok(1));
    assert!(got[&crashed.reference].as_ref().unwrap_err().is_panic());
    assert_eq!(got[&killed.reference], Err(ExitReason::Killed));
    assert_eq!(got[&stopped.reference], Err(ExitReason::Shutdown));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rx.try_recv().is_err(), "a fifth message arrived");
}
