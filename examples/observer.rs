//! The live observer on a demo system: a supervision tree with busy workers, a dynamic
//! supervisor of sessions, hot counters (module `counter`, upgraded from v1 to v2 after a few
//! seconds), and a monkey that crashes something every few seconds. Open the URL it prints.
//!
//! ```sh
//! cargo run --example observer
//! ```
//!
//! `FERROTP_OBSERVER_ADDR` picks the address (`127.0.0.1:4040` by default, any free port if
//! that one is taken); `FERROTP_OBSERVER_SECS` stops the demo after that many seconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ferrotp::hot::{cargo_build, HotClient, Loader, LoaderConfig, TrustPolicy};
use ferrotp::prelude::*;
use ferrotp::supervisor::{
    DynamicSupervisor, DynamicSupervisorFlags, Started, Strategy, SupervisorFlags,
};
use ferrotp_observer::Observer;
use hot_counter_api::{CounterClient, CounterInterface};
use rand::seq::SliceRandom;

/// A worker that counts the jobs it is sent; its state shows in the observer.
#[derive(Debug)]
struct Worker {
    name: &'static str,
    jobs: u64,
    last_job: Option<u64>,
}

#[gen_server(debug_state)]
impl Worker {
    async fn init(name: &'static str) -> Result<Self, ExitReason> {
        Ok(Worker {
            name,
            jobs: 0,
            last_job: None,
        })
    }

    #[cast]
    fn job(&mut self, n: u64) {
        self.jobs += 1;
        self.last_job = Some(n);
    }

    #[cast]
    fn crash(&mut self) {
        panic!("{} was asked to crash after {} jobs", self.name, self.jobs);
    }

    #[call]
    fn jobs(&self) -> u64 {
        self.jobs
    }
}

fn worker(name: &'static str) -> ChildSpec {
    Worker::child_spec(name).id(name).name(name)
}

/// A session: a plain process that waits for messages.
fn session(n: u32) -> ChildSpec {
    ChildSpec::worker(format!("session-{n}"), |opts| async move {
        let addr = opts
            .builder()
            .spawn(|mut ctx: Context<()>| async move {
                loop {
                    ctx.recv().await;
                }
            })
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(addr.pid()))
    })
}

/// Build the counter module (v1 and v2) with cargo, into a directory only we write.
fn build_counter() -> anyhow::Result<[PathBuf; 2]> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("building the counter module (v1, v2) with cargo …");
    let built = cargo_build(root, &["hot-counter-v1", "hot-counter-v2"], &[])?;
    let dir = root.join("target/observer-demo/modules");
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    }
    let mut out = Vec::new();
    for stem in ["hot_counter_v1", "hot_counter_v2"] {
        let lib = built
            .iter()
            .find(|p| {
                p.file_stem()
                    .is_some_and(|s| s.to_string_lossy().ends_with(stem))
            })
            .with_context(|| format!("cargo built no {stem}"))?;
        let to = dir.join(lib.file_name().context("a file name")?);
        std::fs::copy(lib, &to)?;
        out.push(to);
    }
    Ok([out[0].clone(), out[1].clone()])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,ferrotp_observer=info".into()),
        )
        .init();

    let [v1, v2] = build_counter()?;
    let modules = v1.parent().context("a module directory")?.to_path_buf();
    let loader = Loader::new(LoaderConfig::new(
        TrustPolicy::default().allow_dir(&modules),
    ))?;
    loader.load(&v1).await?;

    let workers = Supervisor::child_spec(
        SupervisorFlags::new(Strategy::OneForOne).max_restarts(20),
        vec![worker("ingest"), worker("resize"), worker("notify")],
    )
    .id("workers");
    let counters = Supervisor::child_spec(
        SupervisorFlags::new(Strategy::RestForOne).max_restarts(20),
        vec![
            loader
                .child_spec::<CounterInterface>(0)?
                .id("counter-a")
                .name("counter-a"),
            loader
                .child_spec::<CounterInterface>(100)?
                .id("counter-b")
                .name("counter-b"),
        ],
    )
    .id("counters");
    let sessions = DynamicSupervisor::child_spec(DynamicSupervisorFlags::new().max_restarts(50))
        .id("sessions")
        .name("sessions");
    let root = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne).max_restarts(20),
        vec![workers, counters, sessions],
    )
    .await?;
    registry::register("demo", root.pid().context("the root runs")?)?;
    let sessions = DynamicSupervisor::<()>::named("sessions");
    for n in 0..240 {
        sessions.start_child(session(n)).await?;
    }

    let addr = std::env::var("FERROTP_OBSERVER_ADDR").unwrap_or_else(|_| "127.0.0.1:4040".into());
    let observer = match Observer::builder()
        .bind(&addr)
        .allow_actions(true)
        .loader(loader.clone())
        .start()
        .await
    {
        Ok(o) => o,
        Err(e) => {
            println!("{addr}: {e}; taking any free port instead");
            Observer::builder()
                .allow_actions(true)
                .loader(loader.clone())
                .start()
                .await?
        }
    };
    println!("\nthe observer is at\n\n    {}\n", observer.url());
    println!("(actions are on: kill a worker from the page and watch it come back)\n");

    // Load: a steady stream of jobs, so the message rates move.
    tokio::spawn(async {
        let names = ["ingest", "resize", "notify"];
        let mut n = 0u64;
        loop {
            for name in names {
                WorkerClient::named(name).job(n);
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    // The monkey: every few seconds, one crash somewhere.
    tokio::spawn(async {
        let mut round = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(4)).await;
            round += 1;
            let victim = ["ingest", "resize", "notify", "counter-a", "counter-b"]
                .choose(&mut rand::thread_rng())
                .copied()
                .unwrap_or("ingest");
            if victim.starts_with("counter") {
                HotClient::<CounterInterface>::named(victim).crash();
            } else {
                WorkerClient::named(victim).crash();
            }
            println!("monkey (round {round}): crashed {victim}");
        }
    });

    // A hot upgrade after a few seconds: it shows in the upgrade history, and the page can
    // roll it back (and upgrade again).
    let upgrader = loader.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(6)).await;
        match upgrader.upgrade(&v2, b"").await {
            Ok(r) => println!(
                "upgraded `counter` {} -> {} ({} processes)",
                r.from, r.to, r.processes
            ),
            Err(e) => println!("the upgrade failed: {e}"),
        }
    });

    match std::env::var("FERROTP_OBSERVER_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => {
            println!("Ctrl-C to stop");
            tokio::signal::ctrl_c().await?;
        }
    }
    let jobs = WorkerClient::named("ingest").jobs().await.unwrap_or(0);
    println!("ingest has handled {jobs} jobs since its last restart");
    observer.shutdown().await;
    Ok(())
}
