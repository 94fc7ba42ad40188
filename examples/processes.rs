//! The ferrotp tour: processes that crash alone, and the processes that are told.
//!
//! Run with `cargo run --example processes`.

use std::time::Duration;

use ferrotp::prelude::*;

/// A worker that divides 100 by whatever it is sent; 0 makes it panic.
fn divider(
    name: &'static str,
) -> impl FnOnce(
    Context<u32>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ProcessResult> + Send>> {
    move |mut ctx| {
        Box::pin(async move {
            ctx.register(name)?;
            while let Message::User(n) = ctx.recv().await {
                println!("  {name} {}: 100 / {n} = {}", ctx.pid(), 100 / n);
            }
            Ok(())
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferrotp=warn,ferrotp_runtime=warn".into()),
        )
        .init();

    println!("1. A panic ends one process; a linked process that traps exits is told why.");
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let overseer = process::spawn(move |mut ctx: Context| async move {
        ctx.trap_exit(true);
        let worker = ctx.spawn_link(divider("alice"));
        worker.send(4)?;
        worker.send(0)?; // division by zero: alice panics
        worker.send(5).unwrap_or(()); // may already be refused: alice is gone
        if let Message::Exit(exit) = ctx.recv().await {
            println!(
                "  overseer {}: linked {} exited: {}",
                ctx.pid(),
                exit.from,
                exit.reason
            );
        }
        let _ = done_tx.send(());
        // Carry on: a crash of a linked worker is just a message to a trapping process.
        std::future::pending().await
    });
    done_rx.await?;
    println!(
        "  the overseer is still alive: {}",
        process::is_alive(overseer.pid())
    );
    println!(
        "  the name 'alice' was released: {:?}",
        registry::whereis("alice")
    );

    println!(
        "\n2. A link without trap_exit: the crash takes the partner down with the same reason."
    );
    let partner = process::spawn(|ctx: Context| async move {
        let worker = ctx.spawn_link(divider("bob"));
        worker.send(0)?;
        std::future::pending().await
    });
    let reason = process::await_exit(partner.pid()).await;
    println!("  partner {} exited: {reason}", partner.pid());

    println!("\n3. A monitor only reports: the watcher gets a Down and carries on.");
    let (tx, rx) = tokio::sync::oneshot::channel();
    process::spawn(move |mut ctx: Context| async move {
        let (worker, reference) = ctx.spawn_monitor(divider("carol"));
        worker.send(10)?;
        process::exit(worker.pid(), ExitReason::Kill)?;
        if let Message::Down(down) = ctx.recv().await {
            println!(
                "  watcher {}: {} is down ({}), monitor {}",
                ctx.pid(),
                down.pid,
                down.reason,
                reference
            );
            assert_eq!(down.reference, reference);
        }
        let _ = tx.send(());
        Ok(())
    });
    rx.await?;

    println!("\n4. An Elixir-style Registry for pub/sub, and timers that deliver messages.");
    let topics: Registry<&'static str, Addr<&'static str>> =
        Registry::start(Keys::Duplicate).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..3 {
        let (topics, tx) = (topics.clone(), tx.clone());
        process::spawn(move |mut ctx: Context<&'static str>| async move {
            topics.register("news", ctx.addr())?;
            let _ = tx.send(format!("subscriber {i} {} joined 'news'", ctx.pid()));
            while let Message::User(headline) = ctx.recv().await {
                let _ = tx.send(format!("subscriber {i} {} read: {headline}", ctx.pid()));
            }
            Ok(())
        });
    }
    for _ in 0..3 {
        println!("  {}", rx.recv().await.unwrap_or_default());
    }
    topics.dispatch(&"news", |_pid, subscriber| {
        timer::send_after(
            subscriber,
            "ferrotp 0.1 released",
            Duration::from_millis(50),
        );
    });
    for _ in 0..3 {
        println!("  {}", rx.recv().await.unwrap_or_default());
    }

    println!("\n{} processes alive at the end.", process::count());
    Ok(())
}
