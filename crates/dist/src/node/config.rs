//! How a node is configured.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::cookie::Cookie;

/// A node's settings; see [`NodeBuilder`](super::NodeBuilder), which fills them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The full node name, `name@host`.
    pub name: String,
    /// The cookie; `~/.erlang.cookie` if none is set.
    pub cookie: Option<Cookie>,
    /// The address to listen on for connections from other nodes. Loopback unless set: a
    /// node reachable from other hosts is a decision, not a default.
    pub listen: SocketAddr,
    /// Where EPMD is: `127.0.0.1`, port `ERL_EPMD_PORT` or 4369.
    pub epmd: SocketAddr,
    /// Start an EPMD server of our own if none answers (default: yes).
    pub start_epmd: bool,
    /// OTP's `net_ticktime`: a peer from which nothing arrives for this long is dead. Ticks
    /// are sent every quarter of it. Default 60 s.
    pub net_ticktime: Duration,
    /// OTP's `net_setuptime`: how long a connection's setup may take. Default 7 s.
    pub setup_time: Duration,
    /// The largest frame accepted from a peer; a larger one closes the connection. Default
    /// 64 MiB.
    pub max_frame: usize,
    /// How many bytes may wait to be written to one peer before messages to it are refused
    /// with `Busy`. Default 64 MiB.
    pub max_queued_bytes: usize,
}

impl NodeConfig {
    /// The defaults for a node named `name`.
    pub fn new(name: impl Into<String>) -> NodeConfig {
        NodeConfig {
            name: name.into(),
            cookie: None,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            epmd: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), crate::epmd::default_port()),
            start_epmd: true,
            net_ticktime: Duration::from_secs(60),
            setup_time: Duration::from_secs(7),
            max_frame: 64 << 20,
            max_queued_bytes: 64 << 20,
        }
    }
}
