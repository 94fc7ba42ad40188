//! Agent: state behind a process, read and changed with closures.

use ferrotp::agent::Agent;
use ferrotp::gen_server::{CallError, StartError, StartOptions};
use ferrotp::prelude::*;

#[tokio::test(start_paused = true)]
async fn get_update_and_get_and_update() {
    let agent = Agent::start(|| vec![1, 2]).await.unwrap();
    agent.update(|v| v.push(3)).await.unwrap();
    assert_eq!(agent.get(|v| v.len()).await, Ok(3));
    let popped = agent.get_and_update(|v| v.pop()).await.unwrap();
    assert_eq!(popped, Some(3));
    assert_eq!(agent.get(|v| v.clone()).await, Ok(vec![1, 2]));
}

#[tokio::test(start_paused = true)]
async fn casts_are_applied_in_order_before_a_later_get() {
    let agent = Agent::start(String::new).await.unwrap();
    for c in ["a", "b", "c"] {
        agent.cast(move |s| s.push_str(c));
    }
    assert_eq!(agent.get(|s| s.clone()).await, Ok("abc".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_function_crashes_the_agent_and_the_caller_learns_why() {
    let agent = Agent::start(|| 0u8).await.unwrap();
    let err = agent.update(|_| panic!("bad update")).await.unwrap_err();
    assert!(matches!(err, CallError::Exit(ExitReason::Panic { .. })));
    assert_eq!(agent.get(|n| *n).await, Err(CallError::NoProc));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_initializer_fails_the_start() {
    let err = Agent::<u8>::start(|| panic!("no state")).await.unwrap_err();
    assert!(matches!(err, StartError::Exited(ExitReason::Panic { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_named_agent_is_reachable_by_name() {
    Agent::start_with(|| 5u32, StartOptions::new().name("agent_named"))
        .await
        .unwrap();
    let by_name = Agent::<u32>::named("agent_named");
    assert_eq!(by_name.get(|n| *n).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn stop_ends_the_agent() {
    let agent = Agent::start(|| 1u32).await.unwrap();
    let pid = agent.server().pid().unwrap();
    agent.stop().await.unwrap();
    assert!(!process::is_alive(pid));
    assert_eq!(agent.get(|n| *n).await, Err(CallError::NoProc));
}
