//! Via names: a process started under a Registry key (Elixir's
//! `name: {:via, Registry, {registry, key}}`).

mod common;

use common::server::{Call, Log, Setup, Srv};
use ferrotp::gen_server::{CallError, StartError};
use ferrotp::prelude::*;
use ferrotp::supervisor::{ChildPid, DynamicSupervisorFlags};
use ferrotp::task::TaskSupervisor;
use ferrotp::RegisterError;

async fn unique() -> Registry<String, ()> {
    Registry::start(Keys::Unique).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_server_started_under_a_via_name_is_registered_under_its_key() {
    let reg = unique().await;
    let log = Log::default();
    let srv = gen_server::start_with::<Srv>(
        Setup::new(&log),
        StartOptions::new().name(reg.via("alice".into())),
    )
    .await
    .unwrap();
    assert_eq!(reg.lookup(&"alice".into()), vec![(srv.pid().unwrap(), ())]);
    let by_key: Server<Srv> = Server::named(reg.via("alice".into()));
    assert_eq!(by_key.call(|r| Call::Set(3, r)).await, Ok(3));
}

#[tokio::test(start_paused = true)]
async fn the_key_is_registered_before_init_runs() {
    let reg = unique().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let seen = reg.clone();
    let agent = Agent::start_with(
        move || {
            // Inside init: the key already names this process.
            let _ = tx.send(seen.lookup(&"early".into()).first().map(|&(pid, _)| pid));
            0u8
        },
        StartOptions::new().name(reg.via("early".into())),
    )
    .await
    .unwrap();
    assert_eq!(rx.await.unwrap(), agent.pid());
}

#[tokio::test(start_paused = true)]
async fn a_taken_key_fails_the_start_with_the_holder_and_init_never_runs() {
    let reg = unique().await;
    let first = Agent::start_with(|| 1u8, StartOptions::new().name(reg.via("taken".into())))
        .await
        .unwrap();
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran2 = ran.clone();
    let err = Agent::start_with(
        move || {
            ran2.store(true, std::sync::atomic::Ordering::SeqCst);
            2u8
        },
        StartOptions::new().name(reg.via("taken".into())),
    )
    .await
    .unwrap_err();
    assert_eq!(err, StartError::AlreadyStarted(first.pid().unwrap()));
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn the_key_is_released_when_the_process_exits() {
    let reg = unique().await;
    let agent = Agent::start_with(|| 1u8, StartOptions::new().name(reg.via("gone".into())))
        .await
        .unwrap();
    agent.stop().await.unwrap();
    assert!(reg.lookup(&"gone".into()).is_empty());
    let again = Agent::start_with(|| 2u8, StartOptions::new().name(reg.via("gone".into())))
        .await
        .unwrap();
    assert_eq!(again.get(|n| *n).await, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn a_via_client_of_a_missing_key_gets_noproc() {
    let reg = unique().await;
    let client: Server<Srv> = Server::named(reg.via("nobody".into()));
    assert_eq!(client.call(Call::Get).await, Err(CallError::NoProc));
    assert_eq!(client.pid(), None);
}

#[tokio::test(start_paused = true)]
async fn a_via_name_needs_a_registry_with_unique_keys() {
    let dup: Registry<String, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let err = Agent::start_with(|| 0u8, StartOptions::new().name(dup.via("k".into())))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StartError::Register(RegisterError::Via { .. })),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_via_value_is_registered_with_the_key() {
    let reg: Registry<String, u32> = Registry::start(Keys::Unique).await.unwrap();
    let agent = Agent::start_with(
        || (),
        StartOptions::new().name(reg.via_with("w".into(), 42)),
    )
    .await
    .unwrap();
    assert_eq!(reg.lookup(&"w".into()), vec![(agent.pid().unwrap(), 42)]);
}

/// The keyed worker pool: one worker per key under a dynamic supervisor, found by key, also
/// after it crashed and was restarted.
#[tokio::test(start_paused = true)]
async fn a_dynamic_child_named_by_key_is_found_by_key_after_a_crash() {
    let reg = unique().await;
    let workers = DynamicSupervisor::start(DynamicSupervisorFlags::new())
        .await
        .unwrap();
    let log = Log::default();
    for key in ["a", "b"] {
        let spec = Srv::child_spec(Setup::new(&log)).name(reg.via(key.into()));
        workers.start_child(spec).await.unwrap();
    }
    let b: Server<Srv> = Server::named(reg.via("b".into()));
    b.call(|r| Call::Set(9, r)).await.unwrap();
    let first = b.pid().unwrap();
    let crashed = b.call(Call::Panic).await.unwrap_err();
    assert!(crashed.exit_reason().is_some_and(ExitReason::is_panic));
    // The restarted worker took its key back: the same client reaches it, in its initial state.
    let _ = workers.count_children().await.unwrap();
    assert_ne!(b.pid().unwrap(), first);
    assert_eq!(b.call(Call::Get).await, Ok(0));
    assert_eq!(reg.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn supervisors_agents_and_task_supervisors_take_via_names() {
    let reg = unique().await;
    let sup = Supervisor::start_with(
        SupervisorFlags::new(supervisor::Strategy::OneForOne),
        vec![],
        StartOptions::new().name(reg.via("sup".into())),
    )
    .await
    .unwrap();
    assert_eq!(
        Supervisor::named(reg.via("sup".into()))
            .count_children()
            .await
            .unwrap(),
        sup.count_children().await.unwrap()
    );
    let dyn_sup = DynamicSupervisor::start_with(
        DynamicSupervisorFlags::new(),
        (),
        StartOptions::new().name(reg.via("dyn".into())),
    )
    .await
    .unwrap();
    assert_eq!(
        DynamicSupervisor::<()>::named(reg.via("dyn".into())).pid(),
        dyn_sup.pid()
    );
    let tasks = TaskSupervisor::start_with(
        DynamicSupervisorFlags::new(),
        StartOptions::new().name(reg.via("tasks".into())),
    )
    .await
    .unwrap();
    let found = TaskSupervisor::named(reg.via("tasks".into()));
    assert_eq!(found.pid(), tasks.pid());
    let t = found.async_nolink(async { 5 }).await.unwrap();
    assert_eq!(t.await.ok(), Some(5));
    let agent = Agent::start_with(|| 1u8, StartOptions::new().name(reg.via("agent".into())))
        .await
        .unwrap();
    assert_eq!(
        Agent::<u8>::named(reg.via("agent".into()))
            .get(|n| *n)
            .await,
        Ok(1)
    );
    assert_eq!(reg.count(), 4);
    drop(agent);
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_child_spec_can_carry_a_via_name() {
    let reg = unique().await;
    let log = Log::default();
    let sup = Supervisor::start(
        SupervisorFlags::new(supervisor::Strategy::OneForOne),
        vec![Srv::child_spec(Setup::new(&log)).name(reg.via("worker".into()))],
    )
    .await
    .unwrap();
    let ChildPid::Running(pid) = sup.which_children().await.unwrap()[0].pid else {
        panic!("not running")
    };
    assert_eq!(reg.lookup(&"worker".into()), vec![(pid, ())]);
}

/// Spawns a via-named process linked to `me` when dropped, that is while `me` exits: the
/// link fails after the name was registered.
struct SpawnLinkedOnDrop {
    reg: Registry<String, ()>,
    me: Pid,
    outcome: std::sync::Arc<std::sync::Mutex<Option<Result<Pid, String>>>>,
}

impl Drop for SpawnLinkedOnDrop {
    fn drop(&mut self) {
        let spawned = process::Builder::new()
            .name(self.reg.via("k".into()))
            .link(self.me)
            .spawn(|_: Context| std::future::pending())
            .map(|a| a.pid())
            .map_err(|e| e.to_string());
        *self.outcome.lock().unwrap() = Some(spawned);
    }
}

#[tokio::test(start_paused = true)]
async fn a_spawn_that_fails_after_registering_its_via_name_leaves_no_registration() {
    let reg = unique().await;
    let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (r, o) = (reg.clone(), outcome.clone());
    let dying = process::spawn(move |ctx: Context| async move {
        let _guard = SpawnLinkedOnDrop {
            reg: r,
            me: ctx.pid(),
            outcome: o,
        };
        std::future::pending::<()>().await;
        Ok(())
    });
    tokio::task::yield_now().await;
    process::exit(dying.pid(), ExitReason::Kill).unwrap();
    process::await_exit(dying.pid()).await;
    let spawned = outcome.lock().unwrap().take().expect("the destructor ran");
    assert!(spawned.is_err(), "{spawned:?}");
    assert!(reg.lookup(&"k".into()).is_empty());
    let owner = reg.pid().unwrap();
    assert!(process::process_info(owner).unwrap().links.is_empty());
}
