//! A bank of accounts as a GenServer: calls, casts, an idle timeout, a crash, and `sys`.
//!
//! Run with `cargo run --example bank`. This is the hand-written form of a GenServer — the
//! `impl GenServer` that ferrotp's macros generate for you.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrotp::gen_server::*;
use ferrotp::prelude::*;
use ferrotp::sys;

#[derive(Debug, Clone)]
struct Bank {
    accounts: BTreeMap<String, u64>,
}

/// Each call carries the handle its reply goes to, typed by what it answers.
#[derive(Debug)]
enum Call {
    Balance(String, ReplyTo<Option<u64>>),
    Withdraw(String, u64, ReplyTo<Result<u64, String>>),
    /// Has a bug: panics on an account name it does not expect.
    Audit(String, ReplyTo<u64>),
}

enum Cast {
    Deposit(String, u64),
}

impl GenServer for Bank {
    type Args = Vec<(&'static str, u64)>;
    type Call = Call;
    type Cast = Cast;
    type Info = ();
    type Continue = ();

    async fn init(opening: Self::Args, _ctx: &mut ServerContext<Self>) -> Init<Self> {
        let accounts = opening
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        // Report when nobody used the bank for a minute.
        Init::Ok(Bank { accounts }, Next::Timeout(Duration::from_secs(60)))
    }

    async fn handle_call(
        &mut self,
        call: Call,
        _ctx: &mut ServerContext<Self>,
    ) -> CallResult<Self> {
        let idle = Next::Timeout(Duration::from_secs(60));
        match call {
            Call::Balance(who, to) => {
                CallResult::reply_then(to, self.accounts.get(&who).copied(), idle)
            }
            Call::Withdraw(who, amount, to) => {
                let outcome = match self.accounts.get_mut(&who) {
                    Some(balance) if *balance >= amount => {
                        *balance -= amount;
                        Ok(*balance)
                    }
                    Some(balance) => Err(format!("insufficient funds: {who} has {balance}")),
                    None => Err(format!("no account named {who}")),
                };
                CallResult::reply_then(to, outcome, idle)
            }
            // Panics for unknown names.
            Call::Audit(who, to) => CallResult::reply_then(to, self.accounts[&who], idle),
        }
    }

    async fn handle_cast(
        &mut self,
        Cast::Deposit(who, amount): Cast,
        _ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        *self.accounts.entry(who).or_default() += amount;
        HandleResult::NoReply(Next::Timeout(Duration::from_secs(60)))
    }

    async fn handle_info(
        &mut self,
        info: Info<()>,
        ctx: &mut ServerContext<Self>,
    ) -> HandleResult<Self> {
        if let Info::Timeout = info {
            println!("  bank {}: idle for a minute", ctx.pid());
        }
        HandleResult::noreply()
    }

    async fn terminate(&mut self, reason: &ExitReason, ctx: &mut ServerContext<Self>) {
        println!(
            "  bank {} terminating ({reason}) with {} accounts",
            ctx.pid(),
            self.accounts.len()
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrotp=warn,ferrotp_runtime=off".into()),
        )
        .init();

    let bank = Bank::start(vec![("alice", 100), ("bob", 20)]).await?;
    println!("1. Calls reply, casts do not wait.");
    bank.cast(Cast::Deposit("bob".into(), 30));
    println!(
        "  bob: {:?}",
        bank.call(|to| Call::Balance("bob".into(), to)).await?
    );
    println!(
        "  alice withdraws 130: {:?}",
        bank.call(|to| Call::Withdraw("alice".into(), 130, to))
            .await?
    );
    println!(
        "  alice withdraws 30: {:?}",
        bank.call(|to| Call::Withdraw("alice".into(), 30, to))
            .await?
    );

    println!("\n2. sys: look inside a running server, pause it, and resume it.");
    let state = sys::get_state(&bank, None).await?;
    println!("  state: {:?}", state.accounts);
    sys::suspend(&bank, None).await?;
    bank.cast(Cast::Deposit("carol".into(), 5));
    let stats = sys::statistics(&bank, None).await?;
    println!(
        "  suspended={} handled={} queued={} vsn={}",
        stats.suspended, stats.messages_handled, stats.mailbox_len, stats.vsn
    );
    sys::resume(&bank, None).await?;
    println!(
        "  after resume, carol: {:?}",
        bank.call(|to| Call::Balance("carol".into(), to)).await?
    );

    println!("\n3. A bug crashes the server: terminate runs, the caller gets the reason.");
    match bank.call(|to| Call::Audit("mallory".into(), to)).await {
        Err(CallError::Exit(reason)) => println!("  audit failed: the bank exited: {reason}"),
        other => println!("  unexpected: {other:?}"),
    }
    println!(
        "  calling it again: {:?}",
        bank.call(|to| Call::Balance("bob".into(), to)).await
    );
    println!("\n  (Run `cargo run --example demo` to see a supervisor bring it back.)");
    Ok(())
}
