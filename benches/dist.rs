//! Distribution on loopback: a remote call's round trip and one-way message throughput,
//! ferrotp ↔ ferrotp, ferrotp ↔ BEAM and BEAM ↔ BEAM, in one run, with a plain tokio TCP
//! request/response as the floor.
//!
//! `cargo bench --bench dist`. The second ferrotp node is this binary started again
//! (`FERROTP_BENCH_PEER`); the BEAM nodes are `erl` processes running the same echo server
//! (calls answered at once, casts counted, `get` answers the count), and an Erlang client
//! script for the BEAM rows. Without `erl` on the PATH the BEAM rows are skipped.
//!
//! Call round trip: `CALLS` sequential `gen_server:call`s (each with its monitor, as OTP's),
//! mean per call. Throughput: `CASTS` casts then one `get`, which answers once all were
//! handled. `FERROTP_BENCH_RUNS` runs (default 5): the table shows the median.
//! `FERROTP_BENCH_QUICK=1` runs a smaller workload; `FERROTP_BENCH_NO_BEAM=1` leaves the BEAM
//! out; `FERROTP_BENCH_TRACE=1` prints the call latency of every 2,000 calls.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrotp::dist::{Cookie, Node, RemoteCaller, RemoteServer, SerdeError, Term};
use ferrotp::gen_server::{CallResult, GenServer, HandleResult, Init, ReplyTo, ServerContext};
use ferrotp::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COOKIE: &str = "ferrotp_bench";

fn quick() -> bool {
    std::env::var_os("FERROTP_BENCH_QUICK").is_some()
}

fn calls() -> u64 {
    if quick() {
        1_000
    } else {
        20_000
    }
}

fn casts() -> u64 {
    if quick() {
        10_000
    } else {
        200_000
    }
}

/// Answers calls with their request, counts casts; `get` answers the count.
struct Echo(i64);

enum EchoCall {
    Echo(Term, ReplyTo<Term>),
}

impl GenServer for Echo {
    type Args = ();
    type Call = EchoCall;
    type Cast = ();
    type Info = ();
    type Continue = ();

    async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Echo(0))
    }

    async fn handle_call(
        &mut self,
        call: EchoCall,
        _: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        let EchoCall::Echo(request, to) = call;
        if request.is_atom("get") {
            let n = std::mem::take(&mut self.0);
            return CallResult::reply(to, Term::Integer(n));
        }
        CallResult::reply(to, request)
    }

    async fn handle_cast(&mut self, _: (), _: &mut ServerContext<Self>) -> HandleResult<Self> {
        self.0 += 1;
        HandleResult::noreply()
    }
}

impl RemoteServer for Echo {
    fn remote_call(request: Term, caller: RemoteCaller) -> Result<EchoCall, SerdeError> {
        Ok(EchoCall::Echo(request, caller.reply_to()))
    }

    fn remote_cast(_: Term) -> Result<(), SerdeError> {
        Ok(())
    }
}

/// The Erlang echo server, the same as `Echo`.
const ERL_SERVER: &str = "Loop = fun L(N) -> receive \
    {'$gen_call', {F, T}, get} -> F ! {T, N}, L(0); \
    {'$gen_call', {F, T}, R} -> F ! {T, R}, L(N); \
    {'$gen_cast', _} -> L(N + 1) end end, \
    register(echo, spawn(fun() -> Loop(0) end)), io:format(\"ready~n\"), receive stop -> ok end.";

/// The Erlang client: `Calls` calls and `Casts` casts to `{echo, Server}`; prints
/// `result CallNanos CastsPerSecond`.
fn erl_client(server: &str, calls: u64, casts: u64) -> String {
    format!(
        "S = '{server}', true = net_kernel:connect_node(S), gen_server:call({{echo, S}}, ping), \
         {{Tc, _}} = timer:tc(fun() -> [gen_server:call({{echo, S}}, ping) || _ <- lists:seq(1, {calls})] end), \
         {{Tm, N}} = timer:tc(fun() -> [gen_server:cast({{echo, S}}, x) || _ <- lists:seq(1, {casts})], gen_server:call({{echo, S}}, get, infinity) end), \
         {casts} = N, io:format(\"result ~p ~p~n\", [Tc * 1000 div {calls}, {casts} * 1000000 div max(Tm, 1)]), halt()."
    )
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a process, pass its stdout lines through `on_line` until it returns `Some`.
fn run_until<T>(mut command: Command, on_line: impl Fn(&str) -> Option<T>) -> (Killed, T) {
    let mut child = command.stdout(Stdio::piped()).spawn().expect("starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = loop {
        let line = lines.next().expect("a line").expect("text");
        if let Some(v) = on_line(&line) {
            break v;
        }
    };
    (Killed(child), found)
}

fn erl(name: &str, epmd: u16, script: &str) -> Command {
    let mut c = Command::new("erl");
    c.args([
        "-name",
        name,
        "-setcookie",
        COOKIE,
        "-noshell",
        "-eval",
        script,
    ])
    .env("ERL_EPMD_PORT", epmd.to_string())
    .stderr(Stdio::inherit());
    c
}

fn erl_available() -> bool {
    Command::new("erl")
        .args(["-noshell", "-eval", "halt()."])
        .status()
        .is_ok_and(|s| s.success())
}

/// ferrotp client rows against `server` (a node running an echo): ns per call, casts per s.
async fn ferrotp_client(node: &Node, server: &str) -> (f64, f64) {
    let dest = ("echo", server);
    let t = Duration::from_secs(60);
    let _: Term = node.call(dest, &Term::atom("ping"), t).await.unwrap();
    let start = Instant::now();
    let mut block = Instant::now();
    for i in 0..calls() {
        let _: Term = node.call(dest, &Term::atom("ping"), t).await.unwrap();
        if std::env::var_os("FERROTP_BENCH_TRACE").is_some() && i % 2000 == 1999 {
            eprintln!("{server}: calls {i}: {:?} per call", block.elapsed() / 2000);
            block = Instant::now();
        }
    }
    let per_call = start.elapsed().as_nanos() as f64 / calls() as f64;
    let start = Instant::now();
    for _ in 0..casts() {
        loop {
            match node.cast(dest, &Term::atom("x")).await {
                Ok(()) => break,
                // The queue toward the node is full: wait for it to drain, as a real sender
                // would.
                Err(ferrotp::dist::DistError::Busy { .. }) => tokio::task::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        }
    }
    let counted: Term = node.call(dest, &Term::atom("get"), t).await.unwrap();
    assert_eq!(counted.as_i64(), Some(casts() as i64));
    let per_s = casts() as f64 / start.elapsed().as_secs_f64();
    (per_call, per_s)
}

/// A plain tokio request/response over one loopback TCP connection: the floor.
async fn tokio_tcp() -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 8];
        while s.read_exact(&mut buf).await.is_ok() {
            s.write_all(&buf).await.unwrap();
        }
    });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    for _ in 0..calls() {
        s.write_all(&buf).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
    }
    start.elapsed().as_nanos() as f64 / calls() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn peer(epmd: u16) {
    let node = Node::builder("bench_peer@127.0.0.1")
        .cookie(Cookie::new(COOKIE).unwrap())
        .epmd(([127, 0, 0, 1], epmd).into())
        .start()
        .await
        .unwrap();
    let echo = ferrotp::gen_server::start_with::<Echo>((), StartOptions::new().name("echo"))
        .await
        .unwrap();
    node.export(&echo).unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(epmd) = std::env::var("FERROTP_BENCH_PEER") {
        rt.block_on(peer(epmd.parse().unwrap()));
        return;
    }
    let runs: usize = std::env::var("FERROTP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let epmd = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node = rt
        .block_on(
            Node::builder("bench@127.0.0.1")
                .cookie(Cookie::new(COOKIE).unwrap())
                .epmd(([127, 0, 0, 1], epmd).into())
                .start(),
        )
        .unwrap();
    rt.block_on(async {
        let echo = ferrotp::gen_server::start_with::<Echo>((), StartOptions::new().name("echo"))
            .await
            .unwrap();
        node.export(&echo).unwrap();
    });
    let (_peer, ()) = run_until(
        {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.env("FERROTP_BENCH_PEER", epmd.to_string());
            c
        },
        |l| (l == "ready").then_some(()),
    );
    // `FERROTP_BENCH_NO_BEAM=1` leaves the BEAM out (its schedulers spin while idle, which
    // moves the other rows on a small machine).
    let beam = std::env::var_os("FERROTP_BENCH_NO_BEAM").is_none() && erl_available();
    let _beam_server = beam.then(|| {
        run_until(erl("bench_beam@127.0.0.1", epmd, ERL_SERVER), |l| {
            (l == "ready").then_some(())
        })
    });

    type Sample = (f64, f64);
    let mut rows: Vec<(&str, Vec<Sample>)> = vec![
        ("ferrotp -> ferrotp", vec![]),
        ("ferrotp -> BEAM", vec![]),
        ("BEAM -> ferrotp", vec![]),
        ("BEAM -> BEAM", vec![]),
    ];
    let mut floor = Vec::new();
    for run in 0..runs {
        floor.push(rt.block_on(rt.spawn(tokio_tcp())).unwrap());
        let n = node.clone();
        rows[0].1.push(
            rt.block_on(rt.spawn(async move { ferrotp_client(&n, "bench_peer@127.0.0.1").await }))
                .unwrap(),
        );
        if beam {
            let n = node.clone();
            rows[1].1.push(
                rt.block_on(
                    rt.spawn(async move { ferrotp_client(&n, "bench_beam@127.0.0.1").await }),
                )
                .unwrap(),
            );
            for (i, server) in [(2, "bench@127.0.0.1"), (3, "bench_beam@127.0.0.1")] {
                let client = format!("bench_client{run}_{i}@127.0.0.1");
                let (_c, sample) = run_until(
                    erl(&client, epmd, &erl_client(server, calls(), casts())),
                    |l| {
                        let rest = l.strip_prefix("result ")?;
                        let (a, b) = rest.split_once(' ')?;
                        Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?))
                    },
                );
                rows[i].1.push(sample);
            }
        }
    }
    println!();
    println!(
        "distribution on loopback, median of {runs} runs ({} calls, {} casts per run)",
        calls(),
        casts()
    );
    println!("{:<22} {:>14} {:>16}", "", "call (µs)", "casts (k/s)");
    println!(
        "{:<22} {:>14.1} {:>16}",
        "tokio TCP echo (floor)",
        median(floor) / 1000.0,
        "-"
    );
    for (name, samples) in &rows {
        if samples.is_empty() {
            println!("{name:<22} {:>14} {:>16}", "skipped", "(no erl)");
            continue;
        }
        let call = median(samples.iter().map(|s| s.0).collect()) / 1000.0;
        let cast = median(samples.iter().map(|s| s.1).collect()) / 1000.0;
        println!("{name:<22} {call:>14.1} {cast:>16.0}");
    }
    if beam {
        let ours = median(rows[0].1.iter().map(|s| s.0).collect());
        let theirs = median(rows[3].1.iter().map(|s| s.0).collect());
        let ours_t = median(rows[0].1.iter().map(|s| s.1).collect());
        let theirs_t = median(rows[3].1.iter().map(|s| s.1).collect());
        println!(
            "targets: ferrotp call ≤ BEAM's: {:.2}× ({}); ferrotp throughput ≥ BEAM's: {:.2}× ({})",
            ours / theirs,
            if ours <= theirs { "met" } else { "NOT met" },
            ours_t / theirs_t,
            if ours_t >= theirs_t { "met" } else { "NOT met" },
        );
    }
    node.stop();
}
