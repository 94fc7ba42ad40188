//! Erlang's distribution protocol for ferrotp: a ferrotp node joins Erlang and Elixir
//! clusters, and ferrotp nodes talk to each other over the same wire.
//!
//! - [`Node`]: start a node (`rust@127.0.0.1`), connect, export servers to other nodes,
//!   call, cast and send to theirs. Links, monitors and exit signals between local and
//!   remote processes are the runtime's own, with OTP's semantics.
//! - [`epmd`]: the port mapper, as a client and as a server of its own.
//! - [`Term`], [`to_term`], [`from_term`]: the External Term Format and the `serde`
//!   mapping of Rust types to terms.
//!
//! The protocol is OTP's, version 6 (OTP 23+; OTP 25 and 26 require it), so that a ferrotp
//! node is a peer of real BEAM nodes. `docs/distribution.md` in the repository describes what
//! is supported and how it maps onto OTP.

#![forbid(unsafe_code)]

mod connection;
mod control;
pub mod epmd;
mod export;
pub mod flags;
mod handshake;
pub mod node;
pub mod reason;
pub mod request;
pub mod serde;
pub mod term;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use crate::serde::{from_term, to_term, SerdeError};
pub use export::{RemoteCaller, RemoteServer};
pub use handshake::HandshakeError;
pub use node::{
    node, Cookie, CookieError, Dest, DistError, Node, NodeBuilder, NodeConfig, NodeEvent,
    RemoteCallError,
};
pub use term::{
    Atom, BigInt, DecodeError, DecodeLimits, EncodeError, ExternalPid, ExternalPort, ExternalRef,
    Term,
};
