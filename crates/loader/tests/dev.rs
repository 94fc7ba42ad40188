//! Dev mode: a library rebuilt into a watched directory replaces the running code.
//!
//! File-system notifications arrive in real time, so this test runs on a real clock; every wait
//! is bounded and ends as soon as the awaited event arrives.

mod common;

use std::time::Duration;

use common::{fixtures, private_dir};
use ferrotp_loader::{
    DevEvent, DevWatcher, LoadError, Loader, LoaderConfig, TrustPolicy, UpgradeError,
};
use ferrotp_runtime::gen_server::StartOptions;
use hot_counter_api::{CounterClient, CounterInterface};

async fn next(w: &mut DevWatcher) -> DevEvent {
    tokio::time::timeout(Duration::from_secs(30), w.next_event())
        .await
        .expect("the watcher reacted within 30 s")
        .expect("the watcher is running")
}

/// The next event that is not a retry of a half-written file.
async fn settled(w: &mut DevWatcher) -> DevEvent {
    loop {
        match next(w).await {
            DevEvent::Retrying { .. } => continue,
            e => return e,
        }
    }
}

/// The next event that changed something (or failed to): one write can be reported in several
/// batches, and the later ones find the content already loaded.
async fn acted(w: &mut DevWatcher) -> DevEvent {
    loop {
        match settled(w).await {
            DevEvent::Unchanged { .. } => continue,
            e => return e,
        }
    }
}

fn write(path: &std::path::Path, bytes: &[u8]) {
    // Written in place, as a linker does, not renamed into place.
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_library_is_loaded_then_hot_swapped_and_unchanged_or_broken_ones_change_nothing()
{
    let f = fixtures();
    let dir = private_dir("watched");
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
    let mut watcher = DevWatcher::watch(loader.clone(), &dir, Duration::from_millis(50)).unwrap();
    let lib = dir.join("libcounter.so");
    let v1 = std::fs::read(&f.v1).unwrap();
    let v2 = std::fs::read(&f.v2).unwrap();

    // Half-written first: the watcher waits for the rest.
    write(&lib, &v1[..v1.len() / 2]);
    match next(&mut watcher).await {
        DevEvent::Retrying {
            error: LoadError::Truncated { .. } | LoadError::NotALibrary { .. },
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    write(&lib, &v1);
    let loaded = acted(&mut watcher).await;
    assert!(
        matches!(&loaded, DevEvent::Loaded { module, vsn, .. } if module == "counter" && vsn == "1"),
        "{loaded:?}"
    );
    let c = loader
        .start::<CounterInterface>(3, StartOptions::new())
        .await
        .unwrap();

    write(&lib, &v2);
    match acted(&mut watcher).await {
        DevEvent::Upgraded { report, .. } => assert_eq!(report.to, "2"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.version().await.unwrap(), "2");

    // The same bytes again (cargo touching the artifact): skipped, not upgraded again.
    write(&lib, &v2);
    match settled(&mut watcher).await {
        DevEvent::Unchanged { path } => assert_eq!(path, lib),
        other => panic!("{other:?}"),
    }
    // A broken version next: refused, and the running code stays.
    write(&lib, &std::fs::read(&f.v3_broken).unwrap());
    match acted(&mut watcher).await {
        DevEvent::Failed {
            error: UpgradeError::Migration { to, .. },
            ..
        } => assert_eq!(to, "3"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.get().await.unwrap(), 3);
}
