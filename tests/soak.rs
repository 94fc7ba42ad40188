//! Leak soak: many spawn → link → monitor → name → exit cycles, supervisor restarts and call
//! timeouts must leave every table and the heap where they started.
//!
//! This file has its own binary, so its counting allocator sees only this test's work.
//! `FERROTP_SOAK_CYCLES` scales it (default 250,000 process cycles, about 25 s in a debug build,
//! and a tenth as many restarts and call timeouts); CI runs it again at the full size,
//! 1,000,000. CI also runs a small variant under valgrind (`FERROTP_SOAK_UNDER_VALGRIND=1`
//! skips the RSS check there), which must report 0 bytes definitely lost.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use common::kid::{kid, Kid};
use common::server::{Call, Log, Setup, Srv};
use ferrotp::prelude::*;
use ferrotp::supervisor::{ChildPid, Strategy, Supervisor, SupervisorFlags};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: delegates to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Debug, PartialEq)]
struct Tables {
    processes: usize,
    names: usize,
    timers: usize,
}

fn tables() -> Tables {
    Tables {
        processes: process::count(),
        names: registry::registered().len(),
        timers: timer::active_timers(),
    }
}

/// Give freed memory back to the OS before reading RSS. glibc keeps freed pages mapped after
/// churn (1,000,000 cycles left 14 MB resident with a flat live heap); trimming makes the RSS
/// figure measure what is still in use, which is what a leak check is about.
fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's `malloc_trim` only releases free memory at the top of the heaps and
        // takes no pointers from us.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Resident set size in bytes (Linux; 0 elsewhere, which skips the RSS check).
fn rss_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn cycles() -> u64 {
    std::env::var("FERROTP_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000)
}

/// One process life: linked to and monitored by `watcher`, named, registered in `topics`,
/// sent a message, exiting normally or by panic.
async fn one_life(watcher: &common::Probe, topics: &Registry<u64, ()>, i: u64) {
    let topics = topics.clone();
    let child = process::spawn(move |mut ctx: Context<u64>| async move {
        ctx.register(format!("soak-{i}"))?;
        topics.register(i % 16, ()).unwrap();
        if let Message::User(n) = ctx.recv().await {
            assert!(n % 2 == 0, "odd lives end in a panic");
        }
        Ok(())
    });
    let pid = child.pid();
    let exited = process::await_exit(pid);
    watcher
        .run(move |ctx| {
            let _ = ctx.link(pid);
            ctx.monitor(pid);
        })
        .await;
    let _ = timer::send_after(&child, i, Duration::from_millis(1));
    exited.await;
}

/// `count` crashes of a supervised child, each restarted.
async fn supervised_crashes(log: &Log, count: u64) {
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne)
            .max_restarts(u32::MAX)
            .max_seconds(1),
        vec![kid("k", log)],
    )
    .await
    .unwrap();
    for _ in 0..count {
        let ChildPid::Running(pid) = sup.which_children().await.unwrap()[0].pid else {
            panic!("child down")
        };
        let gone = process::await_exit(pid);
        Server::<Kid>::from_pid(pid)
            .unwrap()
            .cast(ExitReason::error("soak"));
        gone.await;
        // The log is the test's, not the runtime's: kept from growing, so that what the heap
        // and RSS checks see is the runtime.
        log.clear();
    }
    sup.stop(ExitReason::Shutdown).await.unwrap();
}

async fn soak() {
    let n = cycles();
    let log = Log::default();
    let topics: Registry<u64, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let mut watcher = common::Probe::spawn(true);

    // Warm up every path so lazily created structures exist before the baseline, and the
    // runtime's table of recent exit reasons (1,024 slots) is full.
    for i in 0..2_000 {
        one_life(&watcher, &topics, i).await;
    }
    while watcher.try_next().is_some() {}
    // And the runtime's crash log (its last 1,000 crashes and restarts: two per crash) is full,
    // so that what it keeps is in the baseline; from here it only replaces entries.
    supervised_crashes(&log, 600).await;
    let baseline_tables = tables();
    let baseline_bytes = LIVE.load(Ordering::Relaxed);
    trim_allocator();
    let baseline_rss = rss_bytes();

    for i in 0..n {
        one_life(&watcher, &topics, i).await;
        // Drain the Exit and Down each life leaves the watcher.
        while watcher.try_next().is_some() {}
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    while watcher.try_next().is_some() {}
    assert_eq!(tables(), baseline_tables, "after process cycles");
    assert_eq!(topics.count(), 0);
    println!(
        "live bytes after {n} process cycles: {:+}",
        LIVE.load(Ordering::Relaxed) - baseline_bytes
    );

    // Supervisor restarts.
    supervised_crashes(&log, n / 10).await;
    println!(
        "live bytes after {} restarts: {:+}",
        n / 10,
        LIVE.load(Ordering::Relaxed) - baseline_bytes
    );
    trim_allocator();
    println!("RSS after the restarts: {:+}", rss_bytes() - baseline_rss);

    // Call timeouts against a slow server, which replies late to each caller that gave up.
    // Each call waits for the previous one to be served: a backlog growing with `n` would
    // measure how glibc's heap fragments under a queue of 75,000 requests, not what calls
    // leave behind.
    let srv = Srv::start(Setup::new(&log)).await.unwrap();
    for _ in 0..n / 10 {
        let r = srv
            .call_timeout(
                |r| Call::Slow(Duration::from_millis(20), 0, r),
                Duration::from_millis(5),
            )
            .await;
        assert!(r.unwrap_err().is_timeout());
        tokio::time::sleep(Duration::from_millis(15)).await;
        log.clear();
    }
    srv.stop(ExitReason::Normal, None).await.unwrap();

    tokio::time::sleep(Duration::from_secs(1)).await;
    while watcher.try_next().is_some() {}
    assert_eq!(
        tables(),
        baseline_tables,
        "after restarts and call timeouts"
    );
    log.release();
    let grown = LIVE.load(Ordering::Relaxed) - baseline_bytes;
    println!("live bytes after the soak: {grown:+} against the warmed-up baseline");
    assert!(
        grown.abs() < 16 * 1024,
        "live heap grew by {grown} bytes over {n} cycles"
    );
    // Under valgrind the RSS is valgrind's; the leak check there is its own.
    if std::env::var_os("FERROTP_SOAK_UNDER_VALGRIND").is_none() {
        trim_allocator();
        let rss_grown = rss_bytes() - baseline_rss;
        println!("RSS after the soak: {rss_grown:+} bytes against the warmed-up baseline");
        assert!(
            rss_grown < 2 * 1024 * 1024,
            "RSS grew by {rss_grown} bytes over {n} cycles"
        );
    }
}

#[test]
fn a_long_run_leaves_no_process_name_timer_or_heap_behind() {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(soak());
}
