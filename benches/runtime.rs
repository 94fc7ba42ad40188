//! ferrotp beside plain tokio, doing the same work in the same run.
//!
//! `cargo bench --bench runtime` measures with criterion, then prints one table: each row is a
//! scenario, with plain tokio (tasks + `tokio::sync::mpsc`) and ferrotp side by side and their
//! ratio. Idle memory is measured in a fresh child process per side (RSS delta over 100,000
//! idle processes), so one side's freed pages cannot flatter the other.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::Criterion;
use ferrotp::prelude::*;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

const BATCH: u64 = 1_000;
const RING: usize = 1_000;
const IDLE: usize = 100_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Run `iters` operations in batches of `BATCH`, timing only the batches.
fn batched(rt: &Runtime, iters: u64, batch: impl Fn(u64) -> Duration) -> Duration {
    let _guard = rt.enter();
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        total += batch(n);
        left -= n;
    }
    total
}

// Spawn a process, send it one message, let it exit.

async fn spawn_tokio(n: u64) -> Duration {
    let start = Instant::now();
    let mut done = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        done.push(tokio::spawn(async move { rx.recv().await }));
        tx.send(1).unwrap();
    }
    for d in done {
        d.await.unwrap();
    }
    start.elapsed()
}

async fn spawn_ferrotp(n: u64) -> Duration {
    let start = Instant::now();
    let mut done = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tx, rx) = oneshot::channel();
        let addr = process::spawn::<u64, _, _>(move |mut ctx| async move {
            let _ = tx.send(ctx.recv().await.into_user());
            Ok(())
        });
        addr.send(1).unwrap();
        done.push(rx);
    }
    for d in done {
        d.await.unwrap();
    }
    start.elapsed()
}

// A token passed around a ring.

async fn ring_tokio(hops: u64) -> Duration {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let mut senders = Vec::with_capacity(RING);
    let mut receivers = Vec::with_capacity(RING);
    for _ in 0..RING {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        senders.push(tx);
        receivers.push(rx);
    }
    for (i, mut rx) in receivers.into_iter().enumerate() {
        let next = senders[(i + 1) % RING].clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            while let Some(left) = rx.recv().await {
                if left == 0 {
                    let _ = done.send(());
                } else {
                    let _ = next.send(left - 1);
                }
            }
        });
    }
    let start = Instant::now();
    senders[0].send(hops).unwrap();
    done_rx.recv().await.unwrap();
    start.elapsed()
}

async fn ring_ferrotp(hops: u64) -> Duration {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let (first_tx, first_rx) = oneshot::channel::<Addr<u64>>();
    // Spawn the ring back to front so each process knows its successor.
    let mut next: Option<Addr<u64>> = None;
    let mut first_rx = Some(first_rx);
    let mut addrs = Vec::with_capacity(RING);
    for i in (0..RING).rev() {
        let done = done_tx.clone();
        let succ = next.take();
        let close = if i == RING - 1 { first_rx.take() } else { None };
        let addr = process::spawn::<u64, _, _>(move |mut ctx| async move {
            let succ = match (succ, close) {
                (Some(s), _) => s,
                (None, Some(rx)) => rx.await.unwrap(),
                (None, None) => unreachable!(),
            };
            while let Message::User(left) = ctx.recv().await {
                if left == 0 {
                    let _ = done.send(());
                } else {
                    let _ = succ.send(left - 1);
                }
            }
            Ok(())
        });
        next = Some(addr.clone());
        addrs.push(addr);
    }
    let first = next.unwrap();
    first_tx.send(first.clone()).unwrap();
    let start = Instant::now();
    first.send(hops).unwrap();
    done_rx.recv().await.unwrap();
    let elapsed = start.elapsed();
    for a in addrs {
        let _ = process::exit(a.pid(), ExitReason::Kill);
    }
    elapsed
}

// Sequential request/reply against one server.

struct Echo;

impl ferrotp::gen_server::GenServer for Echo {
    type Args = ();
    type Call = u64;
    type Reply = u64;
    type Cast = ();
    type Info = ();
    type Continue = ();

    async fn init(
        _: (),
        _: &mut ferrotp::gen_server::ServerContext<Self>,
    ) -> ferrotp::gen_server::Init<Self> {
        ferrotp::gen_server::Init::ok(Echo)
    }

    async fn handle_call(
        &mut self,
        n: u64,
        from: ferrotp::gen_server::ReplyTo<u64>,
        _: &mut ferrotp::gen_server::ServerContext<Self>,
    ) -> ferrotp::gen_server::CallResult<Self> {
        ferrotp::gen_server::CallResult::reply(from, n + 1)
    }
}

/// The same server declared with `#[gen_server]`.
struct MacroEcho;

#[ferrotp::gen_server]
impl MacroEcho {
    fn init() -> Result<Self, ExitReason> {
        Ok(MacroEcho)
    }

    #[call]
    fn echo(&self, n: u64) -> u64 {
        n + 1
    }
}

async fn call_macro(client: &MacroEchoClient, n: u64) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        assert_eq!(client.echo(i).await.unwrap(), i + 1);
    }
    start.elapsed()
}

async fn call_tokio(tx: &mpsc::UnboundedSender<(u64, oneshot::Sender<u64>)>, n: u64) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let (rtx, rrx) = oneshot::channel();
        tx.send((i, rtx)).unwrap();
        assert_eq!(rrx.await.unwrap(), i + 1);
    }
    start.elapsed()
}

async fn call_ferrotp(server: &ferrotp::gen_server::Server<Echo>, n: u64) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        assert_eq!(server.call(i).await.unwrap(), i + 1);
    }
    start.elapsed()
}

/// The same calls made by a process (a GenServer calling another, the OTP case).
async fn call_ferrotp_from_process(server: ferrotp::gen_server::Server<Echo>, n: u64) -> Duration {
    let (tx, rx) = oneshot::channel();
    process::spawn::<(), _, _>(move |_| async move {
        let _ = tx.send(call_ferrotp(&server, n).await);
        Ok(())
    });
    rx.await.unwrap()
}

// Restart latency: crash -> the restarted child answers a call.

const RESTARTS: u64 = 10_000;

/// The running worker of the tokio baseline: its request sender and how to abort it.
type Current<R> = std::sync::Arc<
    parking_lot::Mutex<Option<(mpsc::UnboundedSender<R>, tokio::task::AbortHandle)>>,
>;

async fn restart_tokio(cycles: u64) -> Duration {
    type Req = oneshot::Sender<u64>;
    let current: Current<Req> = Default::default();
    // The "supervisor": respawns the worker whenever it ends.
    let slot = current.clone();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        loop {
            let (tx, mut rx) = mpsc::unbounded_channel::<Req>();
            let worker = tokio::spawn(async move {
                while let Some(r) = rx.recv().await {
                    let _ = r.send(1);
                }
            });
            *slot.lock() = Some((tx, worker.abort_handle()));
            let _ = ready_tx.send(());
            let _ = worker.await;
        }
    });
    ready_rx.recv().await;
    let start = Instant::now();
    for _ in 0..cycles {
        let abort = current.lock().as_ref().unwrap().1.clone();
        abort.abort();
        ready_rx.recv().await;
        let tx = current.lock().as_ref().unwrap().0.clone();
        let (rtx, rrx) = oneshot::channel();
        tx.send(rtx).unwrap();
        rrx.await.unwrap();
    }
    start.elapsed()
}

async fn restart_ferrotp(cycles: u64) -> Duration {
    use ferrotp::supervisor::{Strategy, Supervisor, SupervisorFlags};
    let spec = ferrotp::gen_server::child_spec_with::<Echo>(
        "echo",
        (),
        ferrotp::gen_server::StartOptions::new().name("bench_echo"),
    );
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne)
            .max_restarts(u32::MAX)
            .max_seconds(1),
        vec![spec],
    )
    .await
    .unwrap();
    let echo: ferrotp::gen_server::Server<Echo> = ferrotp::gen_server::Server::named("bench_echo");
    let start = Instant::now();
    for _ in 0..cycles {
        let pid = echo.pid().unwrap();
        let _ = process::exit(pid, ExitReason::Kill);
        // Until the restarted incarnation answers under the name.
        loop {
            match echo.call(1).await {
                Ok(_) if echo.pid() != Some(pid) => break,
                _ => tokio::task::yield_now().await,
            }
        }
    }
    let elapsed = start.elapsed();
    sup.stop(ExitReason::Shutdown).await.unwrap();
    elapsed
}

/// Start and then stop a supervisor of `n` GenServer children; (start, shutdown).
async fn supervisor_10k(n: usize) -> (Duration, Duration) {
    use ferrotp::supervisor::{Strategy, Supervisor, SupervisorFlags};
    let specs = (0..n)
        .map(|i| ferrotp::gen_server::child_spec::<Echo>(format!("echo-{i}"), ()))
        .collect();
    let t0 = Instant::now();
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), specs)
        .await
        .unwrap();
    let started = t0.elapsed();
    let t1 = Instant::now();
    sup.stop(ExitReason::Shutdown).await.unwrap();
    (started, t1.elapsed())
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// In a child process: RSS growth per idle task/process, in bytes.
fn idle_memory(side: &str) -> f64 {
    let rt = runtime();
    rt.block_on(async {
        // Warm up allocator arenas and runtime structures.
        let warm: Vec<_> = (0..1000)
            .map(|_| {
                process::spawn::<u8, _, _>(|mut c| async move {
                    c.recv().await;
                    Ok(())
                })
            })
            .collect();
        for a in &warm {
            a.send(0).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before = rss_bytes();
        let mut keep_tokio = Vec::new();
        let mut keep_ferrotp = Vec::new();
        for _ in 0..IDLE {
            if side == "tokio" {
                let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                tokio::spawn(async move { rx.recv().await });
                keep_tokio.push(tx);
            } else {
                keep_ferrotp.push(process::spawn::<u64, _, _>(|mut ctx| async move {
                    ctx.recv().await;
                    Ok(())
                }));
            }
        }
        // Let every task reach its first await.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = rss_bytes();
        (after - before) as f64 / IDLE as f64
    })
}

/// One line of the table: scenario, plain tokio, ferrotp, unit, target.
type Row = (
    &'static str,
    Option<f64>,
    Option<f64>,
    &'static str,
    &'static str,
);

fn median_ns(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    if let Ok(side) = std::env::var("FERROTP_BENCH_IDLE") {
        println!("{}", idle_memory(&side));
        return;
    }
    let quick = std::env::var("FERROTP_BENCH_QUICK").is_ok();
    let out: PathBuf = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion");
    let mut c = Criterion::default()
        .output_directory(&out)
        .sample_size(if quick { 10 } else { 30 })
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if quick { 1 } else { 4 }))
        .configure_from_args();

    let rt = runtime();
    let mut g = c.benchmark_group("spawn_message_exit");
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            batched(&rt, iters, |n| {
                rt.block_on(rt.spawn(spawn_tokio(n))).unwrap()
            })
        })
    });
    g.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| {
            batched(&rt, iters, |n| {
                rt.block_on(rt.spawn(spawn_ferrotp(n))).unwrap()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ring_hop");
    // One iteration is one hop; each sample runs `iters` hops through a fresh ring.
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(ring_tokio(iters.max(RING as u64))) * iters as u32
                / iters.max(RING as u64) as u32
        })
    });
    g.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| {
            rt.block_on(ring_ferrotp(iters.max(RING as u64))) * iters as u32
                / iters.max(RING as u64) as u32
        })
    });
    g.finish();

    let mut g = c.benchmark_group("call");
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    rt.spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n + 1);
        }
    });
    let server = rt
        .block_on(<Echo as ferrotp::gen_server::GenServer>::start(()))
        .unwrap();
    // The caller runs on a worker thread, as a process or task would, not on the bench thread.
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let tx = tx.clone();
            rt.block_on(rt.spawn(async move { call_tokio(&tx, iters).await }))
                .unwrap()
        })
    });
    g.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| {
            let server = server.clone();
            rt.block_on(rt.spawn(async move { call_ferrotp(&server, iters).await }))
                .unwrap()
        })
    });
    let macro_client = rt.block_on(MacroEcho::start()).unwrap();
    g.bench_function("ferrotp_macro", |b| {
        b.iter_custom(|iters| {
            let client = macro_client.clone();
            rt.block_on(rt.spawn(async move { call_macro(&client, iters).await }))
                .unwrap()
        })
    });
    g.bench_function("ferrotp_process", |b| {
        b.iter_custom(|iters| rt.block_on(call_ferrotp_from_process(server.clone(), iters)))
    });
    g.finish();

    // Whole-run figures (no criterion sampling): 10,000 restarts, and a 10,000-child tree.
    let restart_base = rt
        .block_on(rt.spawn(restart_tokio(RESTARTS)))
        .unwrap()
        .as_nanos() as f64
        / RESTARTS as f64;
    let restart_ours = rt
        .block_on(rt.spawn(restart_ferrotp(RESTARTS)))
        .unwrap()
        .as_nanos() as f64
        / RESTARTS as f64;
    let (sup_start, sup_stop) = rt.block_on(rt.spawn(supervisor_10k(10_000))).unwrap();

    let exe = std::env::current_exe().unwrap();
    let idle = |side: &str| -> Option<f64> {
        let out = std::process::Command::new(&exe)
            .env("FERROTP_BENCH_IDLE", side)
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };

    let rows: [Row; 9] = [
        (
            "spawn + 1 message + exit",
            median_ns(&out, "spawn_message_exit", "tokio"),
            median_ns(&out, "spawn_message_exit", "ferrotp"),
            "ns/process",
            "≤ 1.25×",
        ),
        (
            "message hop, ring of 1,000",
            median_ns(&out, "ring_hop", "tokio"),
            median_ns(&out, "ring_hop", "ferrotp"),
            "ns/hop",
            "≤ 1.25×",
        ),
        (
            "GenServer call round trip, caller is a process",
            median_ns(&out, "call", "tokio"),
            median_ns(&out, "call", "ferrotp_process"),
            "ns/call",
            "≤ 1.25×",
        ),
        (
            "GenServer call round trip, caller is a plain task",
            median_ns(&out, "call", "tokio"),
            median_ns(&out, "call", "ferrotp"),
            "ns/call",
            "≤ 1.25×",
        ),
        (
            "call through a #[gen_server] client (vs hand-written, task caller)",
            median_ns(&out, "call", "ferrotp"),
            median_ns(&out, "call", "ferrotp_macro"),
            "ns/call",
            "≤ 1.05×",
        ),
        (
            "restart: crash -> restarted child answers (10,000 cycles)",
            Some(restart_base),
            Some(restart_ours),
            "ns/restart",
            "≤ 10,000 ns",
        ),
        (
            "supervisor start, 10,000 GenServer children",
            None,
            Some(sup_start.as_secs_f64() * 1e3),
            "ms",
            "< 100 ms",
        ),
        (
            "supervisor shutdown, 10,000 GenServer children",
            None,
            Some(sup_stop.as_secs_f64() * 1e3),
            "ms",
            "< 100 ms",
        ),
        (
            "idle memory, 100,000 processes",
            idle("tokio"),
            idle("ferrotp"),
            "bytes/process",
            "≤ 1,000 B",
        ),
    ];
    println!();
    println!("| scenario | plain tokio | ferrotp | unit | ferrotp / tokio | target |");
    println!("|---|---:|---:|---|---:|---|");
    for (name, base, ours, unit, target) in rows {
        let fmt = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.0}"));
        let ratio = match (base, ours) {
            (Some(b), Some(o)) if b > 0.0 => format!("{:.2}×", o / b),
            _ => "–".into(),
        };
        println!(
            "| {name} | {} | {} | {unit} | {ratio} | {target} |",
            fmt(base),
            fmt(ours)
        );
    }
}
