//! Hot code upgrades, live: four counter processes run module `counter` v1 under a supervisor
//! while producers flood them with sequenced messages. The host upgrades them to v2 (which adds
//! a field and describes itself differently), tries a deliberately broken v3 (rolled back), and
//! finally checks that every message sent was handled, in order, by the same processes.
//!
//! Run with `cargo run --example hot_upgrade`. It builds the module libraries with cargo
//! first (examples/hot-counter/{v1,v2,v3-broken}).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ferrotp::hot::{cargo_build, HotClient, Loader, LoaderConfig, TrustPolicy};
use ferrotp::supervisor::{Strategy, Supervisor, SupervisorFlags};
use ferrotp::{process, ExitReason};
use hot_counter_api::{CounterClient, CounterInterface, Sequence};

const COUNTERS: usize = 4;

/// Build the three versions with cargo and copy them into a directory only we can write.
fn build_modules() -> anyhow::Result<(PathBuf, [PathBuf; 3])> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("building the counter module, versions 1, 2 and 3 (broken), with cargo …");
    let built = cargo_build(
        root,
        &["hot-counter-v1", "hot-counter-v2", "hot-counter-v3-broken"],
        &[],
    )?;
    let dir = root.join("target/hot-demo/modules");
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    }
    let mut out = Vec::new();
    for stem in ["hot_counter_v1", "hot_counter_v2", "hot_counter_v3_broken"] {
        let lib = built
            .iter()
            .find(|p| {
                p.file_stem()
                    .is_some_and(|s| s.to_string_lossy().ends_with(stem))
            })
            .with_context(|| format!("cargo built no {stem}"))?;
        let to = dir.join(lib.file_name().unwrap());
        std::fs::copy(lib, &to)?;
        out.push(to);
    }
    Ok((dir, out.try_into().unwrap()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (dir, [v1, v2, v3]) = build_modules()?;
    let loader = Loader::new(LoaderConfig::new(TrustPolicy::default().allow_dir(&dir)))?;
    let loaded = loader.load(&v1).await?;
    println!(
        "loaded module `{}` v{} (sha256 {}…)",
        loaded.module,
        loaded.vsn,
        &loaded.sha256[..12]
    );

    let specs = (0..COUNTERS)
        .map(|i| {
            let name = format!("counter-{i}");
            let spec = loader.child_spec::<CounterInterface>(10 * i as u64)?;
            Ok::<_, ferrotp::hot::HotStartError>(spec.id(name.clone()).name(name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), specs).await?;
    let counters: Vec<HotClient<CounterInterface>> = (0..COUNTERS)
        .map(|i| HotClient::named(format!("counter-{i}")))
        .collect();
    println!(
        "supervisor {} runs {COUNTERS} counters on v1\n",
        sup.pid().unwrap()
    );

    // Let it crash: a panic inside the module's handler takes down that process only.
    let first = counters[0].pid().unwrap();
    let exited = process::await_exit(first);
    counters[0].crash();
    let reason = exited.await;
    // The supervisor got the exit signal before `await_exit` resolved; a request queued now is
    // served after the restart.
    sup.count_children().await?;
    println!(
        "counter-0 {first} crashed ({reason}); its supervisor restarted it as {} on v{}",
        counters[0].pid().unwrap(),
        counters[0].version().await?
    );

    // Load: one producer per counter, numbering its messages 1, 2, 3, …
    let running = Arc::new(AtomicBool::new(true));
    let producers: Vec<_> = counters
        .iter()
        .cloned()
        .map(|c| {
            let running = running.clone();
            tokio::spawn(async move {
                let mut seq = 0u64;
                while running.load(Ordering::Relaxed) {
                    seq += 1;
                    c.seq(seq);
                    if seq % 64 == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                seq
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("\nunder load: {}", counters[1].describe().await?);

    let pids_before: Vec<_> = counters.iter().map(|c| c.pid()).collect();
    let report = loader.upgrade(&v2, b"").await?;
    println!(
        "upgraded {} processes v{} → v{} while they were loaded; suspended for {:?}",
        report.processes, report.from, report.to, report.suspended_for
    );
    counters[1].add(1);
    println!(
        "same pids: {}; migrated state: {}",
        pids_before == counters.iter().map(|c| c.pid()).collect::<Vec<_>>(),
        counters[1].describe().await?
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    match loader.upgrade(&v3, b"").await {
        Ok(r) => bail!("the broken v3 was installed: {r:?}"),
        Err(e) => println!("\nupgrade to v3 refused: {e}"),
    }
    println!(
        "still running v{}: {}",
        counters[1].version().await?,
        counters[1].describe().await?
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    running.store(false, Ordering::Relaxed);
    let mut sent_total = 0;
    let mut handled_total = 0;
    println!("\n| counter | sent | handled | out of order |\n|---|---:|---:|---:|");
    for (i, (c, p)) in counters.iter().zip(producers).enumerate() {
        let sent = p.await?;
        let Sequence {
            received,
            last,
            out_of_order,
        } = c.sequence().await?;
        println!("| counter-{i} | {sent} | {received} | {out_of_order} |");
        if received != sent || last != sent || out_of_order != 0 {
            bail!("counter-{i}: sent {sent}, handled {received}, last {last}");
        }
        sent_total += sent;
        handled_total += received;
    }
    println!(
        "\nmessages sent: {sent_total}, handled: {handled_total} — none lost across two code changes"
    );
    println!(
        "libraries mapped (never unloaded): {}",
        loader.leaked_libraries()
    );
    sup.stop(ExitReason::Shutdown).await?;
    Ok(())
}
