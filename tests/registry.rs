//! Registered names and Elixir-style keyed registries.

mod common;

use common::{idle, Probe};
use ferrotp::prelude::*;
use ferrotp::registry::RegistryError;
use ferrotp::{LookupError, RegisterError};

async fn kill_and_wait(pid: Pid) {
    let exited = process::await_exit(pid);
    process::exit(pid, ExitReason::Kill).unwrap_or(());
    exited.await;
}

#[tokio::test(start_paused = true)]
async fn a_registered_name_resolves_to_its_process() {
    let a = idle(false);
    registry::register("reg_resolves", a.pid()).unwrap();
    assert_eq!(registry::whereis("reg_resolves"), Some(a.pid()));
    assert!(registry::registered()
        .iter()
        .any(|n| &**n == "reg_resolves"));
}

#[tokio::test(start_paused = true)]
async fn registering_a_taken_name_names_the_holder() {
    let a = idle(false);
    let b = idle(false);
    registry::register("reg_taken", a.pid()).unwrap();
    let err = registry::register("reg_taken", b.pid()).unwrap_err();
    assert_eq!(
        err,
        RegisterError::AlreadyRegistered {
            name: "reg_taken".into(),
            holder: a.pid()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_process_has_at_most_one_name() {
    let a = idle(false);
    registry::register("reg_first", a.pid()).unwrap();
    let err = registry::register("reg_second", a.pid()).unwrap_err();
    assert!(matches!(err, RegisterError::AlreadyNamed { pid, .. } if pid == a.pid()));
}

#[tokio::test(start_paused = true)]
async fn registering_a_dead_process_is_noproc() {
    let a = idle(false);
    kill_and_wait(a.pid()).await;
    let err = registry::register("reg_dead", a.pid()).unwrap_err();
    assert!(matches!(err, RegisterError::NoProc(e) if e.pid() == a.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_name_is_released_when_its_process_exits_and_can_be_taken_again() {
    let a = idle(false);
    registry::register("reg_released", a.pid()).unwrap();
    kill_and_wait(a.pid()).await;
    assert_eq!(registry::whereis("reg_released"), None);
    let b = idle(false);
    registry::register("reg_released", b.pid()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn unregister_frees_the_name_and_the_process() {
    let a = idle(false);
    registry::register("reg_unreg", a.pid()).unwrap();
    assert_eq!(registry::unregister("reg_unreg"), Some(a.pid()));
    assert_eq!(registry::unregister("reg_unreg"), None);
    assert_eq!(registry::whereis("reg_unreg"), None);
    registry::register("reg_unreg_again", a.pid()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn lookup_gives_a_typed_address_and_checks_the_message_type() {
    let a = idle(false);
    registry::register("reg_typed", a.pid()).unwrap();
    assert_eq!(registry::lookup::<()>("reg_typed").unwrap().pid(), a.pid());
    let err = registry::lookup::<String>("reg_typed").unwrap_err();
    assert!(matches!(err, LookupError::WrongMessageType { pid, .. } if pid == a.pid()));
    assert_eq!(
        registry::lookup::<()>("reg_nobody").unwrap_err(),
        LookupError::NotRegistered("reg_nobody".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_name_follows_a_restart_but_an_old_address_does_not() {
    let first = idle(false);
    registry::register("reg_restart", first.pid()).unwrap();
    kill_and_wait(first.pid()).await;
    let second = idle(false);
    registry::register("reg_restart", second.pid()).unwrap();
    assert!(first.send(()).unwrap_err().is_noproc());
    registry::lookup::<()>("reg_restart")
        .unwrap()
        .send(())
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn builder_name_taken_fails_before_the_body_runs() {
    let a = idle(false);
    registry::register("reg_builder", a.pid()).unwrap();
    let err = Builder::new()
        .name("reg_builder")
        .spawn(|_: Context| async { panic!("must not run") })
        .unwrap_err();
    assert!(matches!(
        err,
        SpawnError::Register(RegisterError::AlreadyRegistered { .. })
    ));
}

// Keyed registries.

#[tokio::test(start_paused = true)]
async fn unique_keys_refuse_a_second_live_holder() {
    let reg: Registry<String, u8> = Registry::start(Keys::Unique).await.unwrap();
    let a = Probe::spawn(false);
    let b = Probe::spawn(false);
    let r = reg.clone();
    a.run(move |_| r.register("k".into(), 1)).await.unwrap();
    let r = reg.clone();
    let err = b.run(move |_| r.register("k".into(), 2)).await.unwrap_err();
    assert_eq!(err, RegistryError::AlreadyRegistered(a.pid()));
    let r = reg.clone();
    let again = a.run(move |_| r.register("k".into(), 3)).await.unwrap_err();
    assert_eq!(again, RegistryError::AlreadyRegistered(a.pid()));
    assert_eq!(reg.lookup(&"k".into()), vec![(a.pid(), 1)]);
}

#[tokio::test(start_paused = true)]
async fn duplicate_keys_gather_every_registration() {
    let reg: Registry<&'static str, u8> = Registry::start(Keys::Duplicate).await.unwrap();
    let a = Probe::spawn(false);
    let b = Probe::spawn(false);
    for (p, v) in [(&a, 1), (&b, 2), (&a, 3)] {
        let r = reg.clone();
        p.run(move |_| r.register("topic", v)).await.unwrap();
    }
    assert_eq!(
        reg.lookup(&"topic"),
        vec![(a.pid(), 1), (b.pid(), 2), (a.pid(), 3)]
    );
    assert_eq!(reg.keys(a.pid()), vec!["topic", "topic"]);
    assert_eq!(reg.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn entries_are_removed_when_their_process_exits() {
    let reg: Registry<&'static str, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let a = Probe::spawn(false);
    let b = Probe::spawn(false);
    for p in [&a, &b] {
        let r = reg.clone();
        p.run(move |_| r.register("topic", ())).await.unwrap();
    }
    kill_and_wait(a.pid()).await;
    assert_eq!(reg.lookup(&"topic"), vec![(b.pid(), ())]);
    assert!(reg.keys(a.pid()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn dispatch_reaches_every_live_subscriber() {
    let reg: Registry<&'static str, u32> = Registry::start(Keys::Duplicate).await.unwrap();
    let mut subs = Vec::new();
    for v in 0..3 {
        let p = Probe::spawn(false);
        let r = reg.clone();
        p.run(move |_| r.register("news", v)).await.unwrap();
        subs.push(p);
    }
    let mut reached = Vec::new();
    reg.dispatch(&"news", |pid, v| reached.push((pid, *v)));
    let expected: Vec<_> = subs.iter().zip(0..).map(|(p, v)| (p.pid(), v)).collect();
    assert_eq!(reached, expected);
}

#[tokio::test(start_paused = true)]
async fn unregister_removes_only_the_callers_entries() {
    let reg: Registry<&'static str, u8> = Registry::start(Keys::Duplicate).await.unwrap();
    let a = Probe::spawn(false);
    let b = Probe::spawn(false);
    for p in [&a, &b] {
        let r = reg.clone();
        p.run(move |_| r.register("topic", 0)).await.unwrap();
    }
    let r = reg.clone();
    a.run(move |_| r.unregister(&"topic")).await;
    assert_eq!(reg.lookup(&"topic"), vec![(b.pid(), 0)]);
}

#[tokio::test(start_paused = true)]
async fn registering_outside_a_process_is_an_error() {
    let reg: Registry<u8, u8> = Registry::start(Keys::Unique).await.unwrap();
    assert_eq!(reg.register(1, 1), Err(RegistryError::NotInProcess));
}

#[tokio::test(start_paused = true)]
async fn a_unique_key_of_a_dead_holder_is_free_at_once() {
    let reg: Registry<&'static str, u8> = Registry::start(Keys::Unique).await.unwrap();
    let a = Probe::spawn(false);
    let r = reg.clone();
    a.run(move |_| r.register("k", 1)).await.unwrap();
    // Dead as soon as the kill was sent, before its cleanup ran.
    process::exit(a.pid(), ExitReason::Kill).unwrap();
    let b = Probe::spawn(false);
    let r = reg.clone();
    b.run(move |_| r.register("k", 2)).await.unwrap();
    assert_eq!(reg.lookup(&"k"), vec![(b.pid(), 2)]);
}

// A registry is a process of its own.

#[tokio::test(start_paused = true)]
async fn a_named_registry_is_reached_by_its_name_from_anywhere() {
    let started: Registry<&'static str, u8> =
        Registry::start_with(Keys::Unique, StartOptions::new().name("reg_by_name"))
            .await
            .unwrap();
    assert_eq!(registry::whereis("reg_by_name"), started.pid());
    let a = Probe::spawn(false);
    a.run(|_| Registry::<&'static str, u8>::named("reg_by_name").register("k", 7))
        .await
        .unwrap();
    assert_eq!(started.lookup(&"k"), vec![(a.pid(), 7)]);
}

#[tokio::test(start_paused = true)]
async fn a_name_with_other_key_types_is_a_typed_error() {
    let _reg: Registry<u8, u8> =
        Registry::start_with(Keys::Unique, StartOptions::new().name("reg_u8"))
            .await
            .unwrap();
    let wrong = Registry::<String, u8>::named("reg_u8");
    let a = Probe::spawn(false);
    let err = a
        .run(move |_| wrong.register("k".into(), 1))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::WrongType { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn registering_links_the_caller_to_the_registry_as_elixir_does() {
    let reg: Registry<&'static str, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let mut trapping = Probe::spawn(true);
    let plain = Probe::spawn(false);
    for p in [&trapping, &plain] {
        let r = reg.clone();
        p.run(move |_| r.register("topic", ())).await.unwrap();
    }
    let owner = reg.pid().unwrap();
    let plain_exit = process::await_exit(plain.pid());
    // The registry traps exits (its registrants are linked to it): only a kill takes it down.
    process::exit(owner, ExitReason::Kill).unwrap();
    assert_eq!(plain_exit.await, ExitReason::Killed);
    match trapping.next().await {
        common::Seen::Exit(exit) => {
            assert_eq!((exit.from, exit.reason), (owner, ExitReason::Killed))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_registry_that_exited_is_empty_and_refuses_registrations() {
    let reg: Registry<&'static str, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let a = Probe::spawn(true);
    let r = reg.clone();
    a.run(move |_| r.register("topic", ())).await.unwrap();
    kill_and_wait(reg.pid().unwrap()).await;
    assert!(reg.lookup(&"topic").is_empty());
    let r = reg.clone();
    let err = a.run(move |_| r.register("topic", ())).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotRunning(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_supervised_registry_restarts_empty_under_its_name() {
    let sup = Supervisor::start(
        SupervisorFlags::new(supervisor::Strategy::OneForOne),
        vec![Registry::<&'static str, ()>::child_spec(Keys::Unique).name("reg_supervised")],
    )
    .await
    .unwrap();
    let reg = Registry::<&'static str, ()>::named("reg_supervised");
    let a = Probe::spawn(true);
    let r = reg.clone();
    a.run(move |_| r.register("k", ())).await.unwrap();
    let first = reg.pid().unwrap();
    kill_and_wait(first).await;
    // The supervisor restarts it at once; the named handle reaches the new one, empty.
    let _ = sup.count_children().await.unwrap();
    let second = reg.pid().unwrap();
    assert_ne!(first, second);
    assert!(reg.lookup(&"k").is_empty());
    let r = reg.clone();
    a.run(move |_| r.register("k", ())).await.unwrap();
    assert_eq!(reg.lookup(&"k"), vec![(a.pid(), ())]);
}

#[tokio::test(start_paused = true)]
async fn unregistering_the_last_key_unlinks_from_the_registry() {
    let reg: Registry<&'static str, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let a = Probe::spawn(false);
    let r = reg.clone();
    a.run(move |_| r.register("topic", ())).await.unwrap();
    let owner = reg.pid().unwrap();
    assert!(process::process_info(a.pid())
        .unwrap()
        .links
        .contains(&owner));
    let r = reg.clone();
    a.run(move |_| r.unregister(&"topic")).await;
    assert!(!process::process_info(a.pid())
        .unwrap()
        .links
        .contains(&owner));
    // The registry's end no longer reaches it.
    kill_and_wait(owner).await;
    assert!(process::is_alive(a.pid()));
}
