//! A GenServer whose behaviour each test chooses, and which logs its callbacks.

use ferrotp::Context;
use std::sync::Arc;
use std::time::Duration;

use ferrotp::gen_server::*;
use ferrotp::sys::OldVsn;
use ferrotp::ExitReason;
use parking_lot::Mutex;

/// The callbacks a server ran, in order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().push(s.into());
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().clone()
    }
    /// Forget the entries, keeping the memory for the next ones.
    #[allow(dead_code)] // Not every test binary that shares this module uses it.
    pub fn clear(&self) {
        self.0.lock().clear();
    }
    /// Forget the entries and give their memory back.
    pub fn release(&self) {
        *self.0.lock() = Vec::new();
    }
    pub fn contains(&self, s: &str) -> bool {
        self.0.lock().iter().any(|e| e == s)
    }
}

#[derive(Clone)]
pub enum InitMode {
    Ok,
    Ignore,
    Stop(ExitReason),
    Error(ExitReason),
    Panic,
    Sleep(Duration),
    /// Send itself an info, then continue `n` times before serving it.
    ContinueChain(u32),
    Timeout(Duration),
}

#[derive(Clone)]
pub struct Setup {
    pub log: Log,
    pub init: InitMode,
    pub trap_exit: bool,
}

impl Setup {
    pub fn new(log: &Log) -> Setup {
        Setup {
            log: log.clone(),
            init: InitMode::Ok,
            trap_exit: false,
        }
    }
    pub fn init(mut self, mode: InitMode) -> Setup {
        self.init = mode;
        self
    }
    pub fn trapping(mut self) -> Setup {
        self.trap_exit = true;
        self
    }
}

#[derive(Clone)]
pub struct Srv {
    pub log: Log,
    pub value: i64,
    pub held: Arc<Mutex<Vec<ReplyTo<i64>>>>,
}

/// Every call answers an `i64`.
pub type To = ReplyTo<i64>;

pub enum Call {
    Get(To),
    Set(i64, To),
    Panic(To),
    Stop(ExitReason, To),
    StopReply(ExitReason, i64, To),
    /// Keep the ReplyTo to answer on `Cast::Release`.
    Hold(To),
    /// Hand the ReplyTo to another process that answers.
    ReplyFromElsewhere(i64, To),
    /// Reply after sleeping this long (in the callback).
    Slow(Duration, i64, To),
    Myself(To),
    /// Reply, then idle timeout.
    GetThenTimeout(Duration, To),
    Monitor(ferrotp::Pid, To),
}

pub enum Cast {
    Set(i64),
    Panic,
    Stop(ExitReason),
    Release(i64),
}

impl GenServer for Srv {
    type Args = Setup;
    type Call = Call;
    type Cast = Cast;
    type Info = String;
    type Continue = u32;
    const VSN: &'static str = "7";

    async fn init(setup: Setup, ctx: &mut ServerContext<Self>) -> Init<Self> {
        ctx.trap_exit(setup.trap_exit);
        setup.log.push("init");
        let srv = Srv {
            log: setup.log.clone(),
            value: 0,
            held: Default::default(),
        };
        match setup.init {
            InitMode::Ok => Init::ok(srv),
            InitMode::Ignore => Init::Ignore,
            InitMode::Stop(r) => Init::Stop(r),
            InitMode::Error(r) => Init::Error(r),
            InitMode::Panic => panic!("init failed"),
            InitMode::Sleep(d) => {
                tokio::time::sleep(d).await;
                Init::ok(srv)
            }
            InitMode::ContinueChain(n) => {
                ctx.server().send("queued before continue".into()).unwrap();
                Init::Ok(srv, Next::Continue(n))
            }
            InitMode::Timeout(d) => Init::Ok(srv, Next::Timeout(d)),
        }
    }

    async fn handle_call(&mut self, call: Call, ctx: &mut ServerContext<Self>) -> CallResult<Self> {
        match call {
            Call::Get(from) => CallResult::reply(from, self.value),
            Call::Set(v, from) => {
                self.value = v;
                CallResult::reply(from, v)
            }
            Call::Panic(_) => panic!("handle_call crashed"),
            Call::Stop(r, _) => CallResult::Stop(r),
            Call::StopReply(r, v, from) => CallResult::stop_reply(r, from, v),
            Call::Hold(from) => {
                self.held.lock().push(from);
                CallResult::noreply()
            }
            Call::ReplyFromElsewhere(v, from) => {
                ctx.spawn_link(move |_: Context| async move {
                    from.reply(v).unwrap();
                    Ok(())
                });
                CallResult::noreply()
            }
            Call::Slow(d, v, from) => {
                tokio::time::sleep(d).await;
                let delivered = from.is_waiting();
                self.log.push(format!("slow reply delivered={delivered}"));
                CallResult::reply(from, v)
            }
            Call::Myself(from) => {
                let me = ctx.server();
                let r = me.call(Call::Get).await;
                let code = match r {
                    Err(CallError::CallingSelf) => -1,
                    _ => -2,
                };
                CallResult::reply(from, code)
            }
            Call::GetThenTimeout(d, from) => {
                CallResult::reply_then(from, self.value, Next::Timeout(d))
            }
            Call::Monitor(pid, from) => {
                ctx.monitor(pid);
                CallResult::reply(from, 0)
            }
        }
    }

    async fn handle_cast(
        &mut self,
        cast: Cast,
        _ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        match cast {
            Cast::Set(v) => {
                self.log.push(format!("cast {v}"));
                self.value = v;
                HandleResult::noreply()
            }
            Cast::Panic => panic!("handle_cast crashed"),
            Cast::Stop(r) => HandleResult::Stop(r),
            Cast::Release(v) => {
                for from in self.held.lock().drain(..) {
                    let outcome = from.reply(v);
                    self.log.push(format!("released ok={}", outcome.is_ok()));
                }
                HandleResult::noreply()
            }
        }
    }

    async fn handle_info(
        &mut self,
        info: Info<String>,
        _ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        match info {
            Info::Message(m) => self.log.push(format!("info {m}")),
            Info::Down(d) => self.log.push(format!("down {}", d.reason)),
            Info::Exit(e) => self.log.push(format!("exit {}", e.reason)),
            Info::Timeout => self.log.push("timeout"),
        }
        HandleResult::noreply()
    }

    async fn handle_continue(
        &mut self,
        n: u32,
        _ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        self.log.push(format!("continue {n}"));
        if n > 0 {
            HandleResult::NoReply(Next::Continue(n - 1))
        } else {
            HandleResult::noreply()
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut ServerContext<Self>) {
        self.log.push(format!("terminate {reason}"));
        if self.value == 666 {
            panic!("terminate crashed");
        }
        if self.value == 999 {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }

    fn code_change(&self, old_vsn: &OldVsn, extra: &str) -> Result<Option<Self>, ExitReason> {
        self.log.push(format!("code_change {old_vsn:?}"));
        match extra {
            "fail" => Err(ExitReason::error("cannot migrate")),
            "panic" => panic!("code_change crashed"),
            "keep" => Ok(None),
            v => Ok(Some(Srv {
                value: v.parse().map_err(ExitReason::from)?,
                ..self.clone()
            })),
        }
    }
}
