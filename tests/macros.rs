//! `#[gen_server]`: generated clients end to end, and its diagnostics (trybuild).

use ferrotp::Context;
use std::time::Duration;

use ferrotp::gen_server::CallError;
use ferrotp::supervisor::{ChildPid, Strategy, Supervisor, SupervisorFlags};
use ferrotp::{gen_server, process, ExitReason};

struct Account {
    balance: i64,
    log: Vec<String>,
}

#[gen_server]
impl Account {
    fn init(opening: i64, owner: String) -> Result<Self, ExitReason> {
        if opening < 0 {
            return Err(ExitReason::error("negative opening balance"));
        }
        Ok(Account {
            balance: opening,
            log: vec![format!("opened for {owner}")],
        })
    }

    #[call]
    fn balance(&self) -> i64 {
        self.balance
    }

    #[call]
    async fn withdraw(&mut self, amount: i64) -> Result<i64, String> {
        if amount > self.balance {
            return Err(format!("only {} left", self.balance));
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    #[call]
    async fn slow(&self, wait: Duration) {
        tokio::time::sleep(wait).await;
    }

    #[call]
    fn history(&self) -> Vec<String> {
        self.log.clone()
    }

    #[call]
    fn audit(&self) -> i64 {
        assert!(self.balance < 1000, "audit failed: balance too high");
        self.balance
    }

    #[cast]
    fn deposit(&mut self, amount: i64, note: String) {
        self.balance += amount;
        self.log.push(note);
    }

    /// A plain helper method stays a plain method.
    fn helper(&self) -> i64 {
        self.balance * 2
    }
}

#[tokio::test(start_paused = true)]
async fn generated_client_calls_and_casts() {
    let acct = Account::start(100, "ada".into()).await.unwrap();
    acct.deposit(50, "salary".into());
    assert_eq!(acct.balance().await, Ok(150));
    assert_eq!(acct.withdraw(20).await, Ok(Ok(130)));
    assert_eq!(acct.withdraw(500).await, Ok(Err("only 130 left".into())));
    assert_eq!(acct.history().await.unwrap(), ["opened for ada", "salary"]);
    let state = ferrotp::sys::with_state(acct.server(), |a| a.helper(), None).await;
    assert_eq!(state, Ok(260));
}

#[tokio::test(start_paused = true)]
async fn an_init_error_fails_the_start() {
    let err = Account::start(-1, "bob".into()).await.unwrap_err();
    assert_eq!(
        err,
        ferrotp::gen_server::StartError::Stopped(ExitReason::error("negative opening balance"))
    );
}

#[tokio::test(start_paused = true)]
async fn the_timeout_variant_times_out() {
    let acct = Account::start(1, "cy".into()).await.unwrap();
    let r = acct
        .slow_timeout(Duration::from_secs(10), Duration::from_secs(1))
        .await;
    assert_eq!(r, Err(CallError::Timeout(Duration::from_secs(1))));
}

#[tokio::test(start_paused = true)]
async fn a_crash_in_a_call_is_restarted_by_a_supervisor_and_the_named_client_follows() {
    let spec = Account::child_spec(999, "dee".to_string()).name("macro_acct");
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let client = AccountClient::named("macro_acct");
    client.deposit(5, "bonus".into());
    let err = client.audit().await.unwrap_err();
    assert!(
        matches!(err, CallError::Exit(ExitReason::Panic { .. })),
        "{err:?}"
    );
    let _ = sup.count_children().await;
    let child = &sup.which_children().await.unwrap()[0];
    assert!(matches!(child.pid, ChildPid::Running(p) if process::is_alive(p)));
    // The restarted incarnation starts from its init arguments.
    assert_eq!(client.balance().await, Ok(999));
}

#[tokio::test(start_paused = true)]
async fn the_generated_child_spec_starts_under_a_supervisor() {
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![Account::child_spec(7, "eve".to_string())],
    )
    .await
    .unwrap();
    let ChildPid::Running(pid) = sup.which_children().await.unwrap()[0].pid else {
        panic!("not running")
    };
    let client = AccountClient::new(ferrotp::gen_server::Server::from_pid(pid).unwrap());
    assert_eq!(client.balance().await, Ok(7));
}

#[test]
fn diagnostics() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

struct Ticker {
    ticks: u32,
    log: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Tick;

#[gen_server]
impl Ticker {
    fn init(
        log: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
        ctx: &mut ferrotp::gen_server::ServerContext<Self>,
    ) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        ctx.send_interval(Tick, Duration::from_secs(1));
        Ok(Ticker { ticks: 0, log })
    }

    #[call]
    fn ticks(&self) -> u32 {
        self.ticks
    }

    #[call]
    fn whoami(&self, ctx: &mut ferrotp::gen_server::ServerContext<Self>) -> ferrotp::Pid {
        ctx.pid()
    }

    #[info]
    fn on_tick(&mut self, _tick: Tick) {
        self.ticks += 1;
    }

    async fn terminate(&mut self, reason: &ExitReason) {
        self.log
            .lock()
            .push(format!("terminate {reason} after {} ticks", self.ticks));
    }

    fn code_change(
        &self,
        _old: &ferrotp::sys::OldVsn,
        extra: &str,
    ) -> Result<Option<Self>, ExitReason> {
        Ok(Some(Ticker {
            ticks: extra.parse().map_err(ExitReason::from)?,
            log: self.log.clone(),
        }))
    }
}

#[tokio::test(start_paused = true)]
async fn info_context_terminate_and_code_change_handlers_are_wired() {
    let log = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let t = Ticker::start(log.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(t.ticks().await, Ok(3));
    assert_eq!(t.whoami().await.ok(), t.pid());
    ferrotp::sys::suspend(t.server(), None).await.unwrap();
    ferrotp::sys::change_code(t.server(), ferrotp::sys::OldVsn::Up("0".into()), "40", None)
        .await
        .unwrap();
    ferrotp::sys::resume(t.server(), None).await.unwrap();
    assert_eq!(t.ticks().await, Ok(40));
    t.stop(ExitReason::Shutdown).await.unwrap();
    assert_eq!(*log.lock(), ["terminate shutdown after 40 ticks"]);
}

struct Gate {
    waiting: Vec<ferrotp::gen_server::ReplyTo<u32>>,
    opened: u32,
}

#[gen_server]
impl Gate {
    fn init() -> Result<Self, ExitReason> {
        Ok(Gate {
            waiting: Vec::new(),
            opened: 0,
        })
    }

    /// Answers when the gate opens.
    #[call]
    fn wait(&mut self, reply: ferrotp::gen_server::ReplyTo<u32>) {
        self.waiting.push(reply);
    }

    /// Answers from another process.
    #[call]
    fn echo_from_elsewhere(
        &mut self,
        n: u32,
        reply: ferrotp::gen_server::ReplyTo<u32>,
        ctx: &mut ferrotp::gen_server::ServerContext<Self>,
    ) {
        ctx.spawn_link(move |_: Context| async move {
            let _ = reply.reply(n * 10);
            Ok(())
        });
    }

    #[cast]
    fn open(&mut self) {
        self.opened += 1;
        for w in self.waiting.drain(..) {
            let _ = w.reply(self.opened);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_deferred_reply_is_sent_by_a_later_callback_or_another_process() {
    let gate = Gate::start().await.unwrap();
    let waiter = {
        let gate = gate.clone();
        tokio::spawn(async move { gate.wait().await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    gate.open();
    assert_eq!(waiter.await.unwrap(), Ok(1));
    assert_eq!(gate.echo_from_elsewhere(4).await, Ok(40));
    // A deferred reply nobody sends leaves the caller to its timeout, as OTP's noreply.
    let r = gate.wait_timeout(Duration::from_secs(2)).await;
    assert_eq!(r, Err(CallError::Timeout(Duration::from_secs(2))));
}

struct Door {
    log: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
}

#[gen_server]
impl Door {
    fn init(log: std::sync::Arc<parking_lot::Mutex<Vec<String>>>) -> Result<Self, ExitReason> {
        Ok(Door { log })
    }

    /// Replies, then the server stops: terminate runs before the caller gets the reply.
    #[call]
    fn close(&mut self, ctx: &mut ferrotp::gen_server::ServerContext<Self>) -> usize {
        ctx.stop(ExitReason::Normal);
        self.log.lock().len()
    }

    #[cast]
    fn slam(&mut self, ctx: &mut ferrotp::gen_server::ServerContext<Self>) {
        ctx.stop(ExitReason::error("slammed"));
    }

    fn terminate(&mut self, reason: &ExitReason) {
        self.log.lock().push(format!("terminate {reason}"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_handler_stops_the_server_through_its_context_with_the_reply_after_terminate() {
    let log = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let door = Door::start(log.clone()).await.unwrap();
    let pid = door.pid().unwrap();
    let exited = process::await_exit(pid);
    // The reply counts the log entries when `close` ran: terminate had not run yet...
    assert_eq!(door.close().await, Ok(0));
    // ...but it had by the time the reply arrived.
    assert_eq!(*log.lock(), ["terminate normal"]);
    assert_eq!(exited.await, ExitReason::Normal);
}

#[tokio::test(start_paused = true)]
async fn a_cast_handler_stops_the_server_through_its_context() {
    let log = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let door = Door::start(log.clone()).await.unwrap();
    let exited = process::await_exit(door.pid().unwrap());
    door.slam();
    assert_eq!(exited.await, ExitReason::error("slammed"));
    assert_eq!(*log.lock(), ["terminate slammed"]);
}

struct Tuned;

#[gen_server(vsn = "2.1", mailbox_capacity = 1, call_timeout_ms = 1500)]
impl Tuned {
    fn init() -> Result<Self, ExitReason> {
        Ok(Tuned)
    }

    #[call]
    async fn nap(&self, wait: Duration) {
        tokio::time::sleep(wait).await;
    }
}

#[tokio::test(start_paused = true)]
async fn attribute_options_set_vsn_mailbox_capacity_and_call_timeout() {
    let tuned = Tuned::start().await.unwrap();
    let stats = ferrotp::sys::statistics(tuned.server(), None)
        .await
        .unwrap();
    assert_eq!(stats.vsn, "2.1");
    let r = tuned.nap(Duration::from_secs(2)).await;
    assert_eq!(r, Err(CallError::Timeout(Duration::from_millis(1500))));
    // The server is still napping; one request fills its one-slot mailbox.
    assert!(tuned.server().send(()).is_ok());
    assert_eq!(tuned.nap(Duration::ZERO).await, Err(CallError::MailboxFull));
}

struct Loader {
    steps: Vec<String>,
}

#[gen_server]
impl Loader {
    fn init(ctx: &mut ferrotp::gen_server::ServerContext<Self>) -> Result<Self, ExitReason> {
        // Return at once, finish loading in a continuation before any request is served.
        ctx.continue_with(2);
        Ok(Loader {
            steps: vec!["init".into()],
        })
    }

    #[on_continue]
    fn load(&mut self, left: u32, ctx: &mut ferrotp::gen_server::ServerContext<Self>) {
        self.steps.push(format!("load {left}"));
        if left > 0 {
            ctx.continue_with(left - 1);
        }
    }

    #[call]
    fn steps(&self) -> Vec<String> {
        self.steps.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn continuations_run_before_requests_and_chain() {
    let loader = Loader::start().await.unwrap();
    assert_eq!(
        loader.steps().await.unwrap(),
        ["init", "load 2", "load 1", "load 0"]
    );
}

struct Cache<V> {
    entries: std::collections::HashMap<String, V>,
}

#[gen_server]
impl<V: Clone + Send + 'static> Cache<V> {
    fn init() -> Result<Self, ExitReason> {
        Ok(Cache {
            entries: Default::default(),
        })
    }

    #[call]
    fn get(&self, key: String) -> Option<V> {
        self.entries.get(&key).cloned()
    }

    #[cast]
    fn put(&mut self, key: String, value: V) {
        self.entries.insert(key, value);
    }
}

#[tokio::test(start_paused = true)]
async fn a_generic_server_gets_a_generic_client() {
    let numbers = Cache::<u32>::start().await.unwrap();
    let words: CacheClient<&'static str> = Cache::start().await.unwrap();
    numbers.put("one".into(), 1);
    words.put("one".into(), "uno");
    assert_eq!(numbers.get("one".into()).await, Ok(Some(1)));
    assert_eq!(words.get("one".into()).await, Ok(Some("uno")));
    assert_eq!(words.get("two".into()).await, Ok(None));
}

struct Registrar;

#[gen_server(name = "macro_registrar")]
impl Registrar {
    fn init() -> Result<Self, ExitReason> {
        Ok(Registrar)
    }

    #[call]
    fn hello(&self) -> &'static str {
        "hello"
    }
}

#[tokio::test(start_paused = true)]
async fn the_name_option_registers_servers_and_gives_a_registered_client() {
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![Registrar::child_spec()],
    )
    .await
    .unwrap();
    let client = RegistrarClient::registered();
    let first = client.pid().unwrap();
    assert_eq!(client.hello().await, Ok("hello"));
    process::exit(first, ExitReason::Kill).unwrap();
    let _ = sup.count_children().await;
    assert_eq!(client.hello().await, Ok("hello"));
    assert_ne!(client.pid(), Some(first));
    assert!(matches!(
        Registrar::start().await,
        Err(ferrotp::gen_server::StartError::AlreadyStarted(_))
    ));
}

/// Reacts to the runtime's messages: monitors going down, trapped exits, the idle timeout.
struct Watchdog {
    events: Vec<String>,
}

#[gen_server]
impl Watchdog {
    fn init(ctx: &mut ferrotp::gen_server::ServerContext<Self>) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        ctx.set_timeout(Duration::from_secs(5));
        Ok(Watchdog { events: Vec::new() })
    }

    #[call]
    fn watch(&mut self, pid: ferrotp::Pid, ctx: &mut ferrotp::gen_server::ServerContext<Self>) {
        ctx.monitor(pid);
    }

    #[call]
    fn adopt(&mut self, pid: ferrotp::Pid, ctx: &mut ferrotp::gen_server::ServerContext<Self>) {
        ctx.link(pid).unwrap();
    }

    #[call]
    fn events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }

    #[down]
    fn on_down(&mut self, down: ferrotp::Down) {
        self.events.push(format!("down {}", down.reason));
    }

    #[exit]
    fn on_exit(&mut self, exit: ferrotp::Exit) {
        self.events.push(format!("exit {}", exit.reason));
    }

    #[timeout]
    fn on_idle(&mut self) {
        self.events.push("idle".into());
    }
}

fn sleeper() -> ferrotp::Addr<()> {
    ferrotp::process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        Ok(())
    })
}

#[tokio::test(start_paused = true)]
async fn down_exit_and_timeout_handlers_receive_the_runtimes_messages() {
    let dog = Watchdog::start().await.unwrap();
    // Nothing arrives for five seconds after init: the idle timeout fires, once.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(dog.events().await.unwrap(), ["idle"]);

    let watched = sleeper();
    dog.watch(watched.pid()).await.unwrap();
    process::exit(watched.pid(), ExitReason::error("gone")).unwrap();

    let linked = sleeper();
    dog.adopt(linked.pid()).await.unwrap();
    process::exit(linked.pid(), ExitReason::shutdown_with("bye")).unwrap();

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        dog.events().await.unwrap(),
        ["down gone", "exit {shutdown, bye}"]
    );
}
