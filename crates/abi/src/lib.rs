//! The contract between ferrotp's hot code loader (`ferrotp-loader`) and the actor modules it
//! loads from dynamic libraries.
//!
//! A hot module is a `cdylib` that depends on this crate — not on tokio, not on the runtime —
//! and on its interface crate, whose trait (declared with [`hot_interface`]) the module's state
//! implements, as a GenServer's handlers. The state also implements [`HotModule`] (`init`,
//! `terminate`, migrations) and is exported with one line, [`export_module!`]. The loader finds one `#[repr(C)]` [`ModuleDecl`] through the symbol
//! `ferrotp_module_decl`: a magic number, the [`CONTRACT_VERSION`], the module's name and
//! `vsn`, the [`Fingerprint`] of the build (compiler, target, panic strategy) and a table of
//! `extern "C"` [`EntryPoints`].
//!
//! What crosses the boundary is plain data: strings and byte slices borrowed for one call,
//! status codes, and opaque state pointers the module owns. Messages, replies and states are
//! encoded with serde ([`codec`]), never passed as Rust layouts or `TypeId`s, so two versions
//! of a module (or the module and its host) share no type layout at all. Every entry point
//! catches panics inside the module; nothing unwinds across the boundary. The host never
//! frees memory the module allocated: outputs are copied into host buffers through [`Out`].

mod export;
mod ffi;
mod host;
mod module;

pub mod codec;

pub use ffi::{
    effect, layout, level, Bytes, EntryPoints, Fingerprint, HostApi, HostCtx, InterfaceFingerprint,
    ModuleDecl, Out, RStr, StatePtr, Status, CONTRACT_VERSION, DECL_SYMBOL, MAGIC,
};
pub use host::Host;
pub use module::{speaks, Client, Dispatch, HotModule, Interface};

/// Declare a hot module's interface on a trait; see [`HotModule`] for a complete module.
pub use ferrotp_macros::hot_interface;

#[doc(hidden)]
pub use serde;
