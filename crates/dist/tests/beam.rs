//! A ferrotp node in a cluster with real BEAM nodes: calls, casts, links, monitors and exit
//! signals both ways, over Erlang's own distribution protocol.
//!
//! One OS process is one node, so the tests of this binary share one ferrotp node,
//! `rust@127.0.0.1`, on one runtime, with an EPMD of its own on a free port (no EPMD runs
//! there, so the node starts one, and each BEAM node started later uses it). Each test starts
//! its own BEAM node. They wait for network events with generous deadlines, never with
//! fixed sleeps.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{erlang_available, free_port, Beam};
use ferrotp_dist::{
    from_term, Cookie, Node, RemoteCallError, RemoteCaller, RemoteServer, SerdeError, Term,
};
use ferrotp_runtime::gen_server::{
    CallResult, GenServer, HandleResult, Init, ReplyTo, ServerContext, StartOptions,
};
use ferrotp_runtime::{process, Context, ExitReason, Message};
use serde::Deserialize;

const COOKIE: &str = "ferrotp_interop_cookie";
const RUST: &str = "rust@127.0.0.1";

struct Cluster {
    runtime: tokio::runtime::Runtime,
    node: Node,
    epmd_port: u16,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if let Ok(filter) = std::env::var("FERROTP_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let epmd_port = free_port();
        let node = runtime
            .block_on(
                Node::builder(RUST)
                    .cookie(Cookie::new(COOKIE).unwrap())
                    .epmd(([127, 0, 0, 1], epmd_port).into())
                    .start(),
            )
            .expect("the ferrotp node starts");
        assert!(
            node.runs_epmd(),
            "no EPMD ran on the test's port, so the node runs one"
        );
        Cluster {
            runtime,
            node,
            epmd_port,
        }
    })
}

fn beam(name: &str) -> Beam {
    Beam::start(
        &format!("{name}@127.0.0.1"),
        COOKIE,
        cluster().epmd_port,
        &[],
    )
}

/// The counter BEAM nodes call: `get`, `{add, N}`; casts `{set, N}`.
struct Counter(i64);

enum CounterCall {
    Get(ReplyTo<i64>),
    Add(i64, ReplyTo<i64>),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Get,
    Add(i64),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cast {
    Set(i64),
}

impl GenServer for Counter {
    type Args = i64;
    type Call = CounterCall;
    type Cast = i64;
    type Info = ();
    type Continue = ();

    async fn init(start: i64, _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Counter(start))
    }

    async fn handle_call(
        &mut self,
        call: CounterCall,
        _: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        match call {
            CounterCall::Get(to) => CallResult::reply(to, self.0),
            CounterCall::Add(n, to) => {
                self.0 += n;
                CallResult::reply(to, self.0)
            }
        }
    }

    async fn handle_cast(&mut self, n: i64, _: &mut ServerContext<Self>) -> HandleResult<Self> {
        self.0 = n;
        HandleResult::noreply()
    }
}

impl RemoteServer for Counter {
    fn remote_call(request: Term, caller: RemoteCaller) -> Result<CounterCall, SerdeError> {
        Ok(match from_term(request)? {
            Request::Get => CounterCall::Get(caller.reply_to()),
            Request::Add(n) => CounterCall::Add(n, caller.reply_to()),
        })
    }

    fn remote_cast(message: Term) -> Result<i64, SerdeError> {
        let Cast::Set(n) = from_term(message)?;
        Ok(n)
    }
}

/// A counter registered as `name` on the ferrotp node and exported.
fn start_counter(name: &str) {
    let c = cluster();
    c.runtime.block_on(async {
        let server =
            ferrotp_runtime::gen_server::start_with::<Counter>(0, StartOptions::new().name(name))
                .await
                .unwrap();
        c.node.export(&server).unwrap();
    });
}

#[test]
fn a_beam_node_calls_and_casts_to_a_rust_gen_server_by_name() {
    if !erlang_available("a_beam_node_calls_and_casts_to_a_rust_gen_server_by_name") {
        return;
    }
    start_counter("counter_a");
    let mut beam = beam("beam_calls");
    assert_eq!(
        beam.eval("gen_server:call({counter_a, 'rust@127.0.0.1'}, {add, 5})"),
        "5"
    );
    assert_eq!(
        beam.eval("gen_server:call({counter_a, 'rust@127.0.0.1'}, {add, 2})"),
        "7"
    );
    assert_eq!(
        beam.eval("gen_server:cast({counter_a, 'rust@127.0.0.1'}, {set, 40})"),
        "ok"
    );
    assert_eq!(
        beam.eval("gen_server:call({counter_a, 'rust@127.0.0.1'}, get)"),
        "40"
    );
    // ferrotp is a hidden node.
    assert_eq!(
        beam.eval("lists:member('rust@127.0.0.1', nodes(hidden))"),
        "true"
    );
    assert_eq!(
        beam.eval("lists:member('rust@127.0.0.1', nodes())"),
        "false"
    );
}

#[test]
fn a_call_with_a_request_the_server_does_not_know_gets_an_error_reply() {
    if !erlang_available("a_call_with_a_request_the_server_does_not_know_gets_an_error_reply") {
        return;
    }
    start_counter("counter_b");
    let mut beam = beam("beam_badarg");
    let reply = beam.eval("gen_server:call({counter_b, 'rust@127.0.0.1'}, {divide, 0})");
    assert!(reply.starts_with("{error,{badarg,<<"), "{reply}");
    // The server lives on.
    assert_eq!(
        beam.eval("gen_server:call({counter_b, 'rust@127.0.0.1'}, get)"),
        "0"
    );
}

#[test]
fn a_call_to_a_name_nobody_holds_exits_the_beam_caller_with_noproc() {
    if !erlang_available("a_call_to_a_name_nobody_holds_exits_the_beam_caller_with_noproc") {
        return;
    }
    let mut beam = beam("beam_noproc");
    let reply = beam.eval("catch gen_server:call({nobody_here, 'rust@127.0.0.1'}, get, 10000)");
    assert!(reply.starts_with("{'EXIT',{noproc,"), "{reply}");
}

#[test]
fn rust_calls_a_real_beam_gen_server() {
    if !erlang_available("rust_calls_a_real_beam_gen_server") {
        return;
    }
    let _beam = beam("beam_served");
    let c = cluster();
    let apps: Term = c
        .runtime
        .block_on(c.node.call(
            ("application_controller", "beam_served@127.0.0.1"),
            &Term::atom("which_applications"),
            Duration::from_secs(30),
        ))
        .expect("application_controller answers");
    let Term::List(apps) = apps else {
        panic!("which_applications returns a list: {apps}")
    };
    assert!(
        apps.iter()
            .any(|a| a.as_tuple().is_some_and(|t| t[0].is_atom("kernel"))),
        "kernel runs"
    );
}

#[test]
fn a_call_to_a_missing_beam_process_is_noproc_and_one_to_a_slow_one_times_out() {
    if !erlang_available(
        "a_call_to_a_missing_beam_process_is_noproc_and_one_to_a_slow_one_times_out",
    ) {
        return;
    }
    let mut beam = beam("beam_missing");
    // A process that never answers calls.
    assert_eq!(
        beam.eval("register(mute, spawn(fun() -> receive never -> ok end end))"),
        "true"
    );
    let c = cluster();
    let missing = c.runtime.block_on(c.node.call::<Term>(
        ("not_registered", "beam_missing@127.0.0.1"),
        &Term::atom("hello"),
        Duration::from_secs(30),
    ));
    assert!(
        matches!(missing, Err(RemoteCallError::Exit(ExitReason::NoProc))),
        "{missing:?}"
    );
    let slow = c.runtime.block_on(c.node.call::<Term>(
        ("mute", "beam_missing@127.0.0.1"),
        &Term::atom("hello"),
        Duration::from_millis(300),
    ));
    assert!(matches!(slow, Err(RemoteCallError::Timeout(_))), "{slow:?}");
}

#[test]
fn a_beam_process_linked_to_a_rust_process_gets_its_exit_reason() {
    if !erlang_available("a_beam_process_linked_to_a_rust_process_gets_its_exit_reason") {
        return;
    }
    let c = cluster();
    // A Rust process that links to whoever sends it a pid, then crashes.
    let node = c.node.clone();
    let doomed = c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name("doomed_link")
            .spawn(move |mut ctx: Context<Term>| async move {
                let Message::User(Term::Pid(p)) = ctx.recv().await else {
                    return Ok(());
                };
                ctx.link(node.pid(&p)).unwrap();
                Err(ExitReason::error("boom"))
            })
            .unwrap();
        c.node.export_process(&addr);
        addr
    });
    let mut beam = beam("beam_linked");
    beam.eval("process_flag(trap_exit, true)");
    beam.eval("{doomed_link, 'rust@127.0.0.1'} ! self()");
    let reason = beam.eval("receive {'EXIT', _, R} -> R after 30000 -> timeout end");
    assert_eq!(reason, "{error,<<98,111,111,109>>}");
    c.runtime.block_on(process::await_exit(doomed.pid()));
}

/// A trapping Rust process, exported as `name`, that links to the pid it is sent and
/// reports the first exit signal it gets.
fn linker(name: &str) -> std::sync::mpsc::Receiver<(ferrotp_runtime::Pid, ExitReason)> {
    let c = cluster();
    let (tx, rx) = std::sync::mpsc::channel();
    let node = c.node.clone();
    c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name(name)
            .trap_exit(true)
            .spawn(move |mut ctx: Context<Term>| async move {
                loop {
                    match ctx.recv().await {
                        Message::User(Term::Pid(p)) => ctx.link(node.pid(&p)).unwrap(),
                        Message::Exit(e) => {
                            let _ = tx.send((e.from, e.reason));
                            return Ok(());
                        }
                        _ => {}
                    }
                }
            })
            .unwrap();
        c.node.export_process(&addr);
    });
    rx
}

#[test]
fn a_rust_process_linked_to_a_beam_process_gets_noconnection_when_the_node_dies() {
    if !erlang_available(
        "a_rust_process_linked_to_a_beam_process_gets_noconnection_when_the_node_dies",
    ) {
        return;
    }
    let exits = linker("linker_dies");
    let mut beam = beam("beam_dies");
    assert_eq!(
        beam.eval("Idle = spawn(fun() -> receive never -> ok end end), {linker_dies, 'rust@127.0.0.1'} ! Idle, ok"),
        "ok"
    );
    // The link is in place once the BEAM process lists it.
    assert!(beam.wait_until("length(element(2, process_info(Idle, links))) == 1"));
    drop(beam);
    let (from, reason) = exits
        .recv_timeout(Duration::from_secs(60))
        .expect("the exit signal arrives");
    assert!(!from.is_local());
    assert_eq!(reason, ExitReason::NoConnection);
}

#[test]
fn a_beam_exit_signal_through_a_link_reaches_the_rust_process_with_its_reason() {
    if !erlang_available(
        "a_beam_exit_signal_through_a_link_reaches_the_rust_process_with_its_reason",
    ) {
        return;
    }
    let exits = linker("linker_reason");
    let mut beam = beam("beam_reason");
    beam.eval("Idle = spawn(fun() -> receive die -> exit({shutdown, bye}) end end), {linker_reason, 'rust@127.0.0.1'} ! Idle, ok");
    assert!(beam.wait_until("length(element(2, process_info(Idle, links))) == 1"));
    beam.eval("Idle ! die");
    let (_, reason) = exits
        .recv_timeout(Duration::from_secs(60))
        .expect("the exit signal arrives");
    let ExitReason::ShutdownWith(detail) = &reason else {
        panic!("{reason:?}")
    };
    let remote = detail
        .downcast_ref::<ferrotp_dist::reason::RemoteReason>()
        .expect("the BEAM's term is kept");
    assert_eq!(remote.0, Term::atom("bye"));
}

#[test]
fn a_beam_monitor_by_name_gets_down_when_the_rust_process_exits() {
    if !erlang_available("a_beam_monitor_by_name_gets_down_when_the_rust_process_exits") {
        return;
    }
    let c = cluster();
    let target = c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name("watched_one")
            .spawn(|mut ctx: Context<Term>| async move {
                ctx.recv().await;
                Err(ExitReason::shutdown_with("done"))
            })
            .unwrap();
        c.node.export_process(&addr);
        addr
    });
    let mut beam = beam("beam_monitor");
    assert_eq!(
        beam.eval(
            "Ref = erlang:monitor(process, {watched_one, 'rust@127.0.0.1'}), is_reference(Ref)"
        ),
        "true"
    );
    beam.eval("{watched_one, 'rust@127.0.0.1'} ! go");
    assert_eq!(
        beam.eval("receive {'DOWN', Ref, process, Who, R} -> {Who, R} after 30000 -> timeout end"),
        "{{watched_one,'rust@127.0.0.1'},{shutdown,<<100,111,110,101>>}}"
    );
    c.runtime.block_on(process::await_exit(target.pid()));
}

#[test]
fn a_rust_monitor_of_a_beam_process_gets_down_with_the_reason() {
    if !erlang_available("a_rust_monitor_of_a_beam_process_gets_down_with_the_reason") {
        return;
    }
    let c = cluster();
    let (tx, rx) = std::sync::mpsc::channel();
    let node = c.node.clone();
    c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name("monitor_er")
            .spawn(move |mut ctx: Context<Term>| async move {
                let mut watching = None;
                loop {
                    match ctx.recv().await {
                        Message::User(Term::Pid(p)) => watching = Some(ctx.monitor(node.pid(&p))),
                        Message::Down(d) if Some(d.reference) == watching => {
                            let _ = tx.send(d.reason);
                            return Ok(());
                        }
                        _ => {}
                    }
                }
            })
            .unwrap();
        c.node.export_process(&addr);
    });
    let mut beam = beam("beam_monitored");
    beam.eval("P = spawn(fun() -> receive die -> exit(kaput) end end), {monitor_er, 'rust@127.0.0.1'} ! P, ok");
    assert!(beam.wait_until("length(element(2, process_info(P, monitored_by))) == 1"));
    beam.eval("P ! die");
    let reason = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the down arrives");
    assert_eq!(reason.to_string(), "kaput");
}

#[test]
fn a_node_with_another_cookie_is_refused() {
    if !erlang_available("a_node_with_another_cookie_is_refused") {
        return;
    }
    let c = cluster();
    let mut beam = Beam::start(
        "beam_wrong_cookie@127.0.0.1",
        "not_the_cookie",
        c.epmd_port,
        &[],
    );
    assert_eq!(beam.eval("net_adm:ping('rust@127.0.0.1')"), "pang");
    assert!(!c
        .node
        .nodes()
        .contains(&"beam_wrong_cookie@127.0.0.1".to_owned()));
    let ours = c
        .runtime
        .block_on(c.node.connect("beam_wrong_cookie@127.0.0.1"));
    assert!(ours.is_err(), "{ours:?}");
}

#[test]
fn rust_connects_to_a_beam_node_and_sends_it_a_term() {
    if !erlang_available("rust_connects_to_a_beam_node_and_sends_it_a_term") {
        return;
    }
    let c = cluster();
    let mut beam = beam("beam_inbox");
    assert_eq!(beam.eval("register(inbox, self())"), "true");
    c.runtime
        .block_on(c.node.connect("beam_inbox@127.0.0.1"))
        .unwrap();
    assert!(c.node.nodes().contains(&"beam_inbox@127.0.0.1".to_owned()));
    #[derive(serde::Serialize)]
    struct Greeting {
        text: String,
        n: u32,
    }
    c.runtime
        .block_on(c.node.send(
            ("inbox", "beam_inbox@127.0.0.1"),
            &Greeting {
                text: "hej".into(),
                n: 3,
            },
        ))
        .unwrap();
    assert_eq!(
        beam.eval("receive M -> M after 30000 -> timeout end"),
        "#{n => 3,text => <<104,101,106>>}"
    );
}

#[test]
fn a_beam_node_pings_the_rust_node() {
    if !erlang_available("a_beam_node_pings_the_rust_node") {
        return;
    }
    let mut beam = beam("beam_ping");
    assert_eq!(beam.eval("net_adm:ping('rust@127.0.0.1')"), "pong");
}

/// An exported Rust process that sends exit signals: `{Pid, kill}` kills, `{Pid, stop}`
/// sends `{shutdown, <<"stop">>}`.
fn exiter(name: &str) {
    let c = cluster();
    let node = c.node.clone();
    c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name(name)
            .spawn(move |mut ctx: Context<Term>| async move {
                while let Message::User(m) = ctx.recv().await {
                    if let Some([Term::Pid(p), how]) = m.as_tuple() {
                        let reason = if how.is_atom("kill") {
                            ExitReason::Kill
                        } else {
                            ExitReason::shutdown_with("stop")
                        };
                        process::exit(node.pid(p), reason).unwrap();
                    }
                }
                Ok(())
            })
            .unwrap();
        c.node.export_process(&addr);
    });
}

#[test]
fn exit_signals_from_rust_follow_the_beams_trap_exit_rules() {
    if !erlang_available("exit_signals_from_rust_follow_the_beams_trap_exit_rules") {
        return;
    }
    exiter("exiter_a");
    let mut beam = beam("beam_exit2");
    // A trapping process gets the signal as a message.
    beam.eval("process_flag(trap_exit, true), {exiter_a, 'rust@127.0.0.1'} ! {self(), stop}");
    assert_eq!(
        beam.eval("receive {'EXIT', _, R} -> R after 30000 -> timeout end"),
        "{shutdown,<<115,116,111,112>>}"
    );
    // A non-trapping one is killed.
    beam.eval("P = spawn(fun() -> receive never -> ok end end), Ref = erlang:monitor(process, P), {exiter_a, 'rust@127.0.0.1'} ! {P, kill}");
    assert_eq!(
        // (`R` is bound by the line above: the REPL keeps its bindings.)
        beam.eval("receive {'DOWN', Ref, process, P, R2} -> R2 after 30000 -> timeout end"),
        "killed"
    );
}

#[test]
fn exit_signals_from_the_beam_follow_the_rust_trap_exit_rules() {
    if !erlang_available("exit_signals_from_the_beam_follow_the_rust_trap_exit_rules") {
        return;
    }
    let exits = linker("trapper_b");
    let c = cluster();
    let mut beam = beam("beam_exit_in");
    assert_eq!(beam.eval("register(inbox, self())"), "true");
    let trapper = c
        .runtime
        .block_on(async { ferrotp_runtime::registry::whereis("trapper_b").unwrap() });
    let external = c.node.external_pid(trapper).unwrap();
    c.runtime
        .block_on(
            c.node
                .send(("inbox", "beam_exit_in@127.0.0.1"), &Term::Pid(external)),
        )
        .unwrap();
    beam.eval("receive P -> exit(P, {bye, 1}) after 30000 -> timeout end");
    let (from, reason) = exits
        .recv_timeout(Duration::from_secs(60))
        .expect("the signal arrives");
    assert!(!from.is_local());
    // Trapped: a message, which the linker reports.
    assert_eq!(reason.to_string(), "{bye,1}");
}

#[test]
fn a_rust_panic_reaches_the_beam_as_a_readable_term() {
    if !erlang_available("a_rust_panic_reaches_the_beam_as_a_readable_term") {
        return;
    }
    let c = cluster();
    let node = c.node.clone();
    c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name("panicker")
            .spawn(move |mut ctx: Context<Term>| async move {
                if let Message::User(Term::Pid(p)) = ctx.recv().await {
                    ctx.link(node.pid(&p)).unwrap();
                    panic!("kaboom");
                }
                Ok(())
            })
            .unwrap();
        c.node.export_process(&addr);
    });
    let mut beam = beam("beam_panic");
    beam.eval("process_flag(trap_exit, true), {panicker, 'rust@127.0.0.1'} ! self()");
    let reason = beam.eval("receive {'EXIT', _, R} -> R after 30000 -> timeout end");
    // {panic, #{location => <<"crates/dist/tests/beam.rs:...">>, message => <<"kaboom">>}}
    assert!(reason.starts_with("{panic,#{location => <<"), "{reason}");
    assert!(
        reason.ends_with("message => <<107,97,98,111,111,109>>}}"),
        "{reason}"
    );
}

#[test]
fn a_beam_badarith_reaches_rust_as_a_readable_exit_reason() {
    if !erlang_available("a_beam_badarith_reaches_rust_as_a_readable_exit_reason") {
        return;
    }
    let exits = linker("linker_badarith");
    let mut beam = beam("beam_badarith");
    beam.eval("Z = 0, P = spawn(fun() -> receive go -> 1 / Z end end), {linker_badarith, 'rust@127.0.0.1'} ! P, ok");
    assert!(beam.wait_until("length(element(2, process_info(P, links))) == 1"));
    beam.eval("P ! go");
    let (_, reason) = exits
        .recv_timeout(Duration::from_secs(60))
        .expect("the signal arrives");
    let text = reason.to_string();
    assert!(text.starts_with("{badarith,["), "{text}");
    let ExitReason::Error(detail) = &reason else {
        panic!("{reason:?}")
    };
    let term = &detail
        .downcast_ref::<ferrotp_dist::reason::RemoteReason>()
        .unwrap()
        .0;
    assert!(term.as_tuple().is_some_and(|t| t[0].is_atom("badarith")));
}

/// A hand-made peer speaking raw bytes to the node's listening socket.
mod raw {
    use md5::{Digest, Md5};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub(crate) const MANDATORY_26: u64 = 0x1070F94 | (1 << 34) | 0x2000000;

    pub(crate) async fn send(s: &mut TcpStream, body: &[u8]) {
        let mut m = (body.len() as u16).to_be_bytes().to_vec();
        m.extend_from_slice(body);
        let _ = s.write_all(&m).await;
    }

    pub(crate) async fn recv(s: &mut TcpStream) -> Option<Vec<u8>> {
        let len = s.read_u16().await.ok()?;
        let mut body = vec![0; len as usize];
        s.read_exact(&mut body).await.ok()?;
        Some(body)
    }

    pub(crate) fn send_name(name: &str, flags: u64) -> Vec<u8> {
        let mut m = vec![b'N'];
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1u32.to_be_bytes());
        m.extend_from_slice(&(name.len() as u16).to_be_bytes());
        m.extend_from_slice(name.as_bytes());
        m
    }

    fn digest(challenge: u32, cookie: &str) -> [u8; 16] {
        let mut md5 = Md5::new();
        md5.update(cookie.as_bytes());
        md5.update(challenge.to_string().as_bytes());
        md5.finalize().into()
    }

    /// A complete handshake as `name`; the connected socket.
    pub(crate) async fn connect(addr: std::net::SocketAddr, name: &str, cookie: &str) -> TcpStream {
        let (s, challenge) = begin(addr, name).await;
        finish(s, challenge, cookie).await
    }

    /// The handshake up to the node's challenge: the socket and the challenge message.
    pub(crate) async fn begin(addr: std::net::SocketAddr, name: &str) -> (TcpStream, Vec<u8>) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        send(&mut s, &send_name(name, MANDATORY_26 | 0x8 | 0x20)).await;
        assert_eq!(recv(&mut s).await.unwrap(), b"sok");
        let challenge = recv(&mut s).await.unwrap();
        (s, challenge)
    }

    /// The rest of the handshake.
    pub(crate) async fn finish(mut s: TcpStream, challenge: Vec<u8>, cookie: &str) -> TcpStream {
        assert_eq!(challenge[0], b'N');
        let theirs = u32::from_be_bytes(challenge[9..13].try_into().unwrap());
        let mut reply = vec![b'r'];
        reply.extend_from_slice(&7u32.to_be_bytes());
        reply.extend_from_slice(&digest(theirs, cookie));
        send(&mut s, &reply).await;
        let ack = recv(&mut s).await.unwrap();
        assert_eq!(ack[0], b'a');
        assert_eq!(&ack[1..], &digest(7, cookie));
        s
    }

    /// Whether the node closes the socket within 30 s (reading and discarding ticks).
    pub(crate) async fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 256];
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

#[test]
fn malformed_handshakes_and_frames_are_refused_and_the_node_serves_on() {
    use tokio::io::AsyncWriteExt;
    let c = cluster();
    let addr = c.node.listen_addr();
    c.runtime.block_on(async {
        // Garbage instead of a handshake.
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&[0, 5, 1, 2, 3, 4, 5]).await.unwrap();
        assert!(raw::closed(&mut s).await, "garbage closes the connection");

        // A length of 0, and one over the handshake's cap.
        for frame in [&[0u8, 0][..], &[255, 255, b'N']] {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(frame).await.unwrap();
            assert!(raw::closed(&mut s).await);
        }

        // The pre-OTP 23 handshake, and a node lacking mandatory flags: not_allowed.
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw::send(&mut s, b"n\x00\x05\x00\x00\x00\x04old@127.0.0.1").await;
        assert_eq!(raw::recv(&mut s).await.unwrap(), b"snot_allowed");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw::send(&mut s, &raw::send_name("weak@127.0.0.1", 0x4)).await;
        assert_eq!(raw::recv(&mut s).await.unwrap(), b"snot_allowed");

        // An invalid node name.
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw::send(&mut s, &raw::send_name("no-at-sign", raw::MANDATORY_26)).await;
        assert!(raw::closed(&mut s).await);

        // A wrong digest.
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw::send(&mut s, &raw::send_name("liar@127.0.0.1", raw::MANDATORY_26)).await;
        assert_eq!(raw::recv(&mut s).await.unwrap(), b"sok");
        raw::recv(&mut s).await.unwrap();
        let mut reply = vec![b'r', 0, 0, 0, 1];
        reply.extend_from_slice(&[0; 16]);
        raw::send(&mut s, &reply).await;
        assert!(
            raw::closed(&mut s).await,
            "a wrong digest closes the connection"
        );

        // After a good handshake: malformed frames each close their connection.
        let frames: Vec<Vec<u8>> = vec![
            // A distribution header, which was not negotiated.
            vec![0, 0, 0, 3, 131, 68, 0],
            // An unknown frame type.
            vec![0, 0, 0, 1, 7],
            // A pass-through frame whose control message is not a term.
            vec![0, 0, 0, 4, 112, 131, 255, 0],
            // A control message that is a term but not a control message.
            vec![0, 0, 0, 4, 112, 131, 97, 1],
            // A frame over the 64 MiB cap (only its length is sent).
            vec![0x7f, 0xff, 0xff, 0xff],
            // A SEND with its payload cut short.
            {
                let control = ferrotp_dist::Term::tuple([
                    ferrotp_dist::Term::Integer(2),
                    ferrotp_dist::Term::atom(""),
                    ferrotp_dist::Term::atom("not_a_pid"),
                ])
                .encode()
                .unwrap();
                let mut f = ((control.len() + 1) as u32).to_be_bytes().to_vec();
                f.push(112);
                f.extend_from_slice(&control);
                f
            },
        ];
        for (i, frame) in frames.iter().enumerate() {
            let name = format!("hostile{i}@127.0.0.1");
            let mut s = raw::connect(addr, &name, COOKIE).await;
            s.write_all(frame).await.unwrap();
            assert!(raw::closed(&mut s).await, "frame {i} closes its connection");
        }
    });
    // The node serves on: a BEAM node calls it.
    if erlang_available("malformed_handshakes_and_frames_are_refused_and_the_node_serves_on") {
        start_counter("counter_after_hostility");
        let mut beam = beam("beam_after_hostility");
        assert_eq!(
            beam.eval("gen_server:call({counter_after_hostility, 'rust@127.0.0.1'}, {add, 1})"),
            "1"
        );
    }
}

#[test]
fn an_unlink_from_rust_removes_the_link_on_the_beam_side_too() {
    if !erlang_available("an_unlink_from_rust_removes_the_link_on_the_beam_side_too") {
        return;
    }
    let c = cluster();
    let (tx, rx) = std::sync::mpsc::channel();
    let node = c.node.clone();
    c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name("unlinker")
            .trap_exit(true)
            .spawn(move |mut ctx: Context<Term>| async move {
                loop {
                    match ctx.recv().await {
                        Message::User(Term::Pid(p)) => ctx.link(node.pid(&p)).unwrap(),
                        Message::User(m) => {
                            if let Some([tag, Term::Pid(p)]) = m.as_tuple() {
                                if tag.is_atom("unlink") {
                                    ctx.unlink(node.pid(p));
                                }
                            }
                        }
                        Message::Exit(e) => {
                            let _ = tx.send(e.reason);
                        }
                        _ => {}
                    }
                }
            })
            .unwrap();
        c.node.export_process(&addr);
    });
    let mut beam = beam("beam_unlink");
    beam.eval("P = spawn(fun() -> receive die -> exit(gone) end end), {unlinker, 'rust@127.0.0.1'} ! P, ok");
    assert!(beam.wait_until("length(element(2, process_info(P, links))) == 1"));
    beam.eval("{unlinker, 'rust@127.0.0.1'} ! {unlink, P}");
    assert!(
        beam.wait_until("element(2, process_info(P, links)) == []"),
        "UNLINK_ID reached the BEAM"
    );
    beam.eval("P ! die");
    // Nothing arrives through the removed link; a second link proves the channel still works.
    beam.eval("Q = spawn(fun() -> receive die -> exit(second) end end), {unlinker, 'rust@127.0.0.1'} ! Q, ok");
    assert!(beam.wait_until("length(element(2, process_info(Q, links))) == 1"));
    beam.eval("Q ! die");
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the second exit arrives");
    assert_eq!(
        first.to_string(),
        "second",
        "the unlinked process's exit never arrived"
    );
}

#[test]
fn messages_between_a_pair_of_processes_keep_their_order_both_ways() {
    if !erlang_available("messages_between_a_pair_of_processes_keep_their_order_both_ways") {
        return;
    }
    const N: i64 = 5_000;
    let c = cluster();
    let (tx, rx) = std::sync::mpsc::channel();
    c.runtime.block_on(async {
        let addr = process::Builder::new()
            .name("in_order")
            .spawn(move |mut ctx: Context<i64>| async move {
                let mut expected = 1;
                while expected <= N {
                    match ctx.recv().await {
                        Message::User(n) if n == expected => expected += 1,
                        Message::User(n) => {
                            let _ = tx.send(Err(format!("got {n}, expected {expected}")));
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                let _ = tx.send(Ok(()));
                Ok(())
            })
            .unwrap();
        c.node.export_process(&addr);
    });
    let mut beam = beam("beam_order");
    beam.eval(&format!(
        "[{{in_order, 'rust@127.0.0.1'}} ! I || I <- lists:seq(1, {N})], ok"
    ));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60))
            .expect("all arrive"),
        Ok(())
    );

    assert_eq!(beam.eval("register(counted, self())"), "true");
    c.runtime.block_on(async {
        for i in 1..=N {
            c.node
                .send(("counted", "beam_order@127.0.0.1"), &i)
                .await
                .unwrap();
        }
    });
    assert_eq!(
        beam.eval(&format!(
            "R = [receive I -> I after 30000 -> timeout end || _ <- lists:seq(1, {N})], R =:= lists:seq(1, {N})"
        )),
        "true"
    );
}

#[test]
fn a_late_reply_is_never_seen_and_a_lost_node_fails_the_call_with_noconnection() {
    if !erlang_available(
        "a_late_reply_is_never_seen_and_a_lost_node_fails_the_call_with_noconnection",
    ) {
        return;
    }
    let c = cluster();
    let mut beam = beam("beam_late");
    // Replies to `{late, Ms}` after Ms milliseconds, to anything else at once, with the request.
    assert_eq!(
        beam.eval("register(slow, spawn(fun Loop() -> receive {'$gen_call', {F, T}, {late, Ms}} -> timer:sleep(Ms), F ! {T, {late, Ms}}, Loop(); {'$gen_call', {F, T}, R} -> F ! {T, R}, Loop() end end))"),
        "true"
    );
    let dest = ("slow", "beam_late@127.0.0.1");
    let late = c.runtime.block_on(c.node.call::<Term>(
        dest,
        &Term::tuple([Term::atom("late"), Term::Integer(300)]),
        Duration::from_millis(50),
    ));
    assert!(matches!(late, Err(RemoteCallError::Timeout(_))), "{late:?}");
    // The next call is answered after the late reply was sent, and gets its own reply.
    let next: Term = c
        .runtime
        .block_on(
            c.node
                .call(dest, &Term::atom("next"), Duration::from_secs(30)),
        )
        .unwrap();
    assert!(next.is_atom("next"), "{next}");

    // A call in flight when the node dies.
    let node = c.node.clone();
    let waiting = c.runtime.spawn(async move {
        node.call::<Term>(
            ("slow", "beam_late@127.0.0.1"),
            &Term::tuple([Term::atom("late"), Term::Integer(600_000)]),
            Duration::from_secs(600),
        )
        .await
    });
    let node = c.node.clone();
    let down = c
        .runtime
        .spawn(async move { node.monitor_node("beam_late@127.0.0.1").await });
    // The call is in flight once the BEAM's process is busy with it.
    assert!(beam.wait_until(
        "process_info(whereis(slow), current_function) == {current_function, {timer, sleep, 1}}"
    ));
    drop(beam);
    let failed = c.runtime.block_on(waiting).unwrap();
    assert!(
        matches!(failed, Err(RemoteCallError::Exit(ExitReason::NoConnection))),
        "{failed:?}"
    );
    let why = c.runtime.block_on(down).unwrap();
    assert!(why.contains("closed"), "{why}");
}

#[test]
fn a_rust_monitor_of_a_beam_name_gets_down_and_a_missing_name_gets_noproc() {
    if !erlang_available("a_rust_monitor_of_a_beam_name_gets_down_and_a_missing_name_gets_noproc") {
        return;
    }
    let c = cluster();
    let mut beam = beam("beam_named");
    assert_eq!(
        beam.eval("register(target, spawn(fun() -> receive die -> exit(done_here) end end))"),
        "true"
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let node = c.node.clone();
    c.runtime.block_on(async move {
        process::spawn(move |mut ctx: Context| async move {
            let named = node.monitor_name("target", "beam_named@127.0.0.1").unwrap();
            let missing = node.monitor_name("nobody", "beam_named@127.0.0.1").unwrap();
            let dropped = node.monitor_name("target", "beam_named@127.0.0.1").unwrap();
            ctx.demonitor(dropped);
            let _ = tx.send(Ok(()));
            let mut downs = Vec::new();
            while downs.len() < 2 {
                if let Message::Down(d) = ctx.recv().await {
                    downs.push(d);
                }
            }
            let by = |r| {
                downs
                    .iter()
                    .find(|d| d.reference == r)
                    .map(|d| d.reason.to_string())
            };
            let _ = tx.send(Err((
                by(named),
                by(missing),
                by(dropped),
                node.node_of(downs[0].pid),
            )));
            Ok(())
        });
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), Ok(()));
    // The monitor is in place once the BEAM process lists it.
    assert!(beam.wait_until("length(element(2, process_info(whereis(target), monitored_by))) == 1"));
    beam.eval("target ! die");
    let Err((named, missing, dropped, node)) = rx.recv_timeout(Duration::from_secs(60)).unwrap()
    else {
        panic!("two downs expected")
    };
    assert_eq!(named.as_deref(), Some("done_here"));
    assert_eq!(missing.as_deref(), Some("noproc"));
    assert_eq!(dropped, None, "a removed monitor gives no down");
    assert_eq!(node.as_deref(), Some("beam_named@127.0.0.1"));
}

/// Frames to and from a raw peer after its handshake.
mod frames {
    use ferrotp_dist::{DecodeLimits, Term};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub(crate) async fn send(s: &mut TcpStream, control: Term, payload: Option<Term>) {
        let mut body = vec![112];
        control.encode_into(&mut body).unwrap();
        if let Some(p) = payload {
            p.encode_into(&mut body).unwrap();
        }
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        s.write_all(&frame).await.unwrap();
    }

    /// The next control message (ticks skipped); `None` once the node closed the socket.
    pub(crate) async fn recv(s: &mut TcpStream) -> Option<Term> {
        loop {
            let len = s.read_u32().await.ok()? as usize;
            if len == 0 {
                continue;
            }
            let mut body = vec![0; len];
            s.read_exact(&mut body).await.ok()?;
            let (control, _) = Term::decode_prefix(&body[1..], &DecodeLimits::default()).unwrap();
            return Some(control);
        }
    }

    pub(crate) fn pid(node: &str, id: u32) -> Term {
        Term::Pid(ferrotp_dist::ExternalPid {
            node: ferrotp_dist::Atom::new(node),
            id,
            serial: 0,
            creation: 1,
        })
    }
}

#[test]
fn a_link_to_a_node_not_yet_connected_is_made_once_the_connection_is_up() {
    if !erlang_available("a_link_to_a_node_not_yet_connected_is_made_once_the_connection_is_up") {
        return;
    }
    let c = cluster();
    let mut beam = beam("beam_later");
    // The BEAM shell's pid, learnt without connecting: its encoding, printed.
    let printed = beam.eval("term_to_binary(self())");
    let Term::Pid(shell) = Term::decode(&common::parse_binary(&printed)).unwrap() else {
        panic!("{printed}")
    };
    assert!(!c.node.nodes().contains(&"beam_later@127.0.0.1".to_owned()));
    let node = c.node.clone();
    c.runtime.block_on(async move {
        process::Builder::new()
            .trap_exit(true)
            .spawn(move |ctx: Context| async move {
                ctx.link(node.pid(&shell))?;
                std::future::pending::<()>().await;
                Ok(())
            })
            .unwrap();
    });
    assert!(beam.wait_until("length([X || X <- element(2, process_info(self(), links)), node(X) == 'rust@127.0.0.1']) == 1"));
    assert!(c.node.nodes().contains(&"beam_later@127.0.0.1".to_owned()));
}

#[test]
fn every_process_linked_across_a_lost_connection_gets_exactly_one_noconnection() {
    let c = cluster();
    let addr = c.node.listen_addr();
    for round in 0..10 {
        let peer = format!("racing{round}@127.0.0.1");
        let (tx, rx) = std::sync::mpsc::channel();
        c.runtime.block_on(async {
            let mut s = raw::connect(addr, &peer, COOKIE).await;
            let node = c.node.clone();
            // 200 trapping processes link to pids of the peer while it goes away.
            for i in 0..200u32 {
                let tx = tx.clone();
                let target = node.pid(&match frames::pid(&peer, i + 1) {
                    Term::Pid(p) => p,
                    _ => unreachable!(),
                });
                process::Builder::new()
                    .trap_exit(true)
                    .spawn(move |mut ctx: Context| async move {
                        ctx.link(target)?;
                        let mut got = 0;
                        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                        while let Ok(m) = tokio::time::timeout_at(deadline, ctx.recv()).await {
                            if let Message::Exit(e) = m {
                                assert_eq!(e.reason, ExitReason::NoConnection);
                                got += 1;
                                if got == 1 {
                                    // Any second one would arrive within this second.
                                    let _ =
                                        tokio::time::timeout(Duration::from_secs(1), ctx.recv())
                                            .await;
                                }
                                break;
                            }
                        }
                        let _ = tx.send(got);
                        Ok(())
                    })
                    .unwrap();
                if i == 100 {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.shutdown().await;
                }
            }
            drop(s);
        });
        drop(tx);
        let counts: Vec<u32> = rx.iter().collect();
        assert_eq!(counts.len(), 200);
        assert!(counts.iter().all(|&n| n == 1), "round {round}: {counts:?}");
    }
}

#[test]
fn control_messages_that_name_other_nodes_pids_or_bad_unlink_ids_close_the_connection() {
    let c = cluster();
    let addr = c.node.listen_addr();
    c.runtime.block_on(async {
        let victim = process::Builder::new()
            .trap_exit(true)
            .spawn(|_: Context| std::future::pending())
            .unwrap();
        let victim_ext = Term::Pid(c.node.external_pid(victim.pid()).unwrap());
        let bad: Vec<Term> = vec![
            // LINK from a pid of a third node.
            Term::tuple([
                Term::Integer(1),
                frames::pid("third@127.0.0.1", 1),
                victim_ext.clone(),
            ]),
            // EXIT to a pid of a third node.
            Term::tuple([
                Term::Integer(3),
                frames::pid("liar@127.0.0.1", 1),
                frames::pid("third@127.0.0.1", 1),
                Term::atom("kill"),
            ]),
            // UNLINK_ID whose id is not an integer (it would be echoed back).
            Term::tuple([
                Term::Integer(35),
                Term::binary(vec![0u8; 4096]),
                frames::pid("liar@127.0.0.1", 1),
                victim_ext.clone(),
            ]),
        ];
        for control in bad {
            let mut s = raw::connect(addr, "liar@127.0.0.1", COOKIE).await;
            frames::send(&mut s, control.clone(), None).await;
            assert!(raw::closed(&mut s).await, "{control} closes the connection");
        }
        assert!(process::is_alive(victim.pid()));
        assert!(process::process_info(victim.pid())
            .unwrap()
            .links
            .is_empty());
    });
}

#[test]
fn a_peer_cannot_forge_replies_to_calls_or_kill_the_nodes_own_process() {
    if !erlang_available("a_peer_cannot_forge_replies_to_calls_or_kill_the_nodes_own_process") {
        return;
    }
    let c = cluster();
    let addr = c.node.listen_addr();
    let mut forged = beam("beam_forged");
    assert_eq!(
        forged.eval("register(mute, spawn(fun() -> receive never -> ok end end))"),
        "true"
    );
    c.runtime.block_on(async {
        // The evil peer learns the node's own process from a message sent outside any
        // process.
        let mut evil = raw::connect(addr, "evil@127.0.0.1", COOKIE).await;
        c.node
            .send(("anyone", "evil@127.0.0.1"), &Term::atom("hello"))
            .await
            .unwrap();
        let control = frames::recv(&mut evil).await.unwrap();
        let router = control.as_tuple().unwrap()[1].clone();
        assert!(matches!(router, Term::Pid(_)));

        // A call to the BEAM that will never be answered, while the peer sprays replies.
        let node = c.node.clone();
        let call = tokio::spawn(async move {
            node.call::<Term>(
                ("mute", "beam_forged@127.0.0.1"),
                &Term::atom("q"),
                Duration::from_secs(2),
            )
            .await
        });
        tokio::task::yield_now().await;
        for id in 1..2000u32 {
            for salt in [0u32, 1] {
                let tag = Term::Ref(ferrotp_dist::ExternalRef {
                    node: ferrotp_dist::Atom::new("rust@127.0.0.1"),
                    creation: c.node.creation(),
                    id: vec![id, 0, salt],
                });
                frames::send(
                    &mut evil,
                    Term::tuple([
                        Term::Integer(22),
                        frames::pid("evil@127.0.0.1", 1),
                        router.clone(),
                    ]),
                    Some(Term::tuple([tag, Term::atom("forged")])),
                )
                .await;
            }
        }
        // And links itself to the node's own process, then goes away.
        frames::send(
            &mut evil,
            Term::tuple([
                Term::Integer(1),
                frames::pid("evil@127.0.0.1", 1),
                router.clone(),
            ]),
            None,
        )
        .await;
        let answer = frames::recv(&mut evil).await;
        drop(evil);
        let outcome = call.await.unwrap();
        assert!(
            matches!(outcome, Err(RemoteCallError::Timeout(_))),
            "{outcome:?}"
        );
        // The link was refused with noproc (an EXIT back), or the frames closed the socket.
        if let Some(answer) = answer {
            let items = answer.as_tuple().unwrap();
            assert!(
                items[0].as_i64() == Some(3) && items[3].is_atom("noproc"),
                "{answer}"
            );
        }
    });
    // The node's own process lives: BEAM nodes still ping it.
    let mut other = beam("beam_after_evil");
    assert_eq!(other.eval("net_adm:ping('rust@127.0.0.1')"), "pong");
}

#[test]
fn downs_and_replies_are_sent_while_the_work_queued_before_the_connection_runs() {
    let c = cluster();
    let addr = c.node.listen_addr();
    let peer = "queued@127.0.0.1";
    c.runtime.block_on(async {
        let mut events = c.node.events();
        // The node knows the peer is connecting: work for it is queued from now on.
        let (s, challenge) = raw::begin(addr, peer).await;
        let node = c.node.clone();
        let watcher = process::spawn(move |ctx: Context| async move {
            for i in 1..=20_000u32 {
                let Term::Pid(p) = frames::pid(peer, i) else {
                    unreachable!()
                };
                ctx.monitor(node.pid(&p));
            }
            std::future::pending::<()>().await;
            Ok(())
        });
        while process::process_info(watcher.pid()).is_some_and(|i| i.monitors.len() < 20_000) {
            tokio::task::yield_now().await;
        }
        let mut s = raw::finish(s, challenge, COOKIE).await;
        // At once: a monitor of a process that is then killed, and a ping.
        let victim = process::spawn(|_: Context| std::future::pending());
        let victim_ext = Term::Pid(c.node.external_pid(victim.pid()).unwrap());
        let me = frames::pid(peer, 1);
        let monitor_ref = Term::Ref(ferrotp_dist::ExternalRef {
            node: ferrotp_dist::Atom::new(peer),
            creation: 1,
            id: vec![1, 2, 3],
        });
        frames::send(
            &mut s,
            Term::tuple([
                Term::Integer(19),
                me.clone(),
                victim_ext.clone(),
                monitor_ref.clone(),
            ]),
            None,
        )
        .await;
        frames::send(
            &mut s,
            Term::tuple([Term::Integer(8), me.clone(), victim_ext, Term::atom("kill")]),
            None,
        )
        .await;
        let ping_tag = Term::Ref(ferrotp_dist::ExternalRef {
            node: ferrotp_dist::Atom::new(peer),
            creation: 1,
            id: vec![9, 9, 9],
        });
        frames::send(
            &mut s,
            Term::tuple([
                Term::Integer(6),
                me.clone(),
                Term::atom(""),
                Term::atom("net_kernel"),
            ]),
            Some(Term::tuple([
                Term::atom("$gen_call"),
                Term::tuple([me.clone(), ping_tag.clone()]),
                Term::tuple([Term::atom("is_auth"), Term::atom(peer)]),
            ])),
        )
        .await;
        let (mut down, mut pong) = (false, false);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !(down && pong) {
            let control = tokio::time::timeout_at(deadline, frames::recv(&mut s))
                .await
                .expect("the down and the reply arrive")
                .expect("the connection stays open");
            let items = control.as_tuple().unwrap();
            match items[0].as_i64() {
                Some(21) => down |= items[3] == monitor_ref && items[4].is_atom("killed"),
                Some(22) | Some(2) | Some(33) => pong = true,
                _ => {}
            }
        }
        drop(s);
        process::exit(watcher.pid(), ExitReason::Kill).unwrap();
        // The peer's events (other tests' nodes come and go too): up, then down.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
                .await
                .expect("the loss is reported")
                .unwrap();
            match &event {
                ferrotp_dist::NodeEvent::Up(n) | ferrotp_dist::NodeEvent::Down(n, _)
                    if n == peer =>
                {
                    seen.push(matches!(event, ferrotp_dist::NodeEvent::Up(_)))
                }
                _ => {}
            }
        }
        assert_eq!(seen, vec![true, false], "up, then down");
    });
}
