//! The ferrotp tour: a supervision tree that heals itself.
//!
//! Run with `cargo run --example demo`. Set `RUST_LOG=ferrotp_runtime=info` to see every crash
//! report and restart as the supervisors log them.

use std::time::Duration;

use ferrotp::application::{Application, Stopped};
use ferrotp::gen_server;
use ferrotp::prelude::*;
use ferrotp::supervisor::{ChildPid, ChildType, Strategy, Supervisor, SupervisorFlags};

/// A worker that answers pings and crashes on request, declared with `#[gen_server]`.
struct Worker {
    name: &'static str,
}

#[gen_server]
impl Worker {
    fn init(name: &'static str, ctx: &mut ServerContext<Self>) -> Result<Self, ExitReason> {
        // Trap exits so a shutdown runs `terminate` (and we can watch the order).
        ctx.trap_exit(true);
        Ok(Worker { name })
    }

    #[call]
    fn ping(&self, ctx: &mut ServerContext<Self>) -> Pid {
        ctx.pid()
    }

    /// A bug: the worker panics.
    #[cast]
    fn crash(&mut self) {
        let empty: Vec<u8> = Vec::new();
        let _ = empty[self.name.len()]; // index out of bounds, by design
    }

    fn terminate(&mut self, reason: &ExitReason) {
        if reason.is_shutdown() {
            println!("    {} stopped ({reason})", self.name);
        }
    }
}

fn worker(name: &'static str) -> supervisor::ChildSpec {
    gen_server::child_spec_with::<Worker>(name, name, StartOptions::new().name(name))
}

use ferrotp::supervisor;

/// Print a supervision tree, children in start order.
async fn print_tree(sup: &Supervisor, label: &str, prefix: &str) {
    println!(
        "{label} {}",
        sup.pid().map(|p| p.to_string()).unwrap_or_default()
    );
    let mut children = sup.which_children().await.unwrap_or_default();
    children.reverse(); // which_children lists the newest first
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, deeper) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        match (child.pid, child.child_type) {
            (ChildPid::Running(pid), ChildType::Supervisor) => {
                let sub = Supervisor::from_pid(pid).expect("a supervisor child");
                let label = format!("{prefix}{branch}{}", child.id);
                Box::pin(print_tree(&sub, &label, &format!("{prefix}{deeper}"))).await;
            }
            (ChildPid::Running(pid), _) => println!("{prefix}{branch}{} {pid}", child.id),
            (other, _) => println!("{prefix}{branch}{} ({other:?})", child.id),
        }
    }
}

/// Crash the named worker and wait until its supervisor has restarted it.
async fn crash(name: &str) -> (Pid, Pid) {
    let client = WorkerClient::named(name);
    let before = client.ping().await.expect("worker up");
    let gone = process::await_exit(before);
    client.crash();
    gone.await;
    // The name comes back with the restarted worker.
    for _ in 0..100 {
        if let Ok(after) = client.ping().await {
            return (before, after);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{name} did not come back");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .without_time()
        .init();

    let pipeline = Supervisor::child_spec(
        "pipeline (rest_for_one)",
        SupervisorFlags::new(Strategy::RestForOne),
        vec![worker("reader"), worker("parser"), worker("writer")],
    );
    let cluster = Supervisor::child_spec_with(
        "cluster (one_for_all)",
        SupervisorFlags::new(Strategy::OneForAll)
            .max_restarts(2)
            .max_seconds(5),
        vec![worker("node-a"), worker("node-b")],
        StartOptions::new().name("cluster"),
    );
    let app = Application::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![worker("accounts"), pipeline, cluster],
    )
    .await?;

    println!("1. The tree, started in order:\n");
    print_tree(app.root(), "  root (one_for_one)", "  ").await;

    println!("\n2. 'accounts' crashes; one_for_one restarts only it. Clients that hold its name reach the new process.");
    let (before, after) = crash("accounts").await;
    println!("  accounts: {before} -> {after}");

    println!("\n3. 'parser' crashes; rest_for_one restarts it and 'writer' (started after it), not 'reader'.");
    let reader = WorkerClient::named("reader").ping().await?;
    let writer = WorkerClient::named("writer").ping().await?;
    let (p0, p1) = crash("parser").await;
    println!("  parser: {p0} -> {p1}");
    println!(
        "  writer: {writer} -> {}",
        WorkerClient::named("writer").ping().await?
    );
    println!(
        "  reader: {reader} -> {} (untouched)",
        WorkerClient::named("reader").ping().await?
    );

    println!("\n4. 'node-a' crashes; one_for_all stops 'node-b' too and restarts both.");
    let b0 = WorkerClient::named("node-b").ping().await?;
    let (a0, a1) = crash("node-a").await;
    println!("  node-a: {a0} -> {a1}");
    println!(
        "  node-b: {b0} -> {}",
        WorkerClient::named("node-b").ping().await?
    );

    println!("\n5. 'node-a' keeps crashing. The cluster allows 2 restarts in 5 s: the next crash makes it");
    println!(
        "   stop its children, exit with `shutdown`, and the root restarts the whole subtree."
    );
    let cluster_before = registry::whereis("cluster").expect("cluster up");
    for _ in 0..3 {
        let _ = crash("node-a").await;
    }
    let cluster_after = registry::whereis("cluster").expect("cluster back");
    println!("  cluster supervisor: {cluster_before} -> {cluster_after}");

    println!("\n6. The tree now:\n");
    print_tree(app.root(), "  root (one_for_one)", "  ").await;

    println!("\n7. Shutdown: every supervisor stops its children in reverse start order.");
    let stopped = app.run_until(async {}).await;
    assert_eq!(stopped, Stopped::Requested);
    println!("\n{} processes alive at the end.", process::count());
    Ok(())
}
