//! Hot modules beside native GenServers and plain tokio, in the same run.
//!
//! `cargo bench --bench hot` builds the counter module (v1, v2) in release mode, then prints a
//! table: the round trip of a call to a hot process against the same call to a native
//! `#[gen_server]` and a plain tokio task, and the latency of upgrading 1 and 10,000 live
//! processes (v1 → v2 and back), with every message sent during the upgrades counted.
//! `FERROTP_BENCH_QUICK=1` runs fewer iterations.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrotp::gen_server::StartOptions;
use ferrotp::hot::{cargo_build, HotClient, Loader, LoaderConfig, TrustPolicy};
use ferrotp::{gen_server, ExitReason};
use hot_counter_api::{CounterClient, CounterInterface};
use tokio::sync::{mpsc, oneshot};

fn quick() -> bool {
    std::env::var_os("FERROTP_BENCH_QUICK").is_some()
}

struct Native {
    count: u64,
}

#[gen_server]
impl Native {
    fn init(count: u64) -> Result<Self, ExitReason> {
        Ok(Native { count })
    }

    #[call]
    fn get(&self) -> u64 {
        self.count
    }
}

fn modules() -> (PathBuf, PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = cargo_build(root, &["hot-counter-v1", "hot-counter-v2"], &["--release"])
        .expect("the counter module builds");
    let dir = root.join("target/hot-bench");
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let find = |stem: &str| {
        let lib = built
            .iter()
            .find(|p| {
                p.file_stem()
                    .is_some_and(|s| s.to_string_lossy().ends_with(stem))
            })
            .unwrap();
        let to = dir.join(lib.file_name().unwrap());
        std::fs::copy(lib, &to).unwrap();
        to
    };
    let (v1, v2) = (find("hot_counter_v1"), find("hot_counter_v2"));
    (dir, v1, v2)
}

/// Median of `runs` timings of `n` sequential calls, in ns per call.
async fn per_call<F, Fut>(runs: usize, n: u64, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..n {
            f().await;
        }
        samples.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

struct Row {
    scenario: String,
    tokio: Option<f64>,
    native: Option<f64>,
    hot: f64,
    unit: &'static str,
    target: &'static str,
}

async fn bench() -> Vec<Row> {
    let (dir, v1, v2) = modules();
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
    loader.load(&v1).await.unwrap();
    let (runs, n) = if quick() { (3, 20_000) } else { (7, 200_000) };
    let mut rows = Vec::new();

    // Call round trips from a plain task.
    let (tx, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<u64>>();
    tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let _ = reply.send(7);
        }
    });
    let tokio_call = per_call(runs, n, || {
        let tx = tx.clone();
        async move {
            let (rtx, rrx) = oneshot::channel();
            tx.send(rtx).unwrap();
            rrx.await.unwrap();
        }
    })
    .await;
    let native = Native::start(7).await.unwrap();
    let native_call = per_call(runs, n, || {
        let native = native.clone();
        async move {
            native.get().await.unwrap();
        }
    })
    .await;
    let hot = loader
        .start::<CounterInterface>(7, StartOptions::new())
        .await
        .unwrap();
    let hot_call = per_call(runs, n, || {
        let hot = hot.clone();
        async move {
            assert_eq!(hot.get().await.unwrap(), 7);
        }
    })
    .await;
    rows.push(Row {
        scenario: "call round trip (task caller)".into(),
        tokio: Some(tokio_call),
        native: Some(native_call),
        hot: hot_call,
        unit: "ns/call",
        target: "hot < 2× native",
    });

    // Upgrades of 1 and 10,000 live processes, with messages flowing.
    for processes in [1usize, 10_000] {
        let loader =
            Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
        loader.load(&v1).await.unwrap();
        let mut clients: Vec<HotClient<CounterInterface>> = Vec::with_capacity(processes);
        for _ in 0..processes {
            clients.push(
                loader
                    .start::<CounterInterface>(0, StartOptions::new())
                    .await
                    .unwrap(),
            );
        }
        let flips = if quick() { 4 } else { 10 };
        let mut up = Vec::new();
        let mut suspended = Vec::new();
        let mut sent = 0u64;
        for flip in 0..flips {
            // A message to every process just before each change: queued while it happens.
            for c in &clients {
                c.seq(flip + 1);
            }
            sent += processes as u64;
            let start = Instant::now();
            let report = if flip % 2 == 0 {
                loader.upgrade(&v2, b"").await.unwrap()
            } else {
                loader.downgrade("counter", b"").await.unwrap()
            };
            up.push(start.elapsed().as_secs_f64() * 1e3);
            suspended.push(report.suspended_for.as_secs_f64() * 1e3);
            assert_eq!(report.processes, processes);
        }
        let mut handled = 0;
        for c in &clients {
            let sequence = c.sequence().await.unwrap();
            assert_eq!(sequence.out_of_order, 0);
            handled += sequence.received;
        }
        assert_eq!(handled, sent, "no message lost across {flips} code changes");
        up.sort_by(|a, b| a.partial_cmp(b).unwrap());
        suspended.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.push(Row {
            scenario: format!(
                "upgrade/downgrade, {processes} live process{} (load + migrate; {handled} of {sent} messages handled)",
                if processes == 1 { "" } else { "es" }
            ),
            tokio: None,
            native: None,
            hot: up[up.len() / 2],
            unit: "ms",
            target: if processes == 1 { "–" } else { "< 100 ms" },
        });
        rows.push(Row {
            scenario: format!("  of which the processes were suspended ({processes})"),
            tokio: None,
            native: None,
            hot: suspended[suspended.len() / 2],
            unit: "ms",
            target: "–",
        });
        for c in &clients {
            let _ = c.stop(ExitReason::Shutdown).await;
        }
    }
    rows
}

/// `FERROTP_BENCH_CALLS=hot:N` or `native:N`: only make N calls of that kind and exit, for
/// counting instructions with callgrind (the difference between N and 0 calls is the cost of
/// N calls, free of the machine's noise).
async fn calls_only(spec: &str) {
    let (kind, n) = spec.split_once(':').expect("kind:N");
    let n: u64 = n.parse().expect("a number of calls");
    let (dir, v1, _) = modules();
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir))).unwrap();
    loader.load(&v1).await.unwrap();
    let native = Native::start(7).await.unwrap();
    let hot = loader
        .start::<CounterInterface>(7, StartOptions::new())
        .await
        .unwrap();
    for _ in 0..n {
        match kind {
            "hot" => {
                hot.get().await.unwrap();
            }
            _ => {
                native.get().await.unwrap();
            }
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("FERROTP_BENCH_CALLS") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(calls_only(&spec));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // On a worker thread, as a process or task of the program would call: `block_on`'s own
    // thread is not one, and every reply to it would cross threads.
    let rows = rt.block_on(async { tokio::spawn(bench()).await.unwrap() });
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into());
    println!("\n| scenario | plain tokio | native GenServer | hot module | unit | hot / native | target |");
    println!("|---|---:|---:|---:|---|---:|---|");
    for r in rows {
        let ratio = r
            .native
            .map(|n| format!("{:.2}×", r.hot / n))
            .unwrap_or_else(|| "–".into());
        let hot = if r.unit == "ms" {
            format!("{:.2}", r.hot)
        } else {
            format!("{:.0}", r.hot)
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            fmt(r.tokio),
            fmt(r.native),
            hot,
            r.unit,
            ratio,
            r.target
        );
    }
}
