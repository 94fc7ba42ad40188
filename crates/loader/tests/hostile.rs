//! The loader under hostile and unlucky conditions: another local user racing the trust check
//! or the staging, malformed libraries, module code that never returns, callers that give up.
//! Every promise here is of the form "nothing is hijacked, nothing wedges".

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fixtures, install, loader_with_v1, private_dir};
use ferrotp_loader::{
    HotClient, LoadError, Loader, LoaderConfig, ModuleFault, TrustPolicy, UpgradeError,
};
use ferrotp_runtime::gen_server::StartOptions;
use ferrotp_runtime::supervisor::{Strategy, Supervisor, SupervisorFlags};
use ferrotp_runtime::{process, ExitReason};
use hot_counter_api::{CounterClient, CounterInterface};

/// `add(n)` magic numbers of the faulty fixture (see its docs).
const HANG_EXPORT: u64 = u64::MAX;
const HANG_DROP: u64 = u64::MAX - 1;
const SLOW: u64 = 1 << 62;

fn refused(r: Result<impl std::fmt::Debug, UpgradeError>) -> LoadError {
    match r {
        Err(UpgradeError::Load(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn trusting(dir: &Path) -> Loader {
    Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(dir))).unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn counter(loader: &Loader, start: u64, name: Option<&str>) -> HotClient<CounterInterface> {
    let opts = match name {
        Some(n) => StartOptions::new().name(n),
        None => StartOptions::new(),
    };
    loader.start::<CounterInterface>(start, opts).await.unwrap()
}

// ---- Staging ----------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_staging_directory_planted_by_someone_else_is_never_used() {
    // The name the loader used to stage in: predictable, so anyone could make it first.
    let planted = std::env::temp_dir().join(format!("ferrotp-modules-{}", std::process::id()));
    std::fs::create_dir_all(&planted).unwrap();
    set_mode(&planted, 0o777);
    let loader = loader_with_v1().await;
    counter(&loader, 1, None).await;
    let meta = std::fs::metadata(&planted).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o777, "not taken over");
    assert_eq!(
        std::fs::read_dir(&planted).unwrap().count(),
        0,
        "nothing staged there"
    );
    std::fs::remove_dir_all(&planted).unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn by_default_nothing_is_staged_on_disk() {
    let loader = loader_with_v1().await;
    assert_eq!(loader.staging_dir(), None, "sealed anonymous files instead");
}

#[tokio::test(start_paused = true)]
async fn a_staging_directory_is_private_emptied_as_it_goes_and_removed_with_the_loader() {
    let f = fixtures();
    let parent = private_dir("staging-parent");
    let loader = Loader::new(
        LoaderConfig::new(TrustPolicy::default().allow_dir(&f.dir)).staging_dir(&parent),
    )
    .unwrap();
    let staging = loader.staging_dir().unwrap().to_path_buf();
    assert!(staging.starts_with(&parent));
    let meta = std::fs::symlink_metadata(&staging).unwrap();
    assert!(meta.is_dir());
    assert_eq!(
        meta.permissions().mode() & 0o077,
        0,
        "only the host can enter"
    );
    loader.load(&f.v1).await.unwrap();
    loader.upgrade(&f.v2, b"").await.unwrap();
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "each staged file is removed once mapped"
    );
    drop(loader);
    assert!(!staging.exists(), "removed with the loader");
}

// ---- Trust ------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_symbolic_link_is_never_followed_even_to_a_trusted_file() {
    let f = fixtures();
    let dir = private_dir("links");
    let real = install(&f.v1, &dir, "libreal.so");
    let link = dir.join("liblink.so");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let loader = trusting(&dir);
    assert!(matches!(
        refused(loader.load(&link).await),
        LoadError::Symlink { .. }
    ));
    // Nor a linked directory on the way.
    let sub = private_dir("links-target");
    install(&f.v1, &sub, "libcounter.so");
    std::os::unix::fs::symlink(&sub, dir.join("sub")).unwrap();
    assert!(matches!(
        refused(loader.load(dir.join("sub/libcounter.so")).await),
        LoadError::Symlink { .. }
    ));
    assert_eq!(loader.leaked_libraries(), 0, "nothing was mapped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_flipping_between_a_trusted_file_and_a_link_outside_is_never_read_from_outside() {
    let dir = private_dir("flip");
    let outside = private_dir("flip-outside").join("libevil.so");
    std::fs::write(&outside, b"code from outside the trusted directory").unwrap();
    let trusted_bytes = b"code from inside the trusted directory".to_vec();
    let evil_digest = sha256_hex(&std::fs::read(&outside).unwrap());
    let target = dir.join("libmodule.so");
    std::fs::write(&target, &trusted_bytes).unwrap();
    // Nothing is on the allowlist, so every load ends at the digest check, reporting the
    // digest of the bytes it read: never those of the file outside.
    let loader = Loader::new(LoaderConfig::new(
        TrustPolicy::default()
            .allow_dir(&dir)
            .allow_sha256("00".repeat(32)),
    ))
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, target, outside, dir) =
            (stop.clone(), target.clone(), outside.clone(), dir.clone());
        std::thread::spawn(move || {
            let (file, link) = (dir.join("file.tmp"), dir.join("link.tmp"));
            while !stop.load(Ordering::Relaxed) {
                std::fs::write(&file, &trusted_bytes).unwrap();
                std::fs::rename(&file, &target).unwrap();
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&outside, &link).unwrap();
                std::fs::rename(&link, &target).unwrap();
            }
        })
    };
    let mut read_inside = 0;
    for _ in 0..3000 {
        match refused(loader.load(&target).await) {
            LoadError::NotAllowlisted { sha256, .. } => {
                assert_ne!(
                    sha256, evil_digest,
                    "read the file outside through the link"
                );
                read_inside += 1;
            }
            LoadError::Symlink { .. } | LoadError::Io { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(read_inside > 0, "the trusted file was read at least once");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_fifo_or_a_directory_is_refused_at_once() {
    let dir = private_dir("special");
    let fifo = dir.join("libfifo.so");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let loader = trusting(&dir);
    // Opening a FIFO for reading waits for a writer: the load must not.
    let outcome = tokio::time::timeout(Duration::from_secs(30), loader.load(&fifo))
        .await
        .expect("a FIFO does not block the load");
    assert!(matches!(
        refused(outcome),
        LoadError::NotARegularFile { kind: "a FIFO", .. }
    ));
    std::fs::create_dir(dir.join("libdir.so")).unwrap();
    assert!(matches!(
        refused(loader.load(dir.join("libdir.so")).await),
        LoadError::NotARegularFile {
            kind: "a directory",
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn every_directory_from_the_file_up_to_the_trusted_root_is_checked() {
    let f = fixtures();
    let root = private_dir("nested");
    let deep = root.join("a/b");
    std::fs::create_dir_all(&deep).unwrap();
    set_mode(&root.join("a"), 0o755);
    set_mode(&deep, 0o755);
    let lib = install(&f.v1, &deep, "libcounter.so");
    let loader = trusting(&root);

    set_mode(&root.join("a"), 0o777);
    assert!(matches!(
        refused(loader.load(&lib).await),
        LoadError::WorldWritable { path } if path == root.join("a")
    ));
    set_mode(&root.join("a"), 0o775);
    assert!(matches!(
        refused(loader.load(&lib).await),
        LoadError::GroupWritable { path } if path == root.join("a")
    ));
    let lenient = Loader::new(LoaderConfig::new(
        TrustPolicy::default()
            .allow_dir(&root)
            .allow_group_writable(),
    ))
    .unwrap();
    assert_eq!(lenient.load(&lib).await.unwrap().vsn, "1");
    set_mode(&root.join("a"), 0o755);
    set_mode(&root, 0o777);
    assert!(matches!(
        refused(loader.load(&lib).await),
        LoadError::WorldWritable { path } if path == root
    ));
    set_mode(&root, 0o755);
}

#[tokio::test(start_paused = true)]
async fn a_file_owned_by_another_user_is_refused() {
    if host_uid() != 0 {
        // Only root can make a file belong to someone else; the rule itself is unit-tested
        // in `trust.rs`.
        eprintln!("not root: cannot create a file owned by another user here");
        return;
    }
    let f = fixtures();
    let dir = private_dir("foreign");
    let lib = install(&f.v1, &dir, "libcounter.so");
    std::os::unix::fs::chown(&lib, Some(4242), None).unwrap();
    assert!(matches!(
        refused(trusting(&dir).load(&lib).await),
        LoadError::ForeignOwner { owner: 4242, .. }
    ));
}

/// The user this test runs as: the owner of a file it creates.
fn host_uid() -> u32 {
    let probe = private_dir("whoami").join("probe");
    std::fs::write(&probe, b"").unwrap();
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&probe).unwrap())
}

// ---- Malformed libraries ----------------------------------------------------------------

/// A copy of `v1` with `patch` applied to its bytes, in a fresh trusted directory.
fn patched(name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, Loader) {
    let dir = private_dir(name);
    let mut bytes = std::fs::read(&fixtures().v1).unwrap();
    patch(&mut bytes);
    let path = dir.join("libpatched.so");
    std::fs::write(&path, &bytes).unwrap();
    set_mode(&path, 0o755);
    (path.clone(), trusting(&dir))
}

/// Where in the file the declaration's bytes are.
fn decl_offset(image: &[u8]) -> usize {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(image).unwrap();
    let sym = file
        .dynamic_symbols()
        .find(|s| s.name() == Ok("ferrotp_module_decl"))
        .unwrap();
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let (offset, _) = section.file_range().unwrap();
    (offset + (sym.address() - section.address())) as usize
}

#[tokio::test(start_paused = true)]
async fn a_library_for_another_machine_is_refused_before_it_is_mapped() {
    // e_machine (offset 18): EM_AARCH64 on x86-64, EM_X86_64 elsewhere.
    let other: u16 = if cfg!(target_arch = "x86_64") {
        183
    } else {
        62
    };
    let (path, loader) = patched("arch", |b| b[18..20].copy_from_slice(&other.to_le_bytes()));
    let e = refused(loader.load(&path).await);
    assert!(matches!(e, LoadError::TargetMismatch { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&path.display().to_string()),
        "names the file loaded: {e}"
    );
    assert_eq!(loader.leaked_libraries(), 0, "refused before dlopen");
}

#[tokio::test(start_paused = true)]
async fn a_malformed_declaration_is_a_typed_error_not_a_crash() {
    let word = std::mem::size_of::<usize>();
    let name_len = ferrotp_abi::layout::NAME + ferrotp_abi::layout::SLICE_LEN;
    let (path, loader) = patched("huge-name", |b| {
        let at = decl_offset(b) + name_len;
        b[at..at + word].copy_from_slice(&(1usize << 40).to_ne_bytes());
    });
    let e = refused(loader.load(&path).await);
    assert!(matches!(e, LoadError::BadDeclaration { .. }), "{e:?}");

    let fingerprint_len = ferrotp_abi::layout::INTERFACE + ferrotp_abi::layout::SLICE_LEN;
    let (path, loader) = patched("no-interface", |b| {
        let at = decl_offset(b) + fingerprint_len;
        b[at..at + word].copy_from_slice(&0usize.to_ne_bytes());
    });
    let e = refused(loader.load(&path).await);
    assert!(matches!(e, LoadError::BadDeclaration { .. }), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn a_module_of_another_interface_is_refused_as_an_upgrade() {
    let f = fixtures();
    let loader = loader_with_v1().await;
    let c = counter(&loader, 2, None).await;
    assert!(matches!(
        refused(loader.upgrade(&f.other_interface, b"").await),
        LoadError::InterfaceMismatch { module, .. } if module == "counter"
    ));
    assert!(matches!(
        refused(loader.load(&f.other_interface).await),
        LoadError::InterfaceMismatch { .. }
    ));
    assert_eq!(c.get().await.unwrap(), 2);
    assert_eq!(loader.module("counter").unwrap().suspensions, 0);
}

// ---- Upgrades never wedge ---------------------------------------------------------------

fn real_time_loader(suspend: Duration, migration: Duration) -> Loader {
    Loader::new(
        LoaderConfig::new(TrustPolicy::default().allow_dir(&fixtures().dir))
            .suspend_timeout(suspend)
            .migration_timeout(migration),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_process_busy_past_the_suspend_timeout_is_not_left_suspended() {
    let f = fixtures();
    let loader = real_time_loader(Duration::from_millis(200), Duration::from_secs(5));
    loader.load(&f.faulty).await.unwrap();
    let busy = counter(&loader, 1, None).await;
    let idle = counter(&loader, 2, None).await;
    busy.add(SLOW + 1500);
    match loader.upgrade(&f.v1, b"").await {
        Err(UpgradeError::Suspend { pid, .. }) => assert_eq!(Some(pid), busy.pid()),
        other => panic!("{other:?}"),
    }
    assert_eq!(idle.get().await.unwrap(), 2, "the others were resumed");
    // Once the slow handler is done, the suspend it missed must not take effect.
    assert!(matches!(
        busy.call_timeout(hot_counter_api::CounterCall::Get, Duration::from_secs(30))
            .await,
        Ok(hot_counter_api::CounterReply::Get(1))
    ));
    assert!(!busy.statistics().await.unwrap().suspended);
}

#[tokio::test(start_paused = true)]
async fn a_spawn_during_an_upgrade_does_not_hold_it_up() {
    let f = fixtures();
    let loader = loader_with_v1().await;
    let c = counter(&loader, 1, None).await;
    c.spawn(5);
    let report = loader.upgrade(&f.v2, b"").await.unwrap();
    assert!(report.processes >= 1);
    // The sibling starts, on whatever version is current when it gets past the start gate.
    let mut waited = 0;
    while loader.module("counter").unwrap().processes.len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
        assert!(waited < 1000, "the sibling never started");
    }
    assert_eq!(c.version().await.unwrap(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_export_costs_only_its_own_process_which_its_supervisor_restarts() {
    let f = fixtures();
    let loader = real_time_loader(Duration::from_secs(5), Duration::from_millis(300));
    loader.load(&f.faulty).await.unwrap();
    let specs = ["hang-a", "hang-b"]
        .into_iter()
        .map(|name| {
            loader
                .child_spec::<CounterInterface>(10)
                .unwrap()
                .id(name)
                .name(name)
        })
        .collect();
    let _sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), specs)
        .await
        .unwrap();
    let (a, b) = (
        HotClient::<CounterInterface>::named("hang-a"),
        HotClient::<CounterInterface>::named("hang-b"),
    );
    let a_pid = a.pid().unwrap();
    a.add(HANG_EXPORT);
    let began = Instant::now();
    match loader.upgrade(&f.v1, b"").await {
        Err(UpgradeError::Migration {
            pid,
            fault: ModuleFault::Timeout(_),
            ..
        }) => assert_eq!(pid, a_pid),
        other => panic!("{other:?}"),
    }
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "the upgrade gave up in time"
    );
    assert_eq!(
        b.get().await.unwrap(),
        10,
        "the other process resumed with its state"
    );
    // The process whose state is stuck in the export was stopped and restarted afresh.
    let restarted = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(n) = a.get().await {
                if a.pid() != Some(a_pid) {
                    return n;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("restarted");
    assert_eq!(restarted, 10);
    // The module is not stuck "in progress": the next upgrade runs.
    loader.upgrade(&f.v1, b"").await.unwrap();
    assert_eq!(a.version().await.unwrap(), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_destructor_of_an_old_state_holds_up_nothing() {
    let f = fixtures();
    let loader = real_time_loader(Duration::from_secs(5), Duration::from_secs(5));
    loader.load(&f.faulty).await.unwrap();
    let c = counter(&loader, 3, None).await;
    c.add(HANG_DROP);
    let began = Instant::now();
    loader.upgrade(&f.v1, b"").await.unwrap();
    assert_eq!(c.get().await.unwrap(), 3);
    // The old state's destructor sleeps 10 s on a detached thread.
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "neither the upgrade nor the process waited for it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_whose_caller_stops_waiting_still_finishes_and_resumes_everything() {
    let f = fixtures();
    let loader = real_time_loader(Duration::from_secs(5), Duration::from_secs(5));
    loader.load(&f.v1).await.unwrap();
    let c = counter(&loader, 4, None).await;
    {
        // Dropped once the processes are suspended (the "slow" migration takes 300 ms).
        let upgrade = loader.upgrade(&f.faulty, b"slow");
        tokio::pin!(upgrade);
        let watch = async {
            loop {
                if c.statistics().await.is_ok_and(|s| s.suspended) {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            _ = &mut upgrade => panic!("finished before the processes were seen suspended"),
            _ = watch => {}
        }
    }
    let committed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(v) = c.version().await {
                if v == "2-faulty" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(committed.is_ok(), "the upgrade finished without its caller");
    assert!(!c.statistics().await.unwrap().suspended);
    assert_eq!(c.get().await.unwrap(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_second_downgrade_in_a_row_is_refused() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 1, None).await;
    loader.upgrade(&fixtures().v2, b"").await.unwrap();
    loader.downgrade("counter", b"").await.unwrap();
    assert!(matches!(
        loader.downgrade("counter", b"").await,
        Err(UpgradeError::NotOlder { current, kept, .. }) if current == "1" && kept == "2"
    ));
    assert_eq!(c.version().await.unwrap(), "1");
    assert_eq!(loader.module("counter").unwrap().current, "1");
}

#[tokio::test(start_paused = true)]
async fn a_spawned_sibling_runs_under_the_modules_supervisor_and_its_crash_spares_the_spawner() {
    let loader = loader_with_v1().await;
    let spawner = counter(&loader, 1, None).await;
    let spawner_pid = spawner.pid().unwrap();
    spawner.spawn(7);
    let sibling = loop {
        let procs = loader.module("counter").unwrap().processes;
        if let Some((pid, _)) = procs.iter().find(|(p, _)| *p != spawner_pid) {
            break *pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let info = process::process_info(sibling).unwrap();
    assert!(
        !info.links.contains(&spawner_pid),
        "not linked to the spawner"
    );
    process::exit(sibling, ExitReason::error("the sibling crashed")).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(process::is_alive(spawner_pid), "the spawner lives on");
    assert_eq!(spawner.get().await.unwrap(), 1);
    // Its supervisor restarted the sibling (transient, crashed).
    let procs = loader.module("counter").unwrap().processes;
    assert_eq!(procs.len(), 2, "{procs:?}");
}

#[tokio::test(start_paused = true)]
async fn statistics_report_the_module_version_after_an_upgrade() {
    let loader = loader_with_v1().await;
    let c = counter(&loader, 1, None).await;
    assert_eq!(c.statistics().await.unwrap().vsn, "1");
    loader.upgrade(&fixtures().v2, b"").await.unwrap();
    assert_eq!(c.statistics().await.unwrap().vsn, "2");
}

#[test]
fn loading_does_not_block_the_runtime_it_is_awaited_on() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let f = fixtures();
        let loader = trusting(&f.dir);
        let ran = Arc::new(AtomicBool::new(false));
        let other = {
            let ran = ran.clone();
            tokio::spawn(async move { ran.store(true, Ordering::SeqCst) })
        };
        // On one thread, the other task runs only if the load yields while it reads, hashes
        // and maps the library.
        loader.load(&f.v1).await.unwrap();
        assert!(
            ran.load(Ordering::SeqCst),
            "the load yielded to other tasks"
        );
        other.await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_dies_during_an_upgrade_does_not_hold_it_up() {
    let f = fixtures();
    let loader = real_time_loader(Duration::from_secs(5), Duration::from_secs(1));
    loader.load(&f.faulty).await.unwrap();
    let a = counter(&loader, 1, None).await; // the lower pid: migrated first, and hangs
    let b = counter(&loader, 2, None).await;
    b.add(HANG_DROP); // dropping b's state takes 10 s
    let began = Instant::now();
    let upgrade = {
        let loader = loader.clone();
        let faulty = f.faulty.clone();
        tokio::spawn(async move { loader.upgrade(&faulty, b"hang").await })
    };
    // Once b is suspended, it dies: its state (whose destructor hangs) is handed back to a
    // process that is gone.
    while !b.statistics().await.is_ok_and(|s| s.suspended) {
        tokio::task::yield_now().await;
    }
    process::exit(b.pid().unwrap(), ExitReason::Kill).unwrap();
    assert!(matches!(
        upgrade.await.unwrap(),
        Err(UpgradeError::Migration {
            fault: ModuleFault::Timeout(_),
            ..
        })
    ));
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "the dead process's state was not dropped on the upgrade's path"
    );
    assert_eq!(a.get().await.unwrap(), 1);
    loader.upgrade(&f.v1, b"").await.unwrap();
}

#[test]
fn dropping_the_runtime_during_an_upgrade_does_not_wait_for_it() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let f = fixtures();
            let loader = real_time_loader(Duration::from_secs(5), Duration::from_secs(5));
            loader.load(&f.v1).await.unwrap();
            for i in 0..20 {
                std::mem::forget(counter(&loader, i, None).await);
            }
            // 20 migrations of 300 ms each: 6 s in all.
            let upgrade = {
                let loader = loader.clone();
                let faulty = f.faulty.clone();
                tokio::spawn(async move { loader.upgrade(&faulty, b"slow").await })
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(!upgrade.is_finished());
        });
        let began = Instant::now();
        drop(rt);
        done.send(began.elapsed()).unwrap();
    });
    let took = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the runtime was dropped");
    assert!(
        took < Duration::from_secs(3),
        "Runtime::drop waited {took:?}"
    );
}
