//! The running observer: its shared state, and the handle that keeps it serving.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
#[cfg(any(feature = "hot", feature = "dist"))]
use serde_json::json;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use ferrotp_runtime::Pid;

use crate::builder::ObserverBuilder;
use crate::tracker::Tracker;
use crate::{routes, security, ObserverError};

/// What every request handler shares.
pub(crate) struct App {
    pub(crate) hosts: Vec<String>,
    /// The name of this observer's cookie.
    pub(crate) cookie: String,
    pub(crate) allow_actions: bool,
    pub(crate) tracker: Mutex<Tracker>,
    /// Flips to `true` when the observer stops: open event streams end.
    pub(crate) stopping: watch::Receiver<bool>,
    #[cfg(feature = "hot")]
    pub(crate) loader: Option<ferrotp_loader::Loader>,
}

impl App {
    /// Each hot process's `module vsn`.
    pub(crate) fn module_versions(&self) -> FxHashMap<Pid, String> {
        #[allow(unused_mut)]
        let mut versions = FxHashMap::default();
        #[cfg(feature = "hot")]
        if let Some(loader) = &self.loader {
            for name in loader.modules() {
                if let Some(status) = loader.module(&name) {
                    for (pid, vsn) in status.processes {
                        versions.insert(pid, format!("{name} {vsn}"));
                    }
                }
            }
        }
        versions
    }

    /// The hot modules, their versions and the versions they can be upgraded to.
    pub(crate) fn modules_json(&self) -> Value {
        #[cfg(feature = "hot")]
        if let Some(loader) = &self.loader {
            let modules: Vec<Value> = loader
                .modules()
                .into_iter()
                .filter_map(|name| {
                    let status = loader.module(&name)?;
                    // The rollback target is offered as a rollback, not as an upgrade; after a
                    // downgrade the kept version is the newer one, and upgrading to it is how
                    // to move forward again.
                    let rollback = status.old.clone().filter(|_| !status.old_is_newer);
                    let mut upgrades: Vec<String> = Vec::new();
                    for k in loader.known_versions(&name) {
                        if k.vsn != status.current
                            && Some(&k.vsn) != rollback.as_ref()
                            && !upgrades.contains(&k.vsn)
                        {
                            upgrades.push(k.vsn);
                        }
                    }
                    Some(json!({
                        "name": name,
                        "current": status.current,
                        "old": status.old,
                        "rollback": rollback,
                        "processes": status.processes.len(),
                        "upgrades": upgrades,
                    }))
                })
                .collect();
            return json!(modules);
        }
        Value::Null
    }

    /// This node's name, if distribution runs.
    pub(crate) fn node_name(&self) -> Option<String> {
        #[cfg(feature = "dist")]
        if let Some(node) = ferrotp_dist::node() {
            return Some(node.name().to_owned());
        }
        None
    }

    /// Connected nodes, what is queued toward each, and the links and monitors that cross
    /// nodes; `null` without a running node.
    pub(crate) fn dist_json(&self) -> Value {
        #[cfg(feature = "dist")]
        if let Some(node) = ferrotp_dist::node() {
            let nodes: Vec<Value> = node
                .nodes()
                .into_iter()
                .map(|n| json!({ "name": n, "queued_bytes": node.queued_bytes(&n) }))
                .collect();
            let mut links = Vec::new();
            let mut monitors = Vec::new();
            for pid in ferrotp_runtime::process::processes() {
                let Some(info) = ferrotp_runtime::process::process_info(pid) else {
                    continue;
                };
                for other in info.links.iter().filter(|p| !p.is_local()) {
                    links.push(json!({
                        "local": crate::json::pid_key(pid), "local_pid": pid.to_string(),
                        "remote": other.to_string(), "node": node.node_of(*other),
                    }));
                }
                for (other, kind) in info
                    .monitors
                    .iter()
                    .map(|p| (p, "monitors"))
                    .chain(info.monitored_by.iter().map(|p| (p, "monitored by")))
                    .filter(|(p, _)| !p.is_local())
                {
                    monitors.push(json!({
                        "local": crate::json::pid_key(pid), "local_pid": pid.to_string(),
                        "kind": kind, "remote": other.to_string(), "node": node.node_of(*other),
                    }));
                }
            }
            return json!({
                "node": node.name(),
                "nodes": nodes,
                "links": links,
                "monitors": monitors,
            });
        }
        Value::Null
    }
}

/// A running observer. It serves while this handle lives: dropping it, or
/// [`shutdown`](Self::shutdown), stops it.
#[derive(Debug)]
pub struct Observer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Observer {
    /// Configure an observer.
    pub fn builder() -> ObserverBuilder {
        ObserverBuilder::default()
    }

    pub(crate) fn serve(
        builder: ObserverBuilder,
        listener: tokio::net::TcpListener,
    ) -> Result<Observer, ObserverError> {
        let addr = listener
            .local_addr()
            .map_err(|source| ObserverError::Bind {
                addr: "0.0.0.0:0".parse().expect("a socket address"),
                source,
            })?;
        let (stop, stopping) = watch::channel(false);
        let app = Arc::new(App {
            hosts: security::allowed_hosts(addr, &builder.hosts),
            cookie: security::cookie_name(addr.port()),
            allow_actions: builder.allow_actions,
            tracker: Mutex::new(Tracker::default()),
            stopping: stopping.clone(),
            #[cfg(feature = "hot")]
            loader: builder.loader,
        });
        let router = routes::router(app);
        let mut until_stopped = stopping;
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = until_stopped.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the observer stopped serving");
            }
        });
        let observer = Observer {
            addr,
            stop,
            task: Some(task),
        };
        tracing::info!(url = %observer.url(), actions = builder.allow_actions, "observer listening; open the URL to see the system");
        Ok(observer)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to open, with the token: `http://127.0.0.1:PORT/?token=…`. Treat it as a
    /// password.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, security::token())
    }

    /// Stop serving: open pages lose their connection (and reconnect to an observer started
    /// again on the same address). Returns once the listener is closed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
