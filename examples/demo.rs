//! The ferrotp tour: a supervision tree that heals itself.
//!
//! Run with `cargo run --example demo`. Set `RUST_LOG=ferrotp_runtime=info` to see every crash
//! report and restart as the supervisors log them.

use std::time::Duration;

use std::collections::HashMap;

use ferrotp::application::{Application, Stopped};
use ferrotp::gen_server;
use ferrotp::prelude::*;
use ferrotp::supervisor::{ChildPid, ChildType, Strategy};

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

/// A worker under its own name: the spec's id, and the name clients reach it by.
fn worker(name: &'static str) -> ChildSpec {
    Worker::child_spec(name).id(name).name(name)
}

/// The cluster, as a module supervisor: its `init` runs inside the supervisor's own process
/// (Elixir's `use Supervisor`), and again on a code change.
struct ClusterSupervisor {
    nodes: Vec<&'static str>,
}

impl SupervisorModule for ClusterSupervisor {
    fn init(&self) -> SupervisorInit {
        SupervisorInit::Ok(
            SupervisorFlags::new(Strategy::OneForAll)
                .max_restarts(2)
                .max_seconds(5),
            self.nodes.iter().map(|&n| worker(n)).collect(),
        )
    }
}

/// Watches processes it is told about and reports how they went down: a macro server with a
/// `#[down]` handler.
struct Watcher {
    watched: HashMap<Pid, String>,
}

#[gen_server]
impl Watcher {
    fn init() -> Result<Self, ExitReason> {
        Ok(Watcher {
            watched: HashMap::new(),
        })
    }

    #[call]
    fn watch(&mut self, name: String, pid: Pid, ctx: &mut ServerContext<Self>) {
        ctx.monitor(pid);
        self.watched.insert(pid, name);
    }

    #[down]
    fn on_down(&mut self, down: Down) {
        if let Some(name) = self.watched.remove(&down.pid) {
            println!("  watcher: {name} {} went down: {}", down.pid, down.reason);
        }
    }
}

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

    // One builder for every child: what is started gives the spec, the spec says how.
    let pipeline = Supervisor::child_spec(
        SupervisorFlags::new(Strategy::RestForOne),
        vec![worker("reader"), worker("parser"), worker("writer")],
    )
    .id("pipeline (rest_for_one)");
    let cluster = ClusterSupervisor {
        nodes: vec!["node-a", "node-b"],
    }
    .child_spec()
    .id("cluster (one_for_all)")
    .name("cluster");
    let watcher = Watcher::child_spec().id("watcher").name("watcher");
    let app = Application::start(
        SupervisorFlags::new(Strategy::OneForOne),
        vec![watcher, worker("accounts"), pipeline, cluster],
    )
    .await?;
    let watcher = WatcherClient::named("watcher");

    println!("1. The tree, started in order:\n");
    print_tree(app.root(), "  root (one_for_one)", "  ").await;

    println!("\n2. 'accounts' crashes; one_for_one restarts only it. Clients that hold its name reach the new process.");
    let accounts = WorkerClient::named("accounts").ping().await?;
    watcher.watch("accounts".into(), accounts).await?;
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
