//! A ferrotp cluster over Erlang's distribution protocol.
//!
//! 1. Node `a` starts (and, finding no EPMD on its private port, runs one).
//! 2. Node `b` starts as a second OS process (this example, run again with `--node-b`): a
//!    supervised, exported `Counter` GenServer.
//! 3. `a` calls `b`'s counter, crashes it, and sees the supervisor bring it back.
//! 4. `b`'s OS process is killed while `a` waits on a call and holds a link: the call fails
//!    with `noconnection`, and the linked process gets the exit signal `noconnection`.
//! 5. With `erl` on the PATH, the same with a BEAM node: it calls `a`'s counter with
//!    `gen_server:call/2`, `a` calls the BEAM's `application_controller`, and the BEAM's OS
//!    process is killed under a link.
//!
//! Run with `cargo run --example cluster`. Everything stays on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrotp::dist::{
    from_term, Cookie, Node, RemoteCallError, RemoteCaller, RemoteServer, SerdeError, Term,
};
use ferrotp::gen_server::{CallResult, GenServer, Init, ReplyTo, ServerContext};
use ferrotp::prelude::*;
use ferrotp::supervisor::{Child as _, Strategy};
use serde::{Deserialize, Serialize};

const COOKIE: &str = "cluster_example";

/// A counter that BEAM and ferrotp nodes call with `get`, `{add, N}`, `crash` and
/// `{sleep, Ms}`; `whoami` answers its pid.
struct Counter(i64);

enum Call {
    Get(ReplyTo<i64>),
    Add(i64, ReplyTo<i64>),
    /// Never answered: the server panics.
    Crash(#[allow(dead_code)] ReplyTo<()>),
    Sleep(u64, ReplyTo<()>),
    WhoAmI(ReplyTo<Term>),
}

/// What callers send, as terms: `get`, `{add, N}`, `crash`, `{sleep, Ms}`, `whoami`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Get,
    Add(i64),
    Crash,
    Sleep(u64),
    Whoami,
}

impl GenServer for Counter {
    type Args = ();
    type Call = Call;
    type Cast = ();
    type Info = ();
    type Continue = ();

    async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Counter(0))
    }

    async fn handle_call(&mut self, call: Call, ctx: &mut ServerContext<Self>) -> CallResult<Self> {
        match call {
            Call::Get(to) => CallResult::reply(to, self.0),
            Call::Add(n, to) => {
                self.0 += n;
                CallResult::reply(to, self.0)
            }
            Call::Crash(_caller) => panic!("asked to crash"),
            Call::Sleep(ms, to) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallResult::reply(to, ())
            }
            Call::WhoAmI(to) => {
                let me = ferrotp::dist::node()
                    .and_then(|n| n.external_pid(ctx.pid()))
                    .map_or(Term::nil(), Term::Pid);
                CallResult::reply(to, me)
            }
        }
    }
}

impl RemoteServer for Counter {
    fn remote_call(request: Term, caller: RemoteCaller) -> Result<Call, SerdeError> {
        Ok(match from_term(request)? {
            Request::Get => Call::Get(caller.reply_to()),
            Request::Add(n) => Call::Add(n, caller.reply_to()),
            Request::Crash => Call::Crash(caller.reply_to()),
            Request::Sleep(ms) => Call::Sleep(ms, caller.reply_to()),
            Request::Whoami => Call::WhoAmI(caller.reply_to()),
        })
    }
}

/// Start `name`'s node with a supervised, exported counter.
async fn start_node(name: &str, epmd_port: u16) -> anyhow::Result<(Node, Supervisor)> {
    let node = Node::builder(name)
        .cookie(Cookie::new(COOKIE)?)
        .epmd(([127, 0, 0, 1], epmd_port).into())
        .start()
        .await?;
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![Counter::child_spec(()).name("counter")],
    )
    .await?;
    node.export_named::<Counter>("counter");
    Ok((node, sup))
}

/// A process linked to `pid` that reports the exit signal it gets.
fn watch_link(node: &Node, pid: &Term) -> tokio::sync::oneshot::Receiver<ExitReason> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let Term::Pid(external) = pid else {
        panic!("not a pid: {pid}")
    };
    let target = node.pid(external);
    process::Builder::new()
        .trap_exit(true)
        .spawn(move |mut ctx: Context| async move {
            ctx.link(target)?;
            loop {
                if let Message::Exit(e) = ctx.recv().await {
                    let _ = tx.send(e.reason);
                    return Ok(());
                }
            }
        })
        .expect("spawned from main");
    rx
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start an OS process and wait for `ready` on its stdout.
fn spawn_ready(mut command: Command) -> anyhow::Result<Killed> {
    let mut child = command.stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("ready") {
                let _ = tx.send(());
            } else {
                println!("{line}");
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))?;
    Ok(Killed(child))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--node-b") {
        let port: u16 = args.next().expect("the EPMD port").parse()?;
        let (_node, _sup) = start_node("b@127.0.0.1", port).await?;
        println!("ready");
        std::future::pending::<()>().await;
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (a, _sup) = start_node("a@127.0.0.1", port).await?;
    println!(
        "1. node {} started; it runs EPMD on port {port}: {}",
        a.name(),
        a.runs_epmd()
    );

    let b = spawn_ready({
        let mut c = Command::new(std::env::current_exe()?);
        c.args(["--node-b", &port.to_string()]);
        c
    })?;
    println!("2. node b@127.0.0.1 started as process {}", b.0.id());

    let counter = ("counter", "b@127.0.0.1");
    let timeout = Duration::from_secs(5);
    let n: i64 = a.call(counter, &Request::Add(2), timeout).await?;
    let n2: i64 = a.call(counter, &Request::Add(40), timeout).await?;
    println!(
        "3. a calls b's counter: {{add, 2}} -> {n}, {{add, 40}} -> {n2}; a's nodes: {:?}",
        a.nodes()
    );
    let crashed = a.call::<()>(counter, &Request::Crash, timeout).await;
    println!(
        "   crash -> {}",
        crashed.map_or_else(|e| e.to_string(), |_| "ok".into())
    );
    let again: i64 = loop {
        match a.call(counter, &Request::Get, timeout).await {
            Ok(n) => break n,
            Err(RemoteCallError::Exit(ExitReason::NoProc)) => tokio::task::yield_now().await,
            Err(e) => return Err(e.into()),
        }
    };
    println!("   restarted by its supervisor, the counter is back at {again}");

    let pid: Term = a.call(counter, &Request::Whoami, timeout).await?;
    let linked = watch_link(&a, &pid);
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move {
            a.call::<()>(counter, &Request::Sleep(60_000), Duration::from_secs(120))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(b);
    println!("4. b's OS process killed");
    println!(
        "   the waiting call: {}",
        waiting
            .await?
            .map_or_else(|e| e.to_string(), |_| "ok".into())
    );
    println!("   the linked process: exit signal {}", linked.await?);

    if Command::new("erl")
        .arg("-version")
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        println!("5. erl is not on the PATH: the BEAM part is skipped (install erlang-nox)");
        return Ok(());
    }
    // A process of a's that links to the pid the BEAM sends it.
    let (tx, beam_lost) = tokio::sync::oneshot::channel();
    let node = a.clone();
    let inbox = process::Builder::new()
        .name("inbox")
        .trap_exit(true)
        .spawn(move |mut ctx: Context<Term>| async move {
            loop {
                match ctx.recv().await {
                    Message::User(Term::Pid(p)) => ctx.link(node.pid(&p))?,
                    Message::Exit(e) => {
                        let _ = tx.send(e.reason);
                        return Ok(());
                    }
                    _ => {}
                }
            }
        })?;
    a.export_process(&inbox);

    let script = "R = gen_server:call({counter, 'a@127.0.0.1'}, {add, 7}), \
                  io:format(\"   the BEAM calls a's counter: {add, 7} -> ~p~n\", [R]), \
                  {inbox, 'a@127.0.0.1'} ! self(), \
                  io:format(\"ready~n\"), receive stop -> ok end.";
    println!("5. a BEAM node, beam@127.0.0.1, starts and finds a through a's EPMD");
    let beam = spawn_ready({
        let mut c = Command::new("erl");
        c.args([
            "-name",
            "beam@127.0.0.1",
            "-setcookie",
            COOKIE,
            "-noshell",
            "-eval",
            script,
        ])
        .env("ERL_EPMD_PORT", port.to_string());
        c
    })?;
    let apps: Term = a
        .call(
            ("application_controller", "beam@127.0.0.1"),
            &Term::atom("which_applications"),
            timeout,
        )
        .await?;
    println!("   a calls the BEAM's application_controller: {apps}");
    while process::process_info(inbox.pid()).is_some_and(|i| i.links.is_empty()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(beam);
    println!("   the BEAM's OS process killed");
    println!(
        "   a's process linked to the BEAM shell: exit signal {}",
        beam_lost.await?
    );
    a.stop();
    Ok(())
}
