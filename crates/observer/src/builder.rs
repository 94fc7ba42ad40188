//! Configuring and starting an observer.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::{Observer, ObserverError};

/// How an [`Observer`] is set up: [`Observer::builder`].
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), ferrotp_observer::ObserverError> {
/// let observer = ferrotp_observer::Observer::builder()
///     .bind("127.0.0.1:4040")
///     .allow_actions(true) // kill, suspend, restart, upgrade from the page
///     .start()
///     .await?;
/// # drop(observer); Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ObserverBuilder {
    pub(crate) bind: String,
    pub(crate) allow_non_loopback: bool,
    pub(crate) allow_actions: bool,
    /// More `Host` values to answer to.
    pub(crate) hosts: Vec<String>,
    #[cfg(feature = "hot")]
    pub(crate) loader: Option<ferrotp_loader::Loader>,
}

impl Default for ObserverBuilder {
    fn default() -> Self {
        ObserverBuilder {
            bind: "127.0.0.1:0".into(),
            allow_non_loopback: false,
            allow_actions: false,
            hosts: Vec::new(),
            #[cfg(feature = "hot")]
            loader: None,
        }
    }
}

impl ObserverBuilder {
    /// Where to listen: `127.0.0.1:0` (any free port on loopback) unless set.
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind = addr.into();
        self
    }

    /// Allow an address that is not loopback. The page then travels in clear text and anyone
    /// who can reach the port can try tokens: put it behind TLS and a firewall.
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// Also answer requests addressed to `host`, as the browser names it in `Host`:
    /// `observer.example.com` behind a TLS proxy on the default port, `observer.example.com:8443`
    /// on another (a name given with `:443` or `:80` is answered without it too). Actions are
    /// accepted from its `http://` and `https://` origins. Every other `Host` gets 403.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into());
        self
    }

    /// Turn on the actions: kill and `exit(pid, shutdown)`, `sys` suspend and resume,
    /// `terminate_child` and `restart_child`, and hot upgrade and rollback. Off by default.
    pub fn allow_actions(mut self, allow: bool) -> Self {
        self.allow_actions = allow;
        self
    }

    /// Show hot modules (each process's module version), and with actions on, offer their
    /// upgrade to a version this loader has already loaded, and their rollback.
    #[cfg(feature = "hot")]
    pub fn loader(mut self, loader: ferrotp_loader::Loader) -> Self {
        self.loader = Some(loader);
        self
    }

    /// Bind and start serving on the current tokio runtime. Logs the URL to open, with its
    /// token, once (at `info`).
    ///
    /// # Errors
    ///
    /// [`ObserverError`]: a bad or non-loopback address, a port in use, no runtime.
    pub async fn start(self) -> Result<Observer, ObserverError> {
        let addr = resolve(&self.bind)?;
        if !addr.ip().is_loopback() && !self.allow_non_loopback {
            return Err(ObserverError::NotLoopback(addr));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ObserverError::NoRuntime);
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ObserverError::Bind { addr, source })?;
        Observer::serve(self, listener)
    }
}

fn resolve(bind: &str) -> Result<SocketAddr, ObserverError> {
    if let Ok(addr) = bind.parse() {
        return Ok(addr);
    }
    // `localhost:4000` and the like; the first address wins.
    bind.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ObserverError::BadAddress(bind.into()))
}
