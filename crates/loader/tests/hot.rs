//! Hot code upgrades of running processes: state carried, nothing lost, failures rolled back.

mod common;

use std::time::Duration;

use common::{fixtures, install, loader_with_v1, private_dir};
use ferrotp_loader::{
    HotClient, LoadError, Loader, LoaderConfig, ModuleFault, PurgePolicy, TrustPolicy, UpgradeError,
};
use ferrotp_runtime::gen_server::{CallError, StartOptions};
use ferrotp_runtime::supervisor::{Strategy, Supervisor, SupervisorFlags};
use ferrotp_runtime::{process, ExitReason};
use hot_counter_api::{CounterClient, CounterInterface, Sequence};

async fn counter(loader: &Loader, start: u64) -> HotClient<CounterInterface> {
    loader
        .start::<CounterInterface>(start, StartOptions::new())
        .await
        .unwrap()
}

async fn version(c: &HotClient<CounterInterface>) -> String {
    c.version().await.unwrap()
}

async fn count(c: &HotClient<CounterInterface>) -> u64 {
    c.get().await.unwrap()
}

/// The counter module's current and old versions are `current` and `old`.
fn assert_versions(loader: &Loader, current: &str, old: Option<&str>) {
    let status = loader.module("counter").unwrap();
    assert_eq!(
        (status.current.as_str(), status.old.as_deref()),
        (current, old)
    );
}

async fn describe(c: &HotClient<CounterInterface>) -> String {
    c.describe().await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_upgrade_keeps_the_pid_and_migrates_the_state() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 40).await;
    let pid = c.pid().unwrap();
    c.add(2);
    assert_eq!(describe(&c).await, "v1: count 42");

    let report = loader.upgrade(&fixtures().v2, b"").await.unwrap();
    assert_eq!((report.from.as_str(), report.to.as_str()), ("1", "2"));
    assert_eq!(report.processes, 1);

    assert_eq!(c.pid(), Some(pid), "same process");
    assert_eq!(version(&c).await, "2");
    assert_eq!(describe(&c).await, "v2: count 42 after 0 additions");
    c.add(8);
    assert_eq!(describe(&c).await, "v2: count 50 after 1 additions");
    assert_versions(&loader, "2", Some("1"));
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_sequenced_messages_survive_twenty_flips_in_order() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 0).await;
    let sender = {
        let c = c.clone();
        tokio::spawn(async move {
            for seq in 1..=10_000u64 {
                c.seq(seq);
                if seq % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    for flip in 0..20 {
        let report = if flip % 2 == 0 {
            loader.upgrade(&fixtures().v2, b"").await.unwrap()
        } else {
            loader.downgrade("counter", b"").await.unwrap()
        };
        assert_eq!(report.processes, 1);
        tokio::task::yield_now().await;
    }
    sender.await.unwrap();
    assert_eq!(version(&c).await, "1", "an even number of flips ends on v1");
    assert_eq!(
        c.sequence().await.unwrap(),
        Sequence {
            received: 10_000,
            last: 10_000,
            out_of_order: 0
        },
        "none lost, none reordered"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_migration_rolls_back_and_the_old_code_keeps_serving() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 7).await;
    let err = loader
        .upgrade(&fixtures().v3_broken, b"")
        .await
        .unwrap_err();
    match &err {
        UpgradeError::Migration {
            pid,
            from,
            to,
            fault: ModuleFault::Error(msg),
        } => {
            assert_eq!(Some(*pid), c.pid());
            assert_eq!((from.as_str(), to.as_str()), ("1", "3"));
            assert!(msg.contains("deliberately broken"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("rolled back"), "{err}");
    assert_eq!(version(&c).await, "1");
    c.add(1);
    assert_eq!(count(&c).await, 8, "state kept, still serving");
    assert_versions(&loader, "1", None);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_migration_rolls_back() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 3).await;
    let err = loader
        .upgrade(&fixtures().faulty, b"panic")
        .await
        .unwrap_err();
    match err {
        UpgradeError::Migration {
            fault: ModuleFault::Panic { message, location },
            ..
        } => {
            assert_eq!(message, "this migration panics on purpose");
            assert!(location.is_some_and(|l| l.contains("lib.rs")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(version(&c).await, "1");
    assert_eq!(count(&c).await, 3);
}

#[test]
fn a_hanging_migration_times_out_rolls_back_and_does_not_hold_up_the_runtimes_exit() {
    let timeout = Duration::from_millis(300);
    let (done, finished) = std::sync::mpsc::channel();
    // The runtime lives on a thread of its own so that the test can tell whether dropping it
    // returns while the abandoned migration thread still sleeps.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let f = fixtures();
            let loader = Loader::new(
                LoaderConfig::new(TrustPolicy::default().allow_dir(&f.dir))
                    .migration_timeout(timeout),
            )
            .unwrap();
            loader.load(&f.v1).await.unwrap();
            let c = counter(&loader, 1).await;
            match loader.upgrade(&f.faulty, b"hang").await {
                Err(UpgradeError::Migration {
                    fault: ModuleFault::Timeout(t),
                    ..
                }) => assert_eq!(t, timeout),
                other => panic!("{other:?}"),
            }
            c.add(1);
            assert_eq!(count(&c).await, 2, "rolled back and serving");
            assert_eq!(version(&c).await, "1");
        });
        drop(rt);
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the runtime dropped without waiting for the abandoned migration");
}

#[tokio::test(start_paused = true)]
async fn every_rejected_library_is_refused_before_any_process_is_suspended() {
    let f = fixtures();
    let loader = loader_with_v1().await;
    let c = counter(&loader, 5).await;

    let refused = |r: Result<_, UpgradeError>| match r {
        Err(UpgradeError::Load(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(matches!(
        refused(loader.upgrade(&f.wrong_contract, b"").await),
        LoadError::ContractMismatch {
            found: 999,
            expected: ferrotp_abi::CONTRACT_VERSION,
            ..
        }
    ));
    assert!(matches!(
        refused(loader.upgrade(&f.no_module, b"").await),
        LoadError::MissingSymbol { .. }
    ));
    let truncated = refused(loader.upgrade(&f.truncated, b"").await);
    assert!(
        matches!(truncated, LoadError::Truncated { .. }),
        "{truncated:?}"
    );
    assert!(matches!(
        refused(loader.upgrade(&f.not_a_library, b"").await),
        LoadError::NotALibrary { .. }
    ));

    assert!(matches!(
        refused(loader.upgrade_module("accounts", &f.v2, b"").await),
        LoadError::WrongModule { expected, found, .. } if expected == "accounts" && found == "counter"
    ));

    let elsewhere = private_dir("untrusted");
    let outside = install(&f.v2, &elsewhere, "libcounter.so");
    assert!(matches!(
        refused(loader.upgrade(&outside, b"").await),
        LoadError::NotInAllowedDir { .. }
    ));

    let status = loader.module("counter").unwrap();
    assert_eq!(status.suspensions, 0, "no process was ever suspended");
    assert_eq!(version(&c).await, "1");
    assert_eq!(count(&c).await, 5);
}

#[cfg(unix)]
#[tokio::test(start_paused = true)]
async fn trust_refuses_world_writable_files_and_unlisted_digests() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixtures();
    let dir = private_dir("trust");
    let lib = install(&f.v1, &dir, "libcounter.so");
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o777)).unwrap();
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
    assert!(matches!(
        loader.load(&lib).await,
        Err(UpgradeError::Load(LoadError::WorldWritable { .. }))
    ));

    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pinned = Loader::new(LoaderConfig::new(
        TrustPolicy::default()
            .allow_dir(&dir)
            .allow_sha256("00".repeat(32)),
    ))
    .unwrap();
    assert!(matches!(
        pinned.load(&lib).await,
        Err(UpgradeError::Load(LoadError::NotAllowlisted { .. }))
    ));
    let loaded = loader.load(&lib).await.unwrap();
    let allowed = Loader::new(LoaderConfig::new(
        TrustPolicy::default()
            .allow_dir(&dir)
            .allow_sha256(&loaded.sha256),
    ))
    .unwrap();
    assert_eq!(allowed.load(&lib).await.unwrap().vsn, "1");
}

#[tokio::test(start_paused = true)]
async fn a_rebuild_at_the_same_path_loads_the_new_code() {
    let f = fixtures();
    let dir = private_dir("rebuild");
    let path = install(&f.v1, &dir, "libcounter.so");
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
    loader.load(&path).await.unwrap();
    let c = counter(&loader, 1).await;
    // The "rebuild": new content at the very same path.
    install(&f.v2, &dir, "libcounter.so");
    loader.upgrade(&path, b"").await.unwrap();
    assert_eq!(version(&c).await, "2");
}

#[tokio::test(start_paused = true)]
async fn a_downgrade_runs_the_newer_code_to_write_the_old_format() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 10).await;
    loader.upgrade(&fixtures().v2, b"").await.unwrap();
    c.add(5);
    let report = loader.downgrade("counter", b"").await.unwrap();
    assert_eq!((report.from.as_str(), report.to.as_str()), ("2", "1"));
    assert_eq!(version(&c).await, "1");
    assert_eq!(describe(&c).await, "v1: count 15");
    assert_versions(&loader, "1", Some("2"));
}

#[tokio::test(start_paused = true)]
async fn a_downgrade_without_an_old_version_is_refused() {
    let loader = loader_with_v1().await;
    assert!(matches!(
        loader.downgrade("counter", b"").await,
        Err(UpgradeError::NoOldVersion(m)) if m == "counter"
    ));
    assert!(matches!(
        loader.downgrade("nothing", b"").await,
        Err(UpgradeError::UnknownModule(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_start_during_an_upgrade_waits_and_runs_the_new_code() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 0).await;
    let upgrade = {
        let loader = loader.clone();
        tokio::spawn(async move { loader.upgrade(&fixtures().faulty, b"slow").await })
    };
    // Wait for the upgrade to suspend the running process.
    while !c.statistics().await.unwrap().suspended {
        tokio::task::yield_now().await;
    }
    let starting = {
        let loader = loader.clone();
        tokio::spawn(async move { counter(&loader, 100).await })
    };
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !starting.is_finished(),
        "a start waits while the module changes"
    );
    upgrade.await.unwrap().unwrap();
    let started = starting.await.unwrap();
    assert_eq!(version(&started).await, "2-faulty");
    assert_eq!(count(&started).await, 100);
    assert_eq!(version(&c).await, "2-faulty");
}

#[tokio::test(start_paused = true)]
async fn a_second_upgrade_during_one_is_refused() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 0).await;
    let first = {
        let loader = loader.clone();
        tokio::spawn(async move { loader.upgrade(&fixtures().faulty, b"slow").await })
    };
    while !c.statistics().await.unwrap().suspended {
        tokio::task::yield_now().await;
    }
    assert!(matches!(
        loader.upgrade(&fixtures().v2, b"").await,
        Err(UpgradeError::InProgress(m)) if m == "counter"
    ));
    first.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler_crashes_the_process_and_its_supervisor_restarts_it_on_the_current_version(
) {
    let loader = loader_with_v1().await;
    let spec = loader
        .child_spec::<CounterInterface>(1)
        .unwrap()
        .name("hot-counter-sup");
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let c = HotClient::<CounterInterface>::named("hot-counter-sup");
    let first = c.pid().unwrap();

    let exited = process::await_exit(first);
    c.crash();
    match exited.await {
        ExitReason::Panic { message, .. } => assert_eq!(&*message, "counter v1 asked to crash"),
        other => panic!("{other:?}"),
    }
    tokio::task::yield_now().await;
    let second = c.pid().unwrap();
    assert_ne!(first, second, "restarted");
    assert_eq!(count(&c).await, 1, "from its start arguments");

    loader.upgrade(&fixtures().v2, b"").await.unwrap();
    let exited = process::await_exit(second);
    c.crash();
    exited.await;
    tokio::task::yield_now().await;
    assert_eq!(version(&c).await, "2", "restarted on the current version");
    sup.stop(ExitReason::Shutdown).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_call_that_panics_reports_the_panic_to_the_caller() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 0).await;
    // `Crash` is a cast; a call to a process that dies meanwhile reports its exit.
    let pid = c.pid().unwrap();
    c.crash();
    let err = c.get().await.unwrap_err();
    assert!(
        matches!(
            &err,
            ferrotp_loader::HotCallError::Call(CallError::Exit(ExitReason::Panic { .. }))
                | ferrotp_loader::HotCallError::Call(CallError::NoProc)
        ),
        "{err:?}"
    );
    assert!(!process::is_alive(pid));
}

#[tokio::test(start_paused = true)]
async fn a_load_keeps_running_processes_on_their_code_and_a_soft_purge_refuses_a_third() {
    let f = fixtures();
    let loader = loader_with_v1().await;
    let on_v1 = counter(&loader, 1).await;
    let loaded = loader.load(&f.v2).await.unwrap();
    assert_eq!(loaded.vsn, "2");
    let on_v2 = counter(&loader, 2).await;
    assert_eq!(
        version(&on_v1).await,
        "1",
        "running processes keep their code"
    );
    assert_eq!(
        version(&on_v2).await,
        "2",
        "new processes run the current code"
    );
    assert_versions(&loader, "2", Some("1"));

    match loader.load(&f.faulty).await {
        Err(UpgradeError::OldCodeInUse { vsn, processes, .. }) => {
            assert_eq!(vsn, "1");
            assert_eq!(processes, vec![on_v1.pid().unwrap()]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(version(&on_v1).await, "1", "refused: nothing changed");
}

#[tokio::test(start_paused = true)]
async fn a_brutal_purge_kills_processes_still_on_the_old_code() {
    let f = fixtures();
    let loader = Loader::new(
        LoaderConfig::new(TrustPolicy::default().allow_dir(&f.dir)).purge(PurgePolicy::Brutal),
    )
    .unwrap();
    loader.load(&f.v1).await.unwrap();
    let on_v1 = counter(&loader, 1).await;
    let pid = on_v1.pid().unwrap();
    loader.load(&f.v2).await.unwrap();
    loader.load(&f.faulty).await.unwrap();
    assert!(!process::is_alive(pid), "killed with the old code");
    assert_versions(&loader, "2-faulty", Some("2"));
}

#[tokio::test(start_paused = true)]
async fn host_timers_and_spawns_serve_the_module() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 0).await;
    c.add_later(5, 1000);
    assert_eq!(count(&c).await, 0);
    tokio::time::sleep(Duration::from_millis(1001)).await;
    assert_eq!(count(&c).await, 5, "the host's timer delivered the cast");

    c.spawn(77);
    assert_eq!(count(&c).await, 5);
    let status = loader.module("counter").unwrap();
    assert_eq!(status.processes.len(), 2, "a sibling was started");
}

#[test]
fn a_module_library_stays_mapped_and_is_counted() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let loader = loader_with_v1().await;
        assert_eq!(loader.leaked_libraries(), 1);
        loader.upgrade(&fixtures().v2, b"").await.unwrap();
        assert_eq!(loader.leaked_libraries(), 2);
        let _ = loader.upgrade(&fixtures().not_a_library, b"").await;
        assert_eq!(
            loader.leaked_libraries(),
            2,
            "a file that never opened is not counted"
        );
        let _ = loader.upgrade(&fixtures().wrong_contract, b"").await;
        assert_eq!(
            loader.leaked_libraries(),
            3,
            "a library refused after it was mapped stays mapped, and is counted"
        );
    });
}

/// A caller built against another interface under the same module name, with the same wire
/// shape as the counter's first messages: `balance()` would be answered by `get()`, `deposit`
/// would land in `add`.
#[ferrotp_abi::hot_interface(module = "counter", args = u64)]
trait Ledger {
    fn balance(&self) -> u64;
    #[cast]
    fn deposit(&mut self, amount: u64);
}

#[tokio::test(start_paused = true)]
async fn a_client_of_another_interface_is_refused_and_the_process_survives() {
    let loader = loader_with_v1().await;
    let c = loader
        .start::<CounterInterface>(9, StartOptions::new().name("ledger-target"))
        .await
        .unwrap();
    let ledger = HotClient::<LedgerInterface>::named("ledger-target");
    match ledger.balance().await {
        Err(ferrotp_loader::HotCallError::InterfaceMismatch { module, vsn, .. }) => {
            assert_eq!((module.as_str(), vsn.as_str()), ("counter", "1"))
        }
        other => panic!("{other:?}"),
    }
    ledger.deposit(100);
    assert_eq!(
        count(&c).await,
        9,
        "the cast was refused; still serving, state intact"
    );
    assert!(matches!(
        loader
            .start::<LedgerInterface>(1, StartOptions::new())
            .await,
        Err(ferrotp_loader::HotStartError::InterfaceMismatch { .. })
    ));
}

/// The counter's interface as a client built before its last methods were added sees it: the
/// same first methods, in the same order.
#[ferrotp_abi::hot_interface(module = "counter", args = u64)]
trait CounterBefore {
    fn get(&self) -> u64;
    fn describe(&self) -> String;
}

#[tokio::test(start_paused = true)]
async fn a_client_built_before_methods_were_added_still_speaks_to_the_module() {
    let loader = loader_with_v1().await;
    loader
        .start::<CounterInterface>(4, StartOptions::new().name("older-client-target"))
        .await
        .unwrap();
    let older = HotClient::<CounterBeforeInterface>::named("older-client-target");
    assert_eq!(older.get().await.unwrap(), 4);
}
