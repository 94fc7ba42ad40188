//! Task and TaskSupervisor.

mod common;

use std::time::Duration;

use ferrotp::prelude::*;
use ferrotp::supervisor::{DynamicSupervisorFlags, Restart, Shutdown, SupervisorError};
use ferrotp::task::{Task, TaskError, TaskSupervisor};

#[tokio::test(start_paused = true)]
async fn await_returns_the_value() {
    let t = Task::spawn(async { "done" });
    assert_eq!(t.await, Ok("done"));
}

#[tokio::test(start_paused = true)]
async fn await_times_out_stops_the_task_and_the_late_result_is_never_delivered() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let t = Task::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let _ = tx.send("late");
        1
    });
    let pid = t.pid();
    assert_eq!(
        t.join(Duration::from_secs(1)).await,
        Err(TaskError::Timeout(Duration::from_secs(1)))
    );
    assert!(!process::is_alive(pid));
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(rx.try_recv().is_err());
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
    let caller = process::spawn::<(), _, _>(|_| async {
        let t = Task::spawn(async { panic!("task bug") });
        let _ = t.await;
        std::future::pending().await
    });
    assert!(process::await_exit(caller.pid()).await.is_panic());
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_await_does_not_kill_the_caller() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let caller = process::spawn::<(), _, _>(move |_| async move {
        let t = Task::spawn(std::future::pending::<()>());
        let _ = tx.send(t.join(Duration::from_secs(1)).await);
        std::future::pending().await
    });
    assert_eq!(
        rx.await.unwrap(),
        Err(TaskError::Timeout(Duration::from_secs(1)))
    );
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
    let caller = process::spawn::<(), _, _>(move |_| async move {
        let t = tasks2
            .async_nolink(async { panic!("task bug") })
            .await
            .unwrap();
        let _ = tx.send(t.await);
        std::future::pending::<()>().await;
        Ok(())
    });
    let awaited: Result<(), TaskError> = rx.await.unwrap();
    assert!(matches!(
        awaited,
        Err(TaskError::Exit(ExitReason::Panic { .. }))
    ));
    assert!(process::is_alive(caller.pid()));
    assert!(tasks.supervisor().pid().is_some_and(process::is_alive));
}

#[tokio::test(start_paused = true)]
async fn async_linked_crash_takes_the_caller_down() {
    let tasks = TaskSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let caller = process::spawn::<(), _, _>(move |_| async move {
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
            Restart::Permanent,
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
