//! Two ferrotp nodes over Erlang's distribution protocol, with no Erlang installed: one is
//! this test, the other this same test binary started again as a second OS process (one OS
//! process is one node), driven through its stdin and stdout. The first node to start finds
//! no EPMD and runs one; the second uses it.

mod common;

use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::free_port;
use ferrotp_dist::{Cookie, Node, RemoteCallError, RemoteCaller, RemoteServer, SerdeError, Term};
use ferrotp_runtime::gen_server::{CallResult, GenServer, Init, ReplyTo, ServerContext};
use ferrotp_runtime::{process, Context, ExitReason, Message};

const COOKIE: &str = "ferrotp_pair_cookie";
const PEER: &str = "peer@127.0.0.1";
const MAIN: &str = "main@127.0.0.1";

/// Replies `{Request, PidOfTheServer}`; the request `crash` makes it stop with `boom`.
struct Echo;

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
        Init::ok(Echo)
    }

    async fn handle_call(
        &mut self,
        call: EchoCall,
        ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        let EchoCall::Echo(request, to) = call;
        if request.is_atom("crash") {
            return CallResult::stop_reply(ExitReason::error("boom"), to, Term::atom("crashing"));
        }
        let me = ferrotp_dist::node()
            .and_then(|n| n.external_pid(ctx.pid()))
            .map(Term::Pid)
            .unwrap_or(Term::nil());
        CallResult::reply(to, Term::tuple([request, me]))
    }
}

impl RemoteServer for Echo {
    fn remote_call(request: Term, caller: RemoteCaller) -> Result<EchoCall, SerdeError> {
        Ok(EchoCall::Echo(request, caller.reply_to()))
    }
}

/// Logs to stderr when `FERROTP_TEST_LOG` is set (`debug`, ...).
fn log() {
    if let Ok(filter) = std::env::var("FERROTP_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// The second node, when this binary runs as it: serves `echo`, then obeys its stdin.
#[test]
fn peer_node() {
    let Ok(epmd_port) = std::env::var("FERROTP_DIST_PEER_EPMD") else {
        return; // Not the peer: nothing to do.
    };
    log();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let node = Node::builder(PEER)
            .cookie(Cookie::new(COOKIE).unwrap())
            .epmd(([127, 0, 0, 1], epmd_port.parse().unwrap()).into())
            .start()
            .await
            .unwrap();
        // Supervised, so that it comes back after `crash`; exported by name, so that the
        // export follows it.
        use ferrotp_runtime::supervisor::{Child, Strategy, Supervisor, SupervisorFlags};
        let _sup = Supervisor::start(
            SupervisorFlags::new(Strategy::OneForOne),
            vec![Echo::child_spec(()).name("echo")],
        )
        .await
        .unwrap();
        node.export_named::<Echo>("echo");
        println!("=> ready");
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(line) = lines.recv().await {
            let reply = match line.split_once(' ') {
                Some(("connect", to)) => {
                    format!("{:?}", node.connect(to).await.map_err(|e| e.to_string()))
                }
                Some(("disconnect", from)) => node.disconnect(from).to_string(),
                _ if line == "nodes" => node.nodes().join(","),
                _ => "unknown command".into(),
            };
            println!("=> {reply}");
        }
    });
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    fn start(epmd_port: u16) -> Peer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "peer_node", "--nocapture", "--test-threads=1"])
            .env("FERROTP_DIST_PEER_EPMD", epmd_port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                // The harness prints `test peer_node ... ` before the first answer.
                if let Some(at) = line.find("=> ") {
                    let _ = tx.send(line[at + 3..].to_owned());
                }
            }
        });
        let mut peer = Peer {
            child,
            stdin,
            lines,
        };
        assert_eq!(peer.next(), "ready");
        peer
    }

    fn next(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the peer answers within 60 s")
    }

    fn command(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        self.next()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A trapping process that links to the pid it is sent, says when the link is made (its
/// LINK is then on the connection, ahead of anything sent later), and reports its first exit
/// signal.
struct Linker {
    addr: ferrotp_runtime::Addr<Term>,
    linked: std::sync::mpsc::Receiver<()>,
    exit: tokio::sync::oneshot::Receiver<ExitReason>,
}

fn linker(node: &Node) -> Linker {
    let (tx, exit) = tokio::sync::oneshot::channel();
    let (linked_tx, linked) = std::sync::mpsc::channel();
    let node = node.clone();
    let addr = process::Builder::new()
        .trap_exit(true)
        .spawn(move |mut ctx: Context<Term>| async move {
            let mut tx = Some(tx);
            loop {
                match ctx.recv().await {
                    Message::User(Term::Pid(p)) => {
                        ctx.link(node.pid(&p)).unwrap();
                        let _ = linked_tx.send(());
                    }
                    Message::Exit(e) => {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(e.reason);
                        }
                    }
                    _ => {}
                }
            }
        })
        .unwrap();
    Linker { addr, linked, exit }
}

impl Linker {
    /// Link to `pid` and wait until the link is made.
    fn link(&self, pid: &Term) {
        self.addr.send(pid.clone()).unwrap();
        tokio::task::block_in_place(|| self.linked.recv_timeout(Duration::from_secs(60)))
            .expect("the link is made");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ferrotp_nodes_call_link_and_learn_of_each_others_end() {
    if std::env::var("FERROTP_DIST_PEER_EPMD").is_ok() {
        return;
    }
    log();
    let epmd_port = free_port();
    let node = Node::builder(MAIN)
        .cookie(Cookie::new(COOKIE).unwrap())
        .epmd(([127, 0, 0, 1], epmd_port).into())
        .start()
        .await
        .unwrap();
    assert!(node.runs_epmd());
    let mut peer = Peer::start(epmd_port);

    // Simultaneous connects, settled by name: one connection, whoever started first.
    for round in 0..5 {
        writeln!(peer.stdin, "connect {MAIN}").unwrap();
        peer.stdin.flush().unwrap();
        let ours = node.connect(PEER).await;
        let theirs = tokio::task::block_in_place(|| peer.next());
        assert!(ours.is_ok(), "round {round}: {ours:?}");
        assert_eq!(theirs, "Ok(())", "round {round}");
        assert_eq!(node.nodes(), vec![PEER.to_owned()]);
        assert_eq!(tokio::task::block_in_place(|| peer.command("nodes")), MAIN);
        assert!(node.disconnect(PEER));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !tokio::task::block_in_place(|| peer.command("nodes")).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the peer saw the disconnect"
            );
            tokio::task::yield_now().await;
        }
    }

    // A call; the reply carries the echo server's pid.
    let reply: Term = node
        .call(
            ("echo", PEER),
            &Term::atom("hello"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let Some([request, Term::Pid(echo_pid)]) = reply.as_tuple() else {
        panic!("{reply}")
    };
    assert!(request.is_atom("hello"));
    assert_eq!(node.nodes(), vec![PEER.to_owned()]);
    assert_eq!(tokio::task::block_in_place(|| peer.command("nodes")), MAIN);

    // A link to the echo server carries its crash reason back.
    let first = linker(&node);
    first.link(&Term::Pid(echo_pid.clone()));
    let answer: Term = node
        .call(
            ("echo", PEER),
            &Term::atom("crash"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(answer.is_atom("crashing"));
    let reason = tokio::time::timeout(Duration::from_secs(60), first.exit)
        .await
        .expect("the exit signal arrives")
        .unwrap();

    let ExitReason::Error(detail) = &reason else {
        panic!("{reason:?}")
    };
    assert_eq!(
        detail
            .downcast_ref::<ferrotp_dist::reason::RemoteReason>()
            .unwrap()
            .0,
        Term::tuple([Term::atom("error"), Term::binary("boom")])
    );

    // A link to a process on a node that dies: noconnection. The echo server was restarted
    // under its name.
    let second = linker(&node);
    // Until its supervisor has restarted it, the name is free: noproc, as in OTP.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let reply: Term = loop {
        match node
            .call(
                ("echo", PEER),
                &Term::atom("again"),
                Duration::from_secs(30),
            )
            .await
        {
            Ok(reply) => break reply,
            Err(RemoteCallError::Exit(ExitReason::NoProc))
                if std::time::Instant::now() < deadline =>
            {
                tokio::task::yield_now().await
            }
            Err(e) => panic!("{e}"),
        }
    };
    let Some([_, Term::Pid(restarted)]) = reply.as_tuple() else {
        panic!("{reply}")
    };
    assert_ne!(restarted, echo_pid);
    second.link(&Term::Pid(restarted.clone()));
    drop(peer);
    let reason = tokio::time::timeout(Duration::from_secs(60), second.exit)
        .await
        .expect("the loss of the node is noticed")
        .unwrap();
    assert_eq!(reason, ExitReason::NoConnection);
    assert!(node.nodes().is_empty());

    // The reverse, with a BEAM node: a BEAM process linked to a process of a ferrotp node
    // whose OS process is killed gets `noconnection`.
    if common::erlang_available("two_ferrotp_nodes_call_link_and_learn_of_each_others_end") {
        let peer = Peer::start(epmd_port);
        let mut beam = tokio::task::block_in_place(|| {
            common::Beam::start("beam_reverse@127.0.0.1", COOKIE, epmd_port, &[])
        });
        let linked = tokio::task::block_in_place(|| {
            beam.eval("process_flag(trap_exit, true), {hi, P} = gen_server:call({echo, 'peer@127.0.0.1'}, hi), link(P), ok")
        });
        assert_eq!(linked, "ok");
        drop(peer);
        let reason = tokio::task::block_in_place(|| {
            beam.eval("receive {'EXIT', P, R} -> R after 30000 -> timeout end")
        });
        assert_eq!(reason, "noconnection");
    }
    node.stop();
}
