//! Hot code upgrades for ferrotp: replace a running actor's code with a newly built dynamic
//! library while its processes keep their pids, their state (migrated by `code_change`) and
//! every queued message. Erlang's fourth promise, after its `sys` and release-handler protocol.
//!
//! # The model
//!
//! A *hot module* is a `cdylib` whose state implements its interface's trait (declared with
//! [`hot_interface`](ferrotp_abi::hot_interface): the handlers) and
//! [`HotModule`](ferrotp_abi::HotModule) (`init`, migrations) — a GenServer whose callbacks are
//! synchronous state transitions — plus the one line
//! [`export_module!`](ferrotp_abi::export_module). It contains no tokio: effects (casts,
//! timers, spawning, logging) go through a function table the host gives it, so the host's
//! runtime and `tracing` subscriber do the work. Messages, replies and states cross the
//! boundary as bytes (serde), never as Rust layouts, so versions share no type layout.
//!
//! A *hot process* is an ordinary process of the host — supervised, linked, registered like
//! any other — whose state lives in the module. [`Loader::start`] and [`Loader::child_spec`]
//! start them; [`HotClient`] talks to them in the types of the module's interface crate.
//!
//! Each module has Erlang's two versions: *current* (what new and restarted processes run) and
//! *old*. [`Loader::upgrade`] moves every process to a new version atomically: new starts wait;
//! processes are suspended at a message boundary (their mailboxes keep filling); each state is
//! exported by its own code and migrated by the new version's `code_change`; if every
//! migration succeeds the new states are swapped in and the processes resume, otherwise the new
//! states are dropped and everything resumes on the old code (rollback). [`Loader::downgrade`]
//! goes back, with the newer code writing the older format. [`Loader::load`] is Erlang's
//! `code:load_file`: running processes keep their code; loading a third version while
//! processes still run the old one follows the [`PurgePolicy`].
//!
//! # What is checked before any code runs
//!
//! The library is copied to a private file (`dlopen` caches by path, so a rebuild at the same
//! path would otherwise return the old code), opened with every symbol resolved, and its
//! declaration checked: magic, contract version, compiler, target, `panic = "unwind"`, then
//! the module's own self-check. Any failure is a typed [`LoadError`]; nothing running changes.
//!
//! # Trust
//!
//! A module is native code with the host's full rights; loading one is running it. The
//! [`TrustPolicy`] admits only files inside configured directories, refuses world-writable
//! files and directories, and can pin a SHA-256 allowlist. It is a guard against accidents and
//! against other local users, not a sandbox.
//!
//! # Development tools (feature `dev-tooling`)
//!
//! `DevWatcher` watches a directory (or a cargo project) and loads or upgrades each library
//! published there; `cargo_build` builds one with cargo and reads cargo's JSON messages. They
//! bring `notify` and `serde_json` in, and are meant for development: enable the
//! `dev-tooling` feature (of this crate, or of `ferrotp`) to get them.
//!
//! # Libraries are never unloaded
//!
//! Unloading a Rust `cdylib` (`dlclose`) is unsound in practice: its thread-local destructors
//! are registered with the host's threads and would run after the code is gone, and any
//! `'static` data the host still references would dangle. Every library stays mapped until the
//! program exits; [`Loader::leaked_libraries`] counts them (a few MB per version).

mod client;
mod deadline;
mod decl;
#[cfg(feature = "dev-tooling")]
mod dev;
mod error;
mod image;
mod library;
mod loader;
mod module;
mod process;
mod stage;
mod trust;
mod upgrade;
mod version;

pub use client::HotClient;
#[cfg(feature = "dev-tooling")]
pub use dev::{cargo_build, BuildError, CargoProject, DevEvent, DevWatcher};
pub use error::{HotCallError, HotStartError, LoadError, ModuleFault, UpgradeError};
pub use loader::{LoadedVersion, Loader, LoaderConfig, ModuleStatus};
pub use module::PurgePolicy;
pub use trust::{TrustPolicy, DEFAULT_MAX_LIBRARY_SIZE};
pub use upgrade::UpgradeReport;

pub use ferrotp_abi as abi;

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the checks the loader
/// runs on untrusted bytes before anything is mapped or run.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    /// The library image check, on arbitrary bytes. Never maps or runs anything.
    ///
    /// # Errors
    ///
    /// The refusal, as text.
    pub fn inspect_image(bytes: &[u8]) -> Result<(), String> {
        crate::image::inspect(Path::new("fuzz.so"), bytes)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Where [`read_declaration`] puts the data it is given.
    pub const DATA_AT: u64 = 0x1000;
    /// Where its synthetic library's code segment starts (4 KiB of it).
    pub const CODE_AT: u64 = 0x10_0000;

    /// Read a declaration from arbitrary bytes: `data` is a library's data segment at
    /// [`DATA_AT`], holding the declaration at its start (and whatever its pointers point at),
    /// beside a code segment at [`CODE_AT`].
    ///
    /// # Errors
    ///
    /// The refusal, as text.
    pub fn read_declaration(data: &[u8]) -> Result<(String, String), String> {
        let memory = crate::decl::Synthetic::new(vec![
            (DATA_AT, data.to_vec(), false),
            (CODE_AT, vec![0; 4096], true),
        ]);
        crate::decl::read(&memory, DATA_AT, Path::new("fuzz.so"))
            .map(|d| (d.name, d.vsn))
            .map_err(|e| e.to_string())
    }
}
