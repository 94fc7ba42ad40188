//! ferrotp beside plain tokio, doing the same work in the same run.
//!
//! `cargo bench --bench runtime` runs every scenario `FERROTP_BENCH_RUNS` times (default 5),
//! alternating which side goes first in each run so that the machine's noise hits both, and
//! prints one table with min / median / max per side and the ratio of the medians. Plain tokio
//! is `tokio::spawn` + `tokio::sync::mpsc` (+ `oneshot` for replies) doing the same work.
//! Idle memory is measured in a fresh child process per side (RSS delta over 100,000 idle
//! processes), so one side's freed pages cannot flatter the other.
//!
//! `FERROTP_BENCH_QUICK=1` runs smaller workloads (a smoke test of the harness).
//! `FERROTP_BENCH_OP=<op>:<n>` performs only `n` operations of one kind on a single-threaded
//! runtime and exits: `benches/instructions.sh` runs it under callgrind to count instructions
//! per operation, which machine noise does not move.

use std::future::Future;
use std::time::{Duration, Instant};

use ferrotp::gen_server::{CallResult, GenServer, Init, ReplyTo, Server, ServerContext};
use ferrotp::observe::{Event, EventKind};
use ferrotp::prelude::*;
use ferrotp::supervisor::{Strategy, Supervisor, SupervisorFlags};
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, mpsc, oneshot};

const RING: usize = 1_000;
const IDLE: usize = 100_000;
const BATCH: usize = 1_000;
/// The request that makes a server panic (the crash-based restart row).
const CRASH: u64 = u64::MAX;

fn quick() -> bool {
    std::env::var_os("FERROTP_BENCH_QUICK").is_some()
}

/// A workload size, smaller in quick mode.
fn size(full: u64) -> u64 {
    if quick() {
        (full / 20).max(100)
    } else {
        full
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Run `f` as a task on a worker thread (as a program's tasks and processes run) and return
/// the nanoseconds per operation it reports.
fn on_worker<F>(rt: &Runtime, f: F) -> f64
where
    F: Future<Output = (Duration, u64)> + Send + 'static,
{
    let (elapsed, ops) = rt.block_on(rt.spawn(f)).unwrap();
    elapsed.as_nanos() as f64 / ops as f64
}

// ---- spawn + 1 message + exit, awaiting each exit -----------------------------------------

async fn spawn_tokio(n: u64) -> (Duration, u64) {
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let batch = left.min(BATCH as u64);
        let mut done = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            done.push(tokio::spawn(async move { rx.recv().await }));
            tx.send(1).unwrap();
        }
        for d in done {
            d.await.unwrap();
        }
        left -= batch;
    }
    (start.elapsed(), n)
}

async fn spawn_ferrotp(n: u64) -> (Duration, u64) {
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let batch = left.min(BATCH as u64);
        let mut done = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let (addr, exited) = process::spawn_joinable(|mut ctx: Context<u64>| async move {
                ctx.recv().await;
                Ok(())
            });
            addr.send(1).unwrap();
            done.push(exited);
        }
        for d in done {
            d.await;
        }
        left -= batch;
    }
    (start.elapsed(), n)
}

// ---- a token passed around a ring -----------------------------------------------------------

async fn ring_tokio(hops: u64) -> (Duration, u64) {
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
    (start.elapsed(), hops)
}

async fn ring_ferrotp(hops: u64) -> (Duration, u64) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let (first_tx, first_rx) = oneshot::channel::<Addr<u64>>();
    // Spawned back to front so each process knows its successor.
    let mut next: Option<Addr<u64>> = None;
    let mut first_rx = Some(first_rx);
    let mut addrs = Vec::with_capacity(RING);
    for i in (0..RING).rev() {
        let done = done_tx.clone();
        let succ = next.take();
        let close = if i == RING - 1 { first_rx.take() } else { None };
        let addr = process::spawn(move |mut ctx: Context<u64>| async move {
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
    (elapsed, hops)
}

// ---- request/reply against one server -------------------------------------------------------

/// Answers `n` with `n + 1`; panics on [`CRASH`].
struct Echo;

impl GenServer for Echo {
    type Args = ();
    type Call = (u64, ReplyTo<u64>);
    type Cast = u64;
    type Info = ();
    type Continue = ();

    async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Echo)
    }

    async fn handle_call(
        &mut self,
        (n, from): (u64, ReplyTo<u64>),
        _: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        if n == CRASH {
            panic!("asked to crash");
        }
        CallResult::reply(from, n + 1)
    }

    async fn handle_cast(
        &mut self,
        _: u64,
        _: &mut ServerContext<Self>,
    ) -> ferrotp::gen_server::HandleResult<Self> {
        ferrotp::gen_server::HandleResult::noreply()
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

type TokioServer = mpsc::UnboundedSender<(u64, oneshot::Sender<u64>)>;

fn tokio_server() -> TokioServer {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    tokio::spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n + 1);
        }
    });
    tx
}

async fn call_tokio(n: u64) -> (Duration, u64) {
    let tx = tokio_server();
    let start = Instant::now();
    for i in 0..n {
        let (rtx, rrx) = oneshot::channel();
        tx.send((i, rtx)).unwrap();
        assert_eq!(rrx.await.unwrap(), i + 1);
    }
    (start.elapsed(), n)
}

async fn calls(server: &Server<Echo>, n: u64) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        assert_eq!(server.call(|r| (i, r)).await.unwrap(), i + 1);
    }
    start.elapsed()
}

async fn call_ferrotp(n: u64) -> (Duration, u64) {
    let server = Echo::start(()).await.unwrap();
    let t = calls(&server, n).await;
    server.stop(ExitReason::Normal, None).await.unwrap();
    (t, n)
}

async fn call_ferrotp_from_process(n: u64) -> (Duration, u64) {
    let server = Echo::start(()).await.unwrap();
    let (tx, rx) = oneshot::channel();
    let caller = server.clone();
    process::spawn(move |_: Context| async move {
        let _ = tx.send(calls(&caller, n).await);
        Ok(())
    });
    let t = rx.await.unwrap();
    server.stop(ExitReason::Normal, None).await.unwrap();
    (t, n)
}

async fn call_macro(n: u64) -> (Duration, u64) {
    let client = MacroEcho::start().await.unwrap();
    let start = Instant::now();
    for i in 0..n {
        assert_eq!(client.echo(i).await.unwrap(), i + 1);
    }
    (start.elapsed(), n)
}

// ---- restarts --------------------------------------------------------------------------------

/// The running worker of the tokio baseline: its request sender and how to abort it.
type Current<R> = std::sync::Arc<
    parking_lot::Mutex<Option<(mpsc::UnboundedSender<R>, tokio::task::AbortHandle)>>,
>;

/// A plain-tokio "supervisor": respawns its worker whenever the worker's task ends (aborted or
/// panicked), and says so on `ready`.
fn tokio_supervisor() -> (
    Current<(u64, oneshot::Sender<u64>)>,
    mpsc::UnboundedReceiver<()>,
) {
    let current: Current<(u64, oneshot::Sender<u64>)> = Default::default();
    let slot = current.clone();
    let (ready_tx, ready_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        loop {
            let (tx, mut rx) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
            let worker = tokio::spawn(async move {
                while let Some((n, r)) = rx.recv().await {
                    if n == CRASH {
                        panic!("asked to crash");
                    }
                    let _ = r.send(n + 1);
                }
            });
            *slot.lock() = Some((tx, worker.abort_handle()));
            let _ = ready_tx.send(());
            let _ = worker.await;
        }
    });
    (current, ready_rx)
}

async fn restart_tokio(cycles: u64, crash: bool) -> (Duration, u64) {
    let (current, mut ready) = tokio_supervisor();
    ready.recv().await;
    let start = Instant::now();
    for _ in 0..cycles {
        let (tx, abort) = current.lock().clone().unwrap();
        if crash {
            // The worker panics inside the request, as the ferrotp child does in a call.
            let (rtx, rrx) = oneshot::channel();
            tx.send((CRASH, rtx)).unwrap();
            assert!(rrx.await.is_err());
        } else {
            abort.abort();
        }
        ready.recv().await;
        let tx = current.lock().as_ref().unwrap().0.clone();
        let (rtx, rrx) = oneshot::channel();
        tx.send((1, rtx)).unwrap();
        rrx.await.unwrap();
    }
    (start.elapsed(), cycles)
}

async fn restart_ferrotp(cycles: u64, crash: bool) -> (Duration, u64) {
    let spec = <Echo as ferrotp::supervisor::Child>::child_spec(())
        .id("echo")
        .name("bench-echo");
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne)
            .max_restarts(u32::MAX)
            .max_seconds(1),
        vec![spec],
    )
    .await
    .unwrap();
    let echo: Server<Echo> = Server::named("bench-echo");
    let sup_pid = sup.pid();
    let mut events = ferrotp::observe::subscribe();
    let start = Instant::now();
    for _ in 0..cycles {
        let pid = echo.pid().unwrap();
        if crash {
            assert!(echo.call(|r| (CRASH, r)).await.is_err());
        } else {
            let _ = process::exit(pid, ExitReason::Kill);
        }
        // Told by the supervisor, as the baseline's client is by its `ready` channel: polling
        // the name instead would measure the client's retry strategy (a `yield_now` per try
        // wakes the other worker), not the restart.
        loop {
            match events.recv().await {
                Ok(Event {
                    kind: EventKind::Restart { supervisor, .. },
                    ..
                }) if Some(supervisor) == sup_pid => break,
                // Events were dropped: the restart may have been among them.
                Err(broadcast::error::RecvError::Lagged(_))
                    if echo.pid().is_some_and(|p| p != pid) =>
                {
                    break
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => unreachable!("the hub lives forever"),
            }
        }
        // The restarted incarnation answers under the name.
        assert_eq!(echo.call(|r| (1, r)).await, Ok(2));
        assert_ne!(echo.pid(), Some(pid));
    }
    let elapsed = start.elapsed();
    sup.stop(ExitReason::Shutdown).await.unwrap();
    (elapsed, cycles)
}

// ---- skynet: 1,000,000 actors in a tree of tens ------------------------------------------------

fn skynet_tokio(num: u64, size: u64) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let child = size / 10;
        for i in 0..10 {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(skynet_tokio(num + i * child, child).await);
            });
        }
        let mut sum = 0;
        for _ in 0..10 {
            sum += rx.recv().await.unwrap();
        }
        sum
    })
}

/// A skynet actor: reports its subtree's sum to `parent`.
fn skynet_process(num: u64, size: u64, parent: Addr<u64>) {
    process::spawn(move |mut ctx: Context<u64>| async move {
        let sum = if size == 1 {
            num
        } else {
            let child = size / 10;
            for i in 0..10 {
                skynet_process(num + i * child, child, ctx.addr());
            }
            let mut sum = 0;
            for _ in 0..10 {
                if let Message::User(part) = ctx.recv().await {
                    sum += part;
                }
            }
            sum
        };
        let _ = parent.send(sum);
        Ok(())
    });
}

fn skynet_size() -> u64 {
    if quick() {
        10_000
    } else {
        1_000_000
    }
}

async fn skynet_tokio_run() -> (Duration, u64) {
    let n = skynet_size();
    let start = Instant::now();
    let sum = skynet_tokio(0, n).await;
    assert_eq!(sum, n * (n - 1) / 2);
    (start.elapsed(), n)
}

async fn skynet_ferrotp_run() -> (Duration, u64) {
    let n = skynet_size();
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    process::spawn(move |mut ctx: Context<u64>| async move {
        skynet_process(0, n, ctx.addr());
        if let Message::User(sum) = ctx.recv().await {
            let _ = tx.send(sum);
        }
        Ok(())
    });
    let sum = rx.await.unwrap();
    assert_eq!(sum, n * (n - 1) / 2);
    (start.elapsed(), n)
}

// ---- one-shot figures -------------------------------------------------------------------------

/// Start and then stop a supervisor of `n` GenServer children; (start, shutdown).
async fn supervisor_tree(n: usize) -> (Duration, Duration) {
    let specs = (0..n)
        .map(|i| <Echo as ferrotp::supervisor::Child>::child_spec(()).id(format!("echo-{i}")))
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

/// `n` processes subscribed under one key of a duplicate registry all die: how long until
/// every entry is gone.
async fn registry_mass_exit(n: usize) -> Duration {
    let topic: Registry<u8, ()> = Registry::start(Keys::Duplicate).await.unwrap();
    let mut subscribers = Vec::with_capacity(n);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    for _ in 0..n {
        let (topic, ready) = (topic.clone(), ready_tx.clone());
        subscribers.push(process::spawn(move |mut ctx: Context| async move {
            topic.register(0, ()).unwrap();
            let _ = ready.send(());
            ctx.recv().await;
            Ok(())
        }));
    }
    for _ in 0..n {
        ready_rx.recv().await;
    }
    assert_eq!(topic.count(), n);
    let start = Instant::now();
    for s in &subscribers {
        let _ = s.send(());
    }
    while topic.count() > 0 {
        tokio::task::yield_now().await;
    }
    start.elapsed()
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

/// In a child process: RSS growth per idle task/process, in bytes. `held`: spawned from a
/// task, the spawner keeping each `Addr`, each process parked in a receive loop, the way
/// programs hold processes; otherwise the minimal body of earlier measurements.
fn idle_memory(side: &str) -> f64 {
    let rt = runtime();
    let held = side.ends_with("held");
    let tokio_side = side.starts_with("tokio");
    rt.block_on(rt.spawn(async move {
        // Warm up allocator arenas and runtime structures.
        let warm: Vec<_> = (0..1000)
            .map(|_| {
                process::spawn(|mut c: Context<u8>| async move {
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
            if tokio_side {
                let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                if held {
                    tokio::spawn(async move { while let Some(_n) = rx.recv().await {} });
                } else {
                    tokio::spawn(async move { rx.recv().await });
                }
                keep_tokio.push(tx);
            } else if held {
                keep_ferrotp.push(process::spawn(|mut ctx: Context<u64>| async move {
                    let mut total = 0u64;
                    while let Message::User(n) = ctx.recv().await {
                        total += n;
                    }
                    let _ = total;
                    Ok(())
                }));
            } else {
                keep_ferrotp.push(process::spawn(|mut ctx: Context<u64>| async move {
                    ctx.recv().await;
                    Ok(())
                }));
            }
        }
        // Let every task reach its first await.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = rss_bytes();
        (after - before) as f64 / IDLE as f64
    }))
    .unwrap()
}

// ---- the instruction-count mode ---------------------------------------------------------------

/// `FERROTP_BENCH_OP=<op>:<n>`: perform `n` operations of one kind, on one thread, and exit.
async fn op_only(spec: &str) {
    let (op, n) = spec.split_once(':').expect("op:n");
    let n: u64 = n.parse().expect("a count");
    match op {
        "call" => drop(call_ferrotp(n).await),
        "call-tokio" => drop(call_tokio(n).await),
        "call-process" => drop(call_ferrotp_from_process(n).await),
        "cast" => {
            let server = Echo::start(()).await.unwrap();
            for i in 0..n {
                server.cast(i);
            }
            server.call(|r| (0, r)).await.unwrap();
        }
        "cast-tokio" => {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let sink =
                tokio::spawn(
                    async move { while rx.recv().await.is_some_and(|v| v != u64::MAX) {} },
                );
            for i in 0..n {
                tx.send(i).unwrap();
            }
            tx.send(u64::MAX).unwrap();
            sink.await.unwrap();
        }
        "hop" => drop(ring_ferrotp(n).await),
        "hop-tokio" => drop(ring_tokio(n).await),
        "spawn" => drop(spawn_ferrotp(n).await),
        "spawn-tokio" => drop(spawn_tokio(n).await),
        "restart" => drop(restart_ferrotp(n, false).await),
        "restart-tokio" => drop(restart_tokio(n, false).await),
        "crash" => drop(restart_ferrotp(n, true).await),
        "skynet" => {
            let (tx, rx) = oneshot::channel();
            process::spawn(move |mut ctx: Context<u64>| async move {
                skynet_process(0, n, ctx.addr());
                if let Message::User(sum) = ctx.recv().await {
                    let _ = tx.send(sum);
                }
                Ok(())
            });
            assert_eq!(rx.await.unwrap(), n * (n - 1) / 2);
        }
        "skynet-tokio" => assert_eq!(skynet_tokio(0, n).await, n * (n - 1) / 2),
        "crash-tokio" => drop(restart_tokio(n, true).await),
        other => panic!("unknown op {other}"),
    }
}

// ---- the table --------------------------------------------------------------------------------

struct Stats {
    min: f64,
    median: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    Stats {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    }
}

fn cell(s: &Option<Stats>) -> String {
    match s {
        Some(s) => format!("{:.0} / {:.0} / {:.0}", s.min, s.median, s.max),
        None => "–".into(),
    }
}

struct Row {
    name: &'static str,
    tokio: Option<Stats>,
    ours: Stats,
    unit: &'static str,
    target: &'static str,
}

/// `FERROTP_BENCH_ONLY=<words>`: run only the rows whose name contains one of the words.
fn selected(name: &str) -> bool {
    match std::env::var("FERROTP_BENCH_ONLY") {
        Ok(words) => words.split(',').any(|w| name.contains(w.trim())),
        Err(_) => true,
    }
}

/// Run both sides `runs` times, alternating which goes first.
fn paired(
    rt: &Runtime,
    runs: usize,
    tokio: impl Fn(&Runtime) -> f64,
    ours: impl Fn(&Runtime) -> f64,
) -> (Stats, Stats) {
    let (mut t, mut o) = (Vec::new(), Vec::new());
    for r in 0..runs {
        if r % 2 == 0 {
            t.push(tokio(rt));
            o.push(ours(rt));
        } else {
            o.push(ours(rt));
            t.push(tokio(rt));
        }
    }
    (stats(t), stats(o))
}

fn main() {
    if let Ok(side) = std::env::var("FERROTP_BENCH_IDLE") {
        println!("{}", idle_memory(&side));
        return;
    }
    // Baseline panics (the crash rows) must not print: both sides' panics stay quiet.
    std::panic::set_hook(Box::new(|_| {}));
    if let Ok(spec) = std::env::var("FERROTP_BENCH_OP") {
        // `FERROTP_BENCH_MT=1`: on the table's two-worker runtime, to profile (`perf`, `strace`)
        // what a row costs across threads; instruction counts use one thread.
        let rt = if std::env::var_os("FERROTP_BENCH_MT").is_some() {
            runtime()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        // In a task, as a program's callers are: `block_on`'s own future is woken differently.
        rt.block_on(rt.spawn(async move { op_only(&spec).await }))
            .unwrap();
        return;
    }
    let runs: usize = std::env::var("FERROTP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let rt = runtime();
    let mut rows = Vec::new();
    let mut row = |name: &'static str, unit, target, measure: &dyn Fn() -> (Stats, Stats)| {
        if !selected(name) {
            return;
        }
        let (t, o) = measure();
        rows.push(Row {
            name,
            tokio: Some(t),
            ours: o,
            unit,
            target,
        })
    };

    let n = size(200_000);
    row(
        "spawn + 1 message + exit, awaiting the exit",
        "ns/process",
        "≤ 1.10×",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, spawn_tokio(n)),
                |rt| on_worker(rt, spawn_ferrotp(n)),
            )
        },
    );
    let hops = size(1_000_000);
    row(
        "message hop, ring of 1,000",
        "ns/hop",
        "≤ 1.0×, max/min ≤ 1.5",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, ring_tokio(hops)),
                |rt| on_worker(rt, ring_ferrotp(hops)),
            )
        },
    );
    let n = size(200_000);
    row(
        "GenServer call round trip, caller is a plain task",
        "ns/call",
        "≤ 1.10×",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, call_tokio(n)),
                |rt| on_worker(rt, call_ferrotp(n)),
            )
        },
    );
    row(
        "GenServer call round trip, caller is a process",
        "ns/call",
        "≤ 1.10×",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, call_tokio(n)),
                |rt| on_worker(rt, call_ferrotp_from_process(n)),
            )
        },
    );
    row(
        "call through a #[gen_server] client (vs hand-written)",
        "ns/call",
        "≤ 1.05×",
        &|| {
            let (hand, ours) = paired(
                &rt,
                runs,
                |rt| on_worker(rt, call_ferrotp(n)),
                |rt| on_worker(rt, call_macro(n)),
            );
            (hand, ours)
        },
    );
    let cycles = size(20_000);
    row(
        "restart: exit(pid, kill) -> restarted child answers",
        "ns/restart",
        "≤ 3,000 ns",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, restart_tokio(cycles, false)),
                |rt| on_worker(rt, restart_ferrotp(cycles, false)),
            )
        },
    );
    row(
        "restart: panic inside a call -> restarted child answers",
        "ns/restart",
        "≤ 1.25×",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, restart_tokio(cycles, true)),
                |rt| on_worker(rt, restart_ferrotp(cycles, true)),
            )
        },
    );
    row(
        if quick() {
            "skynet, 10,000 actors (quick)"
        } else {
            "skynet, 1,000,000 actors"
        },
        "ns/actor",
        "≤ 1.10×",
        &|| {
            paired(
                &rt,
                runs,
                |rt| on_worker(rt, skynet_tokio_run()),
                |rt| on_worker(rt, skynet_ferrotp_run()),
            )
        },
    );

    // Figures with no tokio counterpart, each run `runs` times.
    let mut once = |name: &'static str, unit, target, measure: &dyn Fn() -> Vec<f64>| {
        if !selected(name) {
            return;
        }
        let v = measure();
        rows.push(Row {
            name,
            tokio: None,
            ours: stats(v),
            unit,
            target,
        })
    };
    let tree = size(10_000) as usize;
    let trees = std::cell::OnceCell::new();
    let tree_runs = || -> &Vec<(Duration, Duration)> {
        trees.get_or_init(|| {
            (0..runs)
                .map(|_| rt.block_on(rt.spawn(supervisor_tree(tree))).unwrap())
                .collect()
        })
    };
    once(
        "supervisor start, 10,000 GenServer children",
        "ms",
        "< 100 ms",
        &|| {
            tree_runs()
                .iter()
                .map(|t| t.0.as_secs_f64() * 1e3)
                .collect()
        },
    );
    once(
        "supervisor shutdown, 10,000 GenServer children",
        "ms",
        "< 100 ms",
        &|| {
            tree_runs()
                .iter()
                .map(|t| t.1.as_secs_f64() * 1e3)
                .collect()
        },
    );
    let subs = size(100_000) as usize;
    once(
        "registry: 100,000 subscribers of one key exit, until all entries are gone",
        "ms",
        "O(n log n)",
        &|| {
            (0..runs)
                .map(|_| {
                    rt.block_on(rt.spawn(registry_mass_exit(subs)))
                        .unwrap()
                        .as_secs_f64()
                        * 1e3
                })
                .collect()
        },
    );

    let exe = std::env::current_exe().unwrap();
    let idle = |side: &str| -> Vec<f64> {
        (0..runs.min(3))
            .filter_map(|_| {
                let out = std::process::Command::new(&exe)
                    .env("FERROTP_BENCH_IDLE", side)
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            })
            .collect()
    };
    let held = "idle memory, 100,000 processes held as programs hold them (Addr kept, parked in a receive loop)";
    if selected(held) {
        rows.push(Row {
            name: held,
            tokio: Some(stats(idle("tokio-held"))),
            ours: stats(idle("ferrotp-held")),
            unit: "bytes/process",
            target: "≤ 600 B",
        });
    }
    let minimal = "idle memory, 100,000 processes (minimal body, as measured before)";
    if selected(minimal) {
        rows.push(Row {
            name: minimal,
            tokio: Some(stats(idle("tokio"))),
            ours: stats(idle("ferrotp")),
            unit: "bytes/process",
            target: "–",
        });
    }

    println!();
    println!(
        "{runs} runs per scenario, tokio and ferrotp alternating; each cell is min / median / max."
    );
    println!();
    println!("| scenario | plain tokio | ferrotp | unit | ferrotp / tokio (medians) | target |");
    println!("|---|---:|---:|---|---:|---|");
    for r in rows {
        let ratio = match &r.tokio {
            Some(t) if t.median > 0.0 => format!("{:.2}×", r.ours.median / t.median),
            _ => "–".into(),
        };
        println!(
            "| {} | {} | {} | {} | {ratio} | {} |",
            r.name,
            cell(&r.tokio),
            cell(&Some(r.ours)),
            r.unit,
            r.target
        );
    }
}
