//! A keyed worker pool: one worker per key under a DynamicSupervisor, each registered under its
//! key in a Registry (Elixir's `name: {:via, Registry, {Pool.Registry, key}}`), found by key —
//! also after it crashed and its supervisor restarted it.
//!
//! Run with `cargo run --example keyed_pool`.

use ferrotp::prelude::*;
use ferrotp::supervisor::Strategy;

/// A shopping cart per user.
struct Cart {
    user: String,
    items: Vec<String>,
}

#[gen_server]
impl Cart {
    fn init(user: String) -> Result<Self, ExitReason> {
        println!("  cart of {user} started");
        Ok(Cart {
            user,
            items: Vec::new(),
        })
    }

    #[cast]
    fn add(&mut self, item: String) {
        self.items.push(item);
    }

    #[call]
    fn items(&self) -> Vec<String> {
        self.items.clone()
    }

    /// A bug: an item the cart does not expect crashes it.
    #[cast]
    fn add_unchecked(&mut self, item: String) {
        assert!(!item.is_empty(), "{}: empty item", self.user);
        self.items.push(item);
    }
}

/// The pool: the registry of keys, then the dynamic supervisor of carts (rest_for_one: if the
/// registry goes, the carts registered in it go with it).
struct Pool;

impl SupervisorModule for Pool {
    fn init(&self) -> SupervisorInit {
        SupervisorInit::Ok(
            SupervisorFlags::new(Strategy::RestForOne),
            vec![
                Registry::<String, ()>::child_spec(Keys::Unique).name("carts.registry"),
                DynamicSupervisor::child_spec(DynamicSupervisorFlags::new()).name("carts"),
            ],
        )
    }
}

/// The client side: find a user's cart by key, starting it the first time.
async fn cart(user: &str) -> Result<CartClient, SupervisorError> {
    let keys = Registry::<String, ()>::named("carts.registry");
    let name = keys.via(user.to_string());
    if name.whereis().is_none() {
        let carts: DynamicSupervisor = DynamicSupervisor::named("carts");
        let spec = Cart::child_spec(user.to_string())
            .id(user.to_string())
            .name(name.clone());
        match carts.start_child(spec).await {
            Ok(_) => {}
            // Another client started it first: fine, it is there. (The start error travels
            // typed inside the exit reason.)
            Err(SupervisorError::StartFailed(reason))
                if matches!(
                    reason.downcast_ref::<StartError>(),
                    Some(StartError::AlreadyStarted(_))
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(CartClient::named(name))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .without_time()
        .init();

    let pool = Supervisor::start_module(Pool, StartOptions::new()).await?;
    println!("1. Carts start on first use, one per user, each under its key:");
    for (user, item) in [("ada", "tea"), ("bob", "bread"), ("ada", "milk")] {
        cart(user).await?.add(item.into());
    }
    let ada = cart("ada").await?;
    let bob = cart("bob").await?;
    println!("  ada: {:?}", ada.items().await?);
    println!("  bob: {:?}", bob.items().await?);

    println!("\n2. A bug crashes bob's cart; the pool restarts it, under the same key:");
    let before = bob.pid().expect("bob's cart runs");
    let gone = process::await_exit(before);
    bob.add_unchecked(String::new());
    println!("  bob's cart {before} exited: {}", gone.await);
    let carts: DynamicSupervisor = DynamicSupervisor::named("carts");
    carts.count_children().await?; // served after the restart
    println!(
        "  found by key again: {} -> {:?}, items {:?} (a fresh cart: state is not kept)",
        before,
        bob.pid(),
        bob.items().await?
    );
    println!("  ada's cart is untouched: {:?}", ada.items().await?);

    println!("\n3. Shutdown stops the carts, then the registry.");
    pool.stop(ExitReason::Shutdown).await?;
    println!("  {} processes alive.", process::count());
    Ok(())
}
