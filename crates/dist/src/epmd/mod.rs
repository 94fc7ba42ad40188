//! EPMD, the Erlang Port Mapper Daemon: where nodes on a host register the port they listen
//! on under their name, and find each other's.
//!
//! [`EpmdClient`] speaks to it: register a node ([`ALIVE2`](EpmdClient::register), which
//! holds its socket open for as long as the registration lasts, and gives the node its
//! creation), look one up ([`PORT_PLEASE2`](EpmdClient::port_please)) and list them
//! ([`NAMES`](EpmdClient::names)). Where no EPMD runs, a node starts an [`EpmdServer`] of its
//! own, as `erl` starts `epmd -daemon`: other ferrotp nodes and BEAM nodes started later use
//! it. It lives as long as the node that started it.
//!
//! The port is 4369, or `ERL_EPMD_PORT`, as for `erl`.

mod client;
mod server;

pub use client::{EpmdClient, NodeEntry, Registration};
pub use server::EpmdServer;

/// The port EPMD listens on: `ERL_EPMD_PORT`, or 4369.
pub fn default_port() -> u16 {
    std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4369)
}

pub(crate) const ALIVE2_REQ: u8 = 120;
pub(crate) const ALIVE2_RESP: u8 = 121;
pub(crate) const ALIVE2_X_RESP: u8 = 118;
pub(crate) const PORT_PLEASE2_REQ: u8 = 122;
pub(crate) const PORT2_RESP: u8 = 119;
pub(crate) const NAMES_REQ: u8 = 110;

/// Node type of a normal (published) node.
pub(crate) const NODE_TYPE_NORMAL: u8 = 77;
/// Node type of a hidden node.
pub(crate) const NODE_TYPE_HIDDEN: u8 = 72;

/// Why an EPMD exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EpmdError {
    /// No EPMD answers at the address.
    #[error("no EPMD at {addr}: {source}")]
    Unreachable {
        /// Where it was looked for.
        addr: std::net::SocketAddr,
        /// The connection error.
        source: std::io::Error,
    },
    /// The name is already registered by a running node.
    #[error("the node name {0:?} is already registered with EPMD: another node of that name runs")]
    NameTaken(String),
    /// EPMD answered with something this client does not understand.
    #[error("EPMD answered unexpectedly: {0}")]
    Protocol(String),
    /// EPMD did not answer in time.
    #[error("EPMD did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The exchange broke off.
    #[error("EPMD connection failed: {0}")]
    Io(#[from] std::io::Error),
}
