//! The ferrotp runtime: Erlang/OTP's process model on tokio.
//!
//! ferrotp gives Rust programs what makes Erlang systems heal themselves: many small isolated
//! [processes](process) that share nothing, talk by messages, and watch each other through
//! [links and monitors](process#links-monitors-and-exit-signals). When a process fails — a panic, an error, a kill — it ends
//! alone, with an [`ExitReason`], and the processes that care are told through exit signals
//! and [`Down`] messages. Supervisors (built on this layer) then bring it back to a known state.
//!
//! | Erlang                          | ferrotp                                              |
//! |---------------------------------|------------------------------------------------------|
//! | `spawn/1`, `spawn_link/1`       | [`process::spawn`], [`Context::spawn_link`]          |
//! | `Pid ! Msg`                     | [`Addr::send`]                                       |
//! | `receive`                       | [`Context::recv`]                                    |
//! | `self()`                        | [`Context::pid`], [`process::current`]               |
//! | `link/1`, `unlink/1`            | [`Context::link`], [`Context::unlink`]               |
//! | `monitor/2`, `demonitor/2`      | [`Context::monitor`], [`Context::demonitor_flush`]   |
//! | `exit/2`                        | [`process::exit`], [`Context::exit`]                 |
//! | `process_flag(trap_exit, true)` | [`Context::trap_exit`]                               |
//! | `register/2`, `whereis/1`       | [`registry::register`], [`registry::whereis`]        |
//! | Elixir `Registry`               | [`registry::Registry`]                               |
//! | `erlang:send_after/3`           | [`timer::send_after`]                                |
//! | `process_info/1`                | [`process::process_info`]                            |
//!
//! # Example
//!
//! ```
//! # use ferrotp_runtime as ferrotp;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::Context;
//! use ferrotp::{process, ExitReason, Message};
//!
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! process::spawn(|mut ctx: Context| async move {
//!     ctx.trap_exit(true);
//!     // A linked worker that crashes: we are told, we do not crash.
//!     ctx.spawn_link(|_: Context| async {
//!         let config: Vec<u8> = Vec::new();
//!         let _first = config[0]; // index out of bounds: the worker panics
//!         Ok(())
//!     });
//!     if let Message::Exit(exit) = ctx.recv().await {
//!         tx.send(exit.reason).unwrap();
//!     }
//!     Ok(())
//! });
//! let reason = rx.await.unwrap();
//! assert!(matches!(reason, ExitReason::Panic { .. }));
//! # }
//! ```
//!
//! Runtime guarantees (ordering, what a kill can interrupt, panics) are listed in
//! `docs/runtime-semantics.md`, each backed by a test.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod agent;
pub mod application;
pub mod distribution;
mod error;
mod exit_reason;
pub mod gen_server;
mod message;
pub mod observe;
mod pid;
pub mod process;
pub mod registry;
pub(crate) mod signal;
pub mod supervisor;
mod sync;
pub mod sys;
pub mod task;
pub mod timer;

#[cfg(all(test, loom))]
mod models;

pub use error::{LookupError, NoProcError, RegisterError, SendError, SpawnError};
pub use exit_reason::{Detail, ExitReason, ProcessResult};
pub use message::{Down, Exit, Message};
pub use pid::{Pid, Reference};
pub use process::{Addr, Context};
