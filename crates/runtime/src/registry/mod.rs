//! Finding processes: unique names, and Elixir-style keyed registries.
//!
//! **Names** ([`register`], [`whereis`], [`lookup`]) are Erlang's registered names: one name
//! per process, one process per name, released automatically when the process exits — before
//! its exit signals go out, so a restarted process can take the name back immediately. A client
//! that holds a *name* and resolves it at send time reaches the current incarnation; one that
//! holds an old [`Addr`](crate::Addr) gets `noproc`.
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::{process, registry, Message};
//!
//! let addr = process::spawn(|mut ctx| async move {
//!     while let Message::User(_n) = ctx.recv().await {}
//!     Ok(())
//! });
//! # let addr: ferrotp::Addr<u32> = addr;
//! registry::register("counter", addr.pid()).unwrap();
//! assert_eq!(registry::whereis("counter"), Some(addr.pid()));
//! let found = registry::lookup::<u32>("counter").unwrap();
//! found.send(7).unwrap();
//! # }
//! ```
//!
//! **[`Registry`]** is Elixir's `Registry`: a local key–value directory of processes with
//! unique or duplicate keys, owned by a process of its own, used for discovery and pub/sub.
//!
//! **[`Name`]** is what a process is started under and found by: a local name, or a
//! [`Via`] name that a registry resolves — [`Registry::via`] makes one from a key, Elixir's
//! `{:via, Registry, {registry, key}}`. Clients built from a name resolve it at every request
//! and so follow restarts.

mod keyed;
pub(crate) mod name;
mod via;

pub use keyed::{Keys, Registry, RegistryError};
pub use name::{lookup, register, registered, unregister, whereis};
pub use via::{Name, Via, ViaRegistry};
