//! Chaos on tokio's paused clock: a seeded monkey kills workers across a supervision tree while
//! clients make calls; nothing acknowledged may be lost and the tree must heal completely.
//!
//! Deterministic: one thread, virtual time, seed from `FERROTP_CHAOS_SEED` (printed on
//! failure). `FERROTP_CHAOS_SECS` sets the (virtual) duration, 60 s by default.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ferrotp::gen_server::{CallError, StartOptions};
use ferrotp::supervisor::{
    DynamicSupervisor, DynamicSupervisorFlags, Strategy as RestartStrategy, Supervisor,
    SupervisorFlags,
};
use ferrotp::{gen_server, process, registry, ExitReason};
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

type Ledger = Arc<Mutex<HashSet<u64>>>;

struct Worker {
    ledger: Ledger,
}

#[gen_server]
impl Worker {
    fn init(ledger: Ledger) -> Result<Self, ExitReason> {
        Ok(Worker { ledger })
    }

    /// Records `id` in the ledger (outside the blast radius), then acknowledges it.
    #[call]
    fn record(&self, id: u64) -> u64 {
        self.ledger.lock().insert(id);
        id
    }

    #[cast]
    fn crash(&mut self) {
        panic!("monkey-induced crash");
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn worker_spec(name: &str, ledger: &Ledger) -> ferrotp::supervisor::ChildSpec {
    gen_server::child_spec_with::<Worker>(
        name.to_string(),
        ledger.clone(),
        StartOptions::new().name(name.to_string()),
    )
}

/// Intensity that never gives up under the monkey (the first mode checks healing, not
/// escalation).
fn tolerant(strategy: RestartStrategy) -> SupervisorFlags {
    SupervisorFlags::new(strategy)
        .max_restarts(u32::MAX)
        .max_seconds(1)
}

async fn chaos(seed: u64, secs: u64) {
    let ledger: Ledger = Default::default();
    let all: Vec<String> = ["o", "r", "a"]
        .iter()
        .flat_map(|p| names(p, 4))
        .chain(names("d", 40))
        .collect();
    let subtree = |prefix: &str, strategy| {
        let specs = names(prefix, 4)
            .iter()
            .map(|n| worker_spec(n, &ledger))
            .collect();
        Supervisor::child_spec(format!("sup-{prefix}"), tolerant(strategy), specs)
    };
    let baseline = process::count();
    let root = Supervisor::start(
        tolerant(RestartStrategy::OneForOne),
        vec![
            subtree("o", RestartStrategy::OneForOne),
            subtree("r", RestartStrategy::RestForOne),
            subtree("a", RestartStrategy::OneForAll),
            DynamicSupervisor::child_spec(
                "dyn",
                DynamicSupervisorFlags::new()
                    .max_restarts(u32::MAX)
                    .max_seconds(1),
                (),
            ),
        ],
    )
    .await
    .unwrap();
    let dyn_pid = root
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .find(|c| &*c.id == "dyn")
        .and_then(|c| match c.pid {
            ferrotp::supervisor::ChildPid::Running(p) => Some(p),
            _ => None,
        })
        .unwrap();
    let dynamic: DynamicSupervisor = DynamicSupervisor::from_pid(dyn_pid).unwrap();
    for name in names("d", 40) {
        dynamic
            .start_child(worker_spec(&name, &ledger))
            .await
            .unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(secs);
    let call_timeout = Duration::from_millis(50);

    // Clients: calls with unique ids to random workers, by name.
    let mut clients = Vec::new();
    for c in 0..8u64 {
        let all = all.clone();
        clients.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(seed ^ (c + 1));
            let mut acked = Vec::new();
            let mut failed = 0u64;
            let mut id = c << 48;
            while Instant::now() < deadline {
                id += 1;
                let name = &all[rng.gen_range(0..all.len())];
                let t0 = Instant::now();
                match WorkerClient::named(name.clone())
                    .record_timeout(id, call_timeout)
                    .await
                {
                    Ok(got) => {
                        assert_eq!(got, id);
                        acked.push(id);
                    }
                    Err(e) => {
                        // Every failure comes back within its timeout.
                        assert!(t0.elapsed() <= call_timeout, "{e} after {:?}", t0.elapsed());
                        assert!(
                            matches!(
                                e,
                                CallError::NoProc | CallError::Exit(_) | CallError::Timeout(_)
                            ),
                            "{e:?}"
                        );
                        failed += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(rng.gen_range(0..3))).await;
            }
            (acked, failed)
        }));
    }

    // The monkey: about 100 kills a second, mixing kill, panic and shutdown; never the ledger.
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut kills = 0u64;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let name = &all[rng.gen_range(0..all.len())];
        let Some(pid) = registry::whereis(name) else {
            continue;
        };
        match rng.gen_range(0..3) {
            0 => {
                let _ = process::exit(pid, ExitReason::Kill);
            }
            1 => WorkerClient::named(name.clone()).crash(),
            _ => {
                let _ = process::exit(pid, ExitReason::Shutdown);
            }
        }
        kills += 1;
    }

    let mut acked_total = 0;
    let mut failed_total = 0;
    for c in clients {
        let (acked, failed) = c.await.unwrap();
        let ledger = ledger.lock();
        for id in &acked {
            assert!(
                ledger.contains(id),
                "acknowledged call {id} is missing from the ledger"
            );
        }
        acked_total += acked.len();
        failed_total += failed;
    }

    // The tree is back to its full specification within a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for name in &all {
        let client = WorkerClient::named(name.clone());
        assert!(
            client.record(u64::MAX).await.is_ok(),
            "{name} did not come back"
        );
    }
    assert_eq!(root.count_children().await.unwrap().active, 4);
    assert_eq!(dynamic.count_children().await.unwrap().active, 40);
    println!(
        "seed {seed}: {kills} kills, {acked_total} acknowledged calls, {failed_total} failed calls"
    );
    assert!(kills >= secs * 90, "the monkey ran");
    assert!(
        acked_total > 0 && failed_total > 0,
        "load and chaos both happened"
    );

    root.stop(ExitReason::Shutdown).await.unwrap();
    assert_eq!(
        process::count(),
        baseline,
        "every process of the tree is gone"
    );
}

#[test]
fn a_monkey_loses_no_acknowledged_call_and_the_tree_heals() {
    let seed = std::env::var("FERROTP_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let secs = std::env::var("FERROTP_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(chaos(seed, secs))
    }));
    if let Err(panic) = outcome {
        eprintln!("chaos failed with FERROTP_CHAOS_SEED={seed}");
        std::panic::resume_unwind(panic);
    }
}

/// Killing each supervisor's children up to intensity − 1 per window never escalates.
async fn below_intensity(seed: u64, secs: u64) {
    let ledger: Ledger = Default::default();
    let kids = names("k", 4);
    let specs = kids.iter().map(|n| worker_spec(n, &ledger)).collect();
    // Elixir's default: 3 restarts in 5 s.
    let sup = Supervisor::start(SupervisorFlags::new(RestartStrategy::OneForAll), specs)
        .await
        .unwrap();
    let sup_pid = sup.pid().unwrap();
    let mut rng = SmallRng::seed_from_u64(seed);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut kills = 0;
    while Instant::now() < deadline {
        // Two kills (intensity − 1), then a window of quiet longer than the period.
        for _ in 0..2 {
            let name = &kids[rng.gen_range(0..kids.len())];
            if let Some(pid) = registry::whereis(name) {
                let exited = process::await_exit(pid);
                let _ = process::exit(pid, ExitReason::Kill);
                exited.await;
                kills += 1;
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(1..500))).await;
        }
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert!(process::is_alive(sup_pid), "escalated after {kills} kills");
    }
    assert_eq!(sup.pid(), Some(sup_pid));
    assert_eq!(sup.count_children().await.unwrap().active, 4);
    sup.stop(ExitReason::Shutdown).await.unwrap();
}

#[test]
fn kills_below_the_intensity_never_escalate() {
    let seed = std::env::var("FERROTP_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d);
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(below_intensity(seed, 120));
}
