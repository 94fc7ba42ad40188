//! Application: a root supervisor stopped in order on request, or ending on its own.

mod common;

use common::kid::{kid, Kid};
use common::server::Log;
use ferrotp::application::{Application, Stopped};
use ferrotp::prelude::*;
use ferrotp::supervisor::{ChildPid, Strategy, Supervisor, SupervisorFlags};

#[tokio::test(start_paused = true)]
async fn a_requested_shutdown_stops_the_whole_tree_in_reverse_order() {
    let log = Log::default();
    let inner = Supervisor::child_spec(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![kid("b", &log), kid("c", &log)],
    )
    .id("inner");
    let app = Application::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![kid("a", &log), inner],
    )
    .await
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn({
        let app = app.clone();
        async move { app.run_until(async { rx.await.unwrap() }).await }
    });
    tx.send(()).unwrap();
    let stopped = run.await.unwrap();
    assert_eq!(stopped, Stopped::Requested);
    assert_eq!(stopped.exit_code(), std::process::ExitCode::SUCCESS);
    assert_eq!(
        log.entries(),
        [
            "start a",
            "start b",
            "start c",
            "stop c shutdown",
            "stop b shutdown",
            "stop a shutdown"
        ]
    );
    assert!(!app.root().pid().is_some_and(process::is_alive));
}

#[tokio::test(start_paused = true)]
async fn a_root_that_gives_up_ends_the_application_with_a_failure() {
    let log = Log::default();
    let app = Application::start(
        SupervisorFlags::new(Strategy::OneForOne).max_restarts(0),
        vec![kid("a", &log)],
    )
    .await
    .unwrap();
    let a = app.root().which_children().await.unwrap()[0].pid;
    let ChildPid::Running(a) = a else {
        panic!("a is running")
    };
    let run = tokio::spawn({
        let app = app.clone();
        async move { app.run_until(std::future::pending()).await }
    });
    tokio::task::yield_now().await;
    Server::<Kid>::from_pid(a)
        .unwrap()
        .cast(ExitReason::error("fatal"));
    let stopped = run.await.unwrap();
    assert_eq!(stopped, Stopped::RootExited(ExitReason::Shutdown));
    assert_eq!(stopped.exit_code(), std::process::ExitCode::FAILURE);
}
