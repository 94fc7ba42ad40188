//! What can go wrong starting an observer.

use std::net::SocketAddr;

/// The observer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObserverError {
    /// The address is not a socket address (`127.0.0.1:4000`, `[::1]:0`).
    #[error("not a socket address: {0:?} (expected for example 127.0.0.1:0)")]
    BadAddress(String),
    /// The address is not loopback, and serving other machines was not asked for.
    #[error("{0} is not a loopback address: call allow_non_loopback(true) to serve other machines (and put TLS in front)")]
    NotLoopback(SocketAddr),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No tokio runtime: start the observer from inside one.
    #[error("the observer must be started from inside a tokio runtime")]
    NoRuntime,
}
