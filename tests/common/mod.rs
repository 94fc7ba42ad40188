//! A test process that runs closures on request and forwards everything it receives.
#![allow(dead_code, unreachable_pub)]

pub mod kid;
pub mod seed;
pub mod server;

use std::time::Duration;

use ferrotp::prelude::*;
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&mut Context<Cmd>) + Send>;

/// What a probe's mailbox takes: a job to run inside it, or plain data.
pub enum Cmd {
    Run(Job),
    Data(u32),
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Run(_) => f.write_str("Run"),
            Cmd::Data(n) => write!(f, "Data({n})"),
        }
    }
}

/// What a probe saw, in mailbox order.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Data(u32),
    Exit(Exit),
    Down(Down),
}

pub struct Probe {
    pub addr: Addr<Cmd>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Probe {
    pub fn spawn(trap_exit: bool) -> Probe {
        let (tx, seen) = mpsc::unbounded_channel();
        let addr = Builder::new()
            .trap_exit(trap_exit)
            .spawn(move |mut ctx: Context<Cmd>| async move {
                loop {
                    let seen = match ctx.recv().await {
                        Message::User(Cmd::Run(job)) => {
                            job(&mut ctx);
                            continue;
                        }
                        Message::User(Cmd::Data(n)) => Seen::Data(n),
                        Message::Exit(e) => Seen::Exit(e),
                        Message::Down(d) => Seen::Down(d),
                    };
                    if tx.send(seen).is_err() {
                        return Ok(()); // the test is over
                    }
                }
            })
            .unwrap();
        Probe { addr, seen }
    }

    pub fn pid(&self) -> Pid {
        self.addr.pid()
    }

    /// Run `f` inside the probe process and return its result.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Context<Cmd>) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = oneshot::channel();
        self.addr
            .send(Cmd::Run(Box::new(move |ctx| {
                let _ = tx.send(f(ctx));
            })))
            .expect("probe is alive");
        rx.await.expect("probe ran the job")
    }

    /// The next thing the probe received; panics if nothing arrives within 5 s of (paused) time.
    pub async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
            .await
            .expect("probe received nothing within 5 s")
            .expect("probe is alive")
    }

    /// What the probe received, if anything is queued now.
    pub fn try_next(&mut self) -> Option<Seen> {
        self.seen.try_recv().ok()
    }

    /// Asserts that nothing arrives within 5 s of (paused) time.
    pub async fn assert_quiet(&mut self) {
        if let Ok(Some(s)) = tokio::time::timeout(Duration::from_secs(5), self.seen.recv()).await {
            panic!("expected no message, got {s:?}");
        }
    }
}

/// A process that waits forever, optionally trapping exits.
pub fn idle(trap_exit: bool) -> Addr<()> {
    Builder::new()
        .trap_exit(trap_exit)
        .spawn(|_ctx: Context<()>| std::future::pending())
        .unwrap()
}

/// A process that exits with `reason` when it receives any message.
pub fn exits_on_message(reason: ExitReason) -> Addr<()> {
    process::spawn(move |mut ctx: Context<()>| async move {
        ctx.recv().await;
        Err::<(), _>(reason)
    })
}
