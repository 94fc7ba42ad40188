//! How long a snapshot takes, as the page gets it: 10,000 processes (one root supervisor over
//! 100 supervisors of 100 workers, each worker a parked process), built by the observer's
//! `/api/snapshot` (the runtime's rows, the tree, sorting, paging, JSON), and the runtime's
//! `observe::snapshot` alone. The page's default view lists the root's children (the 100
//! supervisors, collapsed); the worst case opens every supervisor (10,000 children listed).
//! Median and range of 21 snapshots each.
//!
//! `cargo bench -p ferrotp-observer --bench snapshot` (`FERROTP_BENCH_PROCESSES=N` to change
//! the size).

use std::time::{Duration, Instant};

use ferrotp_observer::Observer;
use ferrotp_runtime::observe;
use ferrotp_runtime::supervisor::{ChildSpec, Started, Strategy, Supervisor, SupervisorFlags};
use ferrotp_runtime::{Context, ExitReason};

#[path = "../tests/client/mod.rs"]
mod client;

const RUNS: usize = 21;

fn parked(id: String) -> ChildSpec {
    ChildSpec::worker(id, |opts| async move {
        let a = opts
            .builder()
            .spawn(|mut ctx: Context<u32>| async move {
                loop {
                    ctx.recv().await;
                }
            })
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(a.pid()))
    })
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[0]), ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("FERROTP_BENCH_PROCESSES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let per_sup = 100;
    let subs: Vec<ChildSpec> = (0..n.div_ceil(per_sup))
        .map(|s| {
            let children = (0..per_sup.min(n - s * per_sup))
                .map(|c| parked(format!("w{s}-{c}")))
                .collect();
            Supervisor::child_spec(SupervisorFlags::new(Strategy::OneForOne), children)
                .id(format!("group-{s}"))
        })
        .collect();
    let groups = subs.len();
    let root = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), subs)
        .await
        .unwrap();
    let all_open: Vec<String> = observe::supervisors()
        .into_iter()
        .map(|p| p.serial().to_string())
        .collect();
    let all_open = format!("&open={}", all_open.join(","));
    let observer = Observer::builder().start().await.unwrap();
    let total = observe::snapshot().len();
    let cookie = client::login(&observer).await;

    let mut runtime_only = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        std::hint::black_box(observe::snapshot());
        runtime_only.push(t.elapsed());
    }
    let measure = |query: String| {
        let observer = &observer;
        let cookie = &cookie;
        async move {
            let mut built = Vec::new();
            let mut round_trip = Vec::new();
            let mut bytes = 0;
            for _ in 0..RUNS {
                let t = Instant::now();
                let path = format!("/api/snapshot?sort=mailbox&dir=desc{query}");
                let body = client::http(observer, &client::get_with(observer, &path, cookie))
                    .await
                    .2;
                round_trip.push(t.elapsed());
                bytes = body.len();
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                built.push(Duration::from_micros(v["built_us"].as_u64().unwrap()));
            }
            (built, round_trip, bytes)
        }
    };
    let (built, round_trip, bytes) = measure(String::new()).await;
    let (built_open, round_trip_open, bytes_open) = measure(all_open).await;
    println!(
        "\nobserver snapshot, {total} processes (1 root, {groups} supervisors under it), {RUNS} runs\n"
    );
    println!("| what | min | median | max | target |\n|---|---:|---:|---:|---|");
    for (what, v, target) in [
        (
            "`observe::snapshot()` (the runtime's rows)".to_string(),
            runtime_only,
            "",
        ),
        (
            format!("`/api/snapshot` built, default view ({} KiB)", bytes / 1024),
            built,
            "≤ 20 ms",
        ),
        (
            "`/api/snapshot` over HTTP, default view".to_string(),
            round_trip,
            "",
        ),
        (
            format!(
                "`/api/snapshot` built, every supervisor open ({} KiB)",
                bytes_open / 1024
            ),
            built_open,
            "",
        ),
        (
            "`/api/snapshot` over HTTP, every supervisor open".to_string(),
            round_trip_open,
            "",
        ),
    ] {
        let (min, med, max) = stats(v);
        println!("| {what} | {min:.1} ms | {med:.1} ms | {max:.1} ms | {target} |");
    }
    drop(root);
    observer.shutdown().await;
}
