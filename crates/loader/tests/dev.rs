//! Dev mode: a finished library published into a watched directory, or built by cargo,
//! replaces the running code; a library still being written is never loaded.
//!
//! File-system notifications arrive in real time, so these tests run on a real clock; every
//! wait is bounded and ends as soon as the awaited event arrives.

#![cfg(feature = "dev-tooling")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{fixtures, private_dir};
use ferrotp_loader::{
    CargoProject, DevEvent, DevWatcher, LoadError, Loader, LoaderConfig, TrustPolicy, UpgradeError,
};
use ferrotp_runtime::gen_server::StartOptions;
use hot_counter_api::{CounterClient, CounterInterface};

async fn next(w: &mut DevWatcher) -> DevEvent {
    tokio::time::timeout(Duration::from_secs(60), w.next_event())
        .await
        .expect("the watcher reacted within 60 s")
        .expect("the watcher is running")
}

/// Publish `bytes` at `path` the way a build script should: write a temporary file in the
/// same directory, then rename it into place.
fn publish(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn path_of(event: &DevEvent) -> Option<&PathBuf> {
    match event {
        DevEvent::Loaded { path, .. }
        | DevEvent::Upgraded { path, .. }
        | DevEvent::Unchanged { path }
        | DevEvent::Failed { path, .. } => Some(path),
        _ => None,
    }
}

fn watched() -> (PathBuf, Loader) {
    let dir = private_dir(&format!("watched-{}", rand_suffix()));
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
    (dir, loader)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_library_is_loaded_then_hot_swapped_and_unchanged_or_broken_ones_change_nothing(
) {
    let f = fixtures();
    let (dir, loader) = watched();
    let mut watcher = DevWatcher::watch(loader.clone(), &dir).unwrap();
    let lib = dir.join("libcounter.so");
    let v1 = std::fs::read(&f.v1).unwrap();
    let v2 = std::fs::read(&f.v2).unwrap();

    // Written in place, as a linker does: half, then whole. Neither is a finished build, so
    // neither is touched; the first event is about the published copy.
    std::fs::write(&lib, &v1[..v1.len() / 2]).unwrap();
    std::fs::write(&lib, &v1).unwrap();
    publish(&lib, &v1);
    let loaded = next(&mut watcher).await;
    assert!(
        matches!(&loaded, DevEvent::Loaded { module, vsn, .. } if module == "counter" && vsn == "1"),
        "{loaded:?}"
    );
    let c = loader
        .start::<CounterInterface>(3, StartOptions::new())
        .await
        .unwrap();

    publish(&lib, &v2);
    match next(&mut watcher).await {
        DevEvent::Upgraded { report, .. } => assert_eq!(report.to, "2"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.version().await.unwrap(), "2");

    // The same bytes published again (cargo re-linking an unchanged artifact): skipped.
    publish(&lib, &v2);
    match next(&mut watcher).await {
        DevEvent::Unchanged { path } => assert_eq!(path, lib),
        other => panic!("{other:?}"),
    }
    // A broken version next: refused, and the running code stays.
    publish(&lib, &std::fs::read(&f.v3_broken).unwrap());
    match next(&mut watcher).await {
        DevEvent::Failed {
            error: UpgradeError::Migration { to, .. },
            ..
        } => assert_eq!(to, "3"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.get().await.unwrap(), 3);

    // The watcher's own reads never wake it: the next event is the next publication.
    publish(
        &dir.join("libnomodule.so"),
        &std::fs::read(&f.no_module).unwrap(),
    );
    match next(&mut watcher).await {
        DevEvent::Failed {
            path,
            error: UpgradeError::Load(LoadError::MissingSymbol { .. }),
        } => assert_eq!(path, dir.join("libnomodule.so")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_that_never_stops_changing_does_not_starve_the_others() {
    let f = fixtures();
    let (dir, loader) = watched();
    let mut watcher = DevWatcher::watch(loader, &dir).unwrap();
    let busy = dir.join("libbusy.so");
    let (v1, v2) = (std::fs::read(&f.v1).unwrap(), std::fs::read(&f.v2).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, busy) = (stop.clone(), busy.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                publish(&busy, if i % 2 == 0 { &v1 } else { &v2 });
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let other = dir.join("libother.so");
    publish(&other, &std::fs::read(&f.no_module).unwrap());
    let reached = loop {
        let event = next(&mut watcher).await;
        if path_of(&event) == Some(&other) {
            break event;
        }
    };
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(matches!(reached, DevEvent::Failed { .. }), "{reached:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_watched_directory_is_reported_and_stops_the_watcher() {
    let (dir, loader) = watched();
    let mut watcher = DevWatcher::watch(loader, &dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    match next(&mut watcher).await {
        DevEvent::Stopped { reason } => assert!(reason.contains("removed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(watcher.next_event().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cargo_watcher_takes_the_library_cargo_reports_built() {
    fixtures(); // built once already: the watcher's build is quick
    let sources = private_dir(&format!("sources-{}", rand_suffix()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let target = root.join("target");
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&target))).unwrap();
    let project = CargoProject::new(&root)
        .package("hot-counter-v2")
        .watch(&sources)
        .debounce(Duration::from_millis(50));
    let mut watcher = DevWatcher::cargo(loader.clone(), project).unwrap();
    std::fs::write(sources.join("lib.rs"), "// saved\n").unwrap();
    match next(&mut watcher).await {
        DevEvent::Loaded { module, vsn, path } => {
            assert_eq!((module.as_str(), vsn.as_str()), ("counter", "2"));
            assert!(path.starts_with(&target), "{path:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_or_a_fifo_published_as_a_library_is_refused_and_the_watcher_goes_on() {
    let f = fixtures();
    let (dir, loader) = watched();
    // Already there before the watcher starts: it must not block on it.
    let early = dir.join("libearly.so");
    assert!(std::process::Command::new("mkfifo")
        .arg(&early)
        .status()
        .unwrap()
        .success());
    let mut watcher = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking({
            let (loader, dir) = (loader.clone(), dir.clone());
            move || DevWatcher::watch(loader, &dir).unwrap()
        }),
    )
    .await
    .expect("watching a directory with a FIFO in it does not block")
    .unwrap();
    let elsewhere = private_dir(&format!("elsewhere-{}", rand_suffix()));
    let link = elsewhere.join("libzero.so");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    std::fs::rename(&link, dir.join("libzero.so")).unwrap();
    match next(&mut watcher).await {
        DevEvent::Failed {
            error: UpgradeError::Load(LoadError::Symlink { .. }),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    let fifo = elsewhere.join("libfifo.so");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::fs::rename(&fifo, dir.join("libfifo.so")).unwrap();
    match next(&mut watcher).await {
        DevEvent::Failed {
            error: UpgradeError::Load(LoadError::NotARegularFile { .. }),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    publish(&dir.join("libcounter.so"), &std::fs::read(&f.v1).unwrap());
    assert!(matches!(next(&mut watcher).await, DevEvent::Loaded { .. }));
}
