//! # ferrotp
//!
//! Erlang/OTP's fault-tolerance model for Rust, on tokio: lightweight isolated processes,
//! links and monitors, GenServers, supervision trees, "let it crash", and hot code upgrades.
//!
//! This facade re-exports the runtime ([`ferrotp_runtime`]); most programs only need the
//! [`prelude`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use ferrotp::prelude::*;
//!
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! process::spawn::<(), _, _>(|mut ctx| async move {
//!     let (_worker, reference) = ctx.spawn_monitor::<(), _, _>(|_| async {
//!         Err(ExitReason::error("lost connection"))
//!     });
//!     if let Message::Down(down) = ctx.recv().await {
//!         assert_eq!(down.reference, reference);
//!         tx.send(down.reason).unwrap();
//!     }
//!     Ok(())
//! });
//! assert_eq!(rx.await.unwrap(), ExitReason::error("lost connection"));
//! # }
//! ```

#![forbid(unsafe_code)]

pub use ferrotp_runtime::*;

/// The names most programs use.
pub mod prelude {
    pub use ferrotp_runtime::agent::Agent;
    pub use ferrotp_runtime::gen_server::{
        self, CallError, CallResult, GenServer, HandleResult, Info, Init, Next, ReplyTo, Server,
        ServerContext, StartError, StartOptions,
    };
    pub use ferrotp_runtime::process::{self, Builder};
    pub use ferrotp_runtime::registry::{self, Keys, Registry};
    pub use ferrotp_runtime::sys;
    pub use ferrotp_runtime::timer::{self, TimerRef};
    pub use ferrotp_runtime::{
        Addr, Context, Down, Exit, ExitReason, Message, NoProcError, Pid, ProcessResult, Reference,
        SendError, SpawnError,
    };
}
