//! A running node's state, shared by its handle, its connections and the runtime's seam.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrotp_runtime::distribution::{self, Distribution};
use ferrotp_runtime::{process, registry, Down, ExitReason, Pid, Reference};
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, oneshot, watch};

use super::config::NodeConfig;
use super::cookie::Cookie;
use super::table::{Deferred, NodeTable, Slot};
use super::{Dest, DistError, NodeEvent, RemoteCallError};
use crate::connection::{Connection, Inbound, RemoteMonitor};
use crate::control::{Control, ProcRef, Reason};
use crate::epmd::EpmdClient;
use crate::export::Inbox;
use crate::flags::DistFlags;
use crate::handshake::{self, Admission, HandshakeError, Me};
use crate::reason;
use crate::term::{Atom, ExternalPid, ExternalRef, Term};

/// A call this node made to a process on another node, waiting for its reply.
struct PendingCall {
    /// The connection the call went out on.
    conn: Weak<Connection>,
    tx: oneshot::Sender<Result<Term, RemoteCallError>>,
}

#[derive(Default)]
pub(crate) struct Exports {
    pub(crate) by_name: HashMap<String, Arc<dyn Inbox>>,
    pub(crate) by_pid: HashMap<Pid, Arc<dyn Inbox>>,
}

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) atom: Atom,
    pub(crate) creation: u32,
    cookie: Cookie,
    pub(crate) config: NodeConfig,
    pub(crate) table: Mutex<NodeTable>,
    pub(crate) exports: RwLock<Exports>,
    calls: Mutex<HashMap<Reference, PendingCall>>,
    /// The node's own process: the sender of calls and of messages sent from outside any
    /// process.
    pub(crate) router: Pid,
    /// A random word in every reference this node sends: a peer cannot forge a reference of
    /// ours (a call's tag) by counting.
    ref_salt: u32,
    /// The node stopped: no connection is registered any more.
    stopped: std::sync::atomic::AtomicBool,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) me: Weak<Shared>,
}

impl Shared {
    pub(crate) fn new(
        config: NodeConfig,
        cookie: Cookie,
        creation: u32,
        router: Pid,
    ) -> Arc<Shared> {
        Arc::new_cyclic(|me| Shared {
            atom: Atom::new(&config.name),
            name: config.name.clone(),
            creation,
            cookie,
            config,
            table: Mutex::new(NodeTable::default()),
            exports: RwLock::new(Exports::default()),
            calls: Mutex::new(HashMap::new()),
            router,
            ref_salt: {
                let mut b = [0u8; 4];
                let _ = getrandom::getrandom(&mut b);
                u32::from_be_bytes(b)
            },
            stopped: std::sync::atomic::AtomicBool::new(false),
            events: broadcast::channel(64).0,
            me: me.clone(),
        })
    }

    fn me(&self) -> Me<'_> {
        Me {
            name: &self.name,
            flags: DistFlags::OURS,
            creation: self.creation,
            cookie: &self.cookie,
        }
    }

    fn arc(&self) -> Arc<Shared> {
        self.me
            .upgrade()
            .expect("a node's state outlives its own methods")
    }

    // --- pids and references on the wire -------------------------------------------------

    /// `pid` as other nodes name it.
    pub(crate) fn wire_pid(&self, pid: Pid) -> Option<ExternalPid> {
        let (node, creation) = if pid.is_local() {
            (self.atom.clone(), self.creation)
        } else {
            (self.table.lock().name(pid.node())?.clone(), pid.creation())
        };
        Some(ExternalPid {
            node,
            id: pid.serial() as u32,
            serial: (pid.serial() >> 32) as u32,
            creation,
        })
    }

    /// The pid other nodes call `p`.
    pub(crate) fn local_pid_of(&self, p: &ExternalPid) -> Pid {
        let serial = u64::from(p.serial) << 32 | u64::from(p.id);
        if p.node == self.atom {
            // One of ours; from an earlier incarnation it names no process.
            let creation = if p.creation == self.creation {
                Pid::local_creation()
            } else {
                p.creation ^ 0x8000_0000
            };
            return Pid::from_parts(0, creation, serial);
        }
        let index = self.table.lock().index(&p.node);
        Pid::from_parts(index, p.creation, serial)
    }

    /// `pid` as the peer of `conn` names it, without the node table: a pid of this node or
    /// of that peer's.
    fn wire_pid_on(&self, conn: &Connection, pid: Pid) -> Option<ExternalPid> {
        if pid.is_local() {
            return self.wire_pid(pid);
        }
        (pid.node() == conn.index).then(|| ExternalPid {
            node: Atom::new(&conn.peer.name),
            id: pid.serial() as u32,
            serial: (pid.serial() >> 32) as u32,
            creation: pid.creation(),
        })
    }

    pub(crate) fn wire_ref(&self, r: Reference) -> ExternalRef {
        ExternalRef {
            node: self.atom.clone(),
            creation: self.creation,
            id: vec![r.id() as u32, (r.id() >> 32) as u32, self.ref_salt],
        }
    }

    fn local_ref_of(&self, r: &ExternalRef) -> Option<Reference> {
        if r.node != self.atom
            || r.creation != self.creation
            || r.id.len() != 3
            || r.id[2] != self.ref_salt
        {
            return None;
        }
        Some(Reference::from_id(
            u64::from(r.id[0]) | u64::from(r.id[1]) << 32,
        ))
    }

    // --- connections ---------------------------------------------------------------------

    /// Run `work` with the connection to node `index`, connecting first if needed.
    fn with_conn(&self, index: u32, work: Deferred) {
        let mut table = self.table.lock();
        if let Some(c) = table.up(index).cloned() {
            drop(table);
            c.run(Box::new(move |c| work(Ok(c))));
            return;
        }
        match table.slots.get_mut(&index) {
            Some(Slot::Connecting { deferred, .. }) => deferred.push(work),
            _ => {
                let Some(name) = table.name(index).cloned() else {
                    drop(table);
                    work(Err("unknown node"));
                    return;
                };
                let attempt = table.new_attempt();
                table.slots.insert(
                    index,
                    Slot::Connecting {
                        attempt,
                        deferred: vec![work],
                        done: watch::channel(None).0,
                    },
                );
                drop(table);
                let shared = self.arc();
                tokio::spawn(async move { shared.attempt(index, name, attempt).await });
            }
        }
    }

    /// Run `work` with the connection to `index` if it is up, or once the connection being set
    /// up is (after what was queued before it, so that an unlink follows its link); nothing if
    /// there is neither.
    fn if_connected(&self, index: u32, work: impl FnOnce(&Arc<Connection>) + Send + 'static) {
        let mut table = self.table.lock();
        if let Some(c) = table.up(index).cloned() {
            drop(table);
            c.run(Box::new(work));
            return;
        }
        if let Some(Slot::Connecting { deferred, .. }) = table.slots.get_mut(&index) {
            deferred.push(Box::new(move |conn| {
                if let Ok(c) = conn {
                    work(c);
                }
            }));
        }
    }

    /// The connection to `node`, set up if needed.
    pub(crate) async fn connect(&self, node: &str) -> Result<Arc<Connection>, DistError> {
        if !handshake::valid_node_name(node) {
            return Err(DistError::InvalidName(node.to_owned()));
        }
        if node == self.name {
            return Err(DistError::ConnectFailed {
                node: node.to_owned(),
                reason: "a node does not connect to itself".into(),
            });
        }
        let index = self.table.lock().index(&Atom::new(node));
        // Start an attempt if none runs, and wait for its outcome.
        self.with_conn(index, Box::new(|_| {}));
        let mut done = {
            let table = self.table.lock();
            if let Some(c) = table.up(index) {
                return Ok(c.clone());
            }
            match table.slots.get(&index) {
                Some(Slot::Connecting { done, .. }) => done.subscribe(),
                _ => {
                    return Err(DistError::ConnectFailed {
                        node: node.to_owned(),
                        reason: "the attempt failed".into(),
                    })
                }
            }
        };
        let outcome = done
            .wait_for(|o| o.is_some())
            .await
            .map(|o| o.clone())
            .ok()
            .flatten();
        match outcome {
            Some(Ok(())) => self
                .table
                .lock()
                .up(index)
                .cloned()
                .ok_or_else(|| DistError::NotConnected(node.to_owned())),
            Some(Err(reason)) => Err(DistError::ConnectFailed {
                node: node.to_owned(),
                reason,
            }),
            None => Err(DistError::ConnectFailed {
                node: node.to_owned(),
                reason: "the attempt was abandoned".into(),
            }),
        }
    }

    /// Our own attempt to connect to `name`.
    async fn attempt(self: Arc<Self>, index: u32, name: Atom, attempt: u64) {
        let setup = self.config.setup_time;
        let result = tokio::time::timeout(setup, self.dial(&name, attempt)).await;
        match result {
            Ok(Ok((stream, peer))) => self.register(index, stream, peer, Some(attempt)),
            Ok(Err(DistError::Handshake(HandshakeError::Refused(why)))) if why == "nok" => {
                // The peer keeps its own attempt toward us; it arrives as an incoming
                // connection. Give up only if it has not within the setup time.
                tokio::time::sleep(setup).await;
                self.fail(
                    index,
                    attempt,
                    "simultaneous connect: the peer's attempt did not arrive",
                );
            }
            Ok(Err(e)) => {
                tracing::warn!(node = %name, attempt, error = %e, "connection attempt failed");
                self.fail(index, attempt, &e.to_string());
            }
            Err(_) => {
                tracing::warn!(node = %name, "connection setup timed out after {setup:?}");
                self.fail(index, attempt, &format!("setup timed out after {setup:?}"));
            }
        }
    }

    async fn dial(
        &self,
        name: &Atom,
        attempt: u64,
    ) -> Result<(TcpStream, handshake::Peer), DistError> {
        let (alive, host) = name
            .as_str()
            .split_once('@')
            .ok_or_else(|| DistError::InvalidName(name.as_str().to_owned()))?;
        let ip = resolve(host).await?;
        let epmd = EpmdClient::new(SocketAddr::new(ip, self.config.epmd.port()))
            .timeout(self.config.setup_time);
        let entry = epmd
            .port_please(alive)
            .await?
            .ok_or_else(|| DistError::ConnectFailed {
                node: name.as_str().to_owned(),
                reason: format!(
                    "no node named {alive} is registered with EPMD at {}",
                    epmd.addr()
                ),
            })?;
        let index = self.table.lock().index(name);
        let shared = self.arc();
        // Whether this attempt is still the one its node waits on: an attempt overtaken (by an
        // incoming connection that came up, or a disconnect and a newer attempt) must not
        // start a handshake the peer would accept for nothing.
        let still_wanted = move || {
            matches!(shared.table.lock().slots.get(&index),
                Some(Slot::Connecting { attempt: a, .. }) if *a == attempt)
        };
        let abandoned = || DistError::ConnectFailed {
            node: name.as_str().to_owned(),
            reason: "the attempt was overtaken".into(),
        };
        if !still_wanted() {
            return Err(abandoned());
        }
        let mut stream = TcpStream::connect(SocketAddr::new(ip, entry.port)).await?;
        let _ = stream.set_nodelay(true);
        if !still_wanted() {
            return Err(abandoned());
        }
        let peer =
            handshake::initiate(&mut stream, &self.me(), name.as_str(), still_wanted).await?;
        Ok((stream, peer))
    }

    /// Make `stream` the connection to `index`, unless another has won meanwhile.
    fn register(&self, index: u32, stream: TcpStream, peer: handshake::Peer, attempt: Option<u64>) {
        let name = peer.name.clone();
        let (conn, queued) = {
            let mut table = self.table.lock();
            let superseded = match table.slots.get(&index) {
                Some(Slot::Up(c)) => !c.is_closed(),
                Some(Slot::Connecting { attempt: a, .. }) => attempt.is_some_and(|mine| mine != *a),
                None => false,
            };
            if superseded || self.stopped.load(std::sync::atomic::Ordering::Acquire) {
                tracing::debug!(node = %name, ?attempt, "dropping a connection another one superseded");
                return;
            }
            tracing::debug!(node = %name, ?attempt, "registered");
            let conn = Connection::start(stream, index, peer, &self.config, self.arc());
            // Up at once, for everyone; the work queued for it runs first all the same, as
            // the connection keeps later work behind it until it is done.
            let (queued, done) = match table.slots.insert(index, Slot::Up(conn.clone())) {
                Some(Slot::Connecting { deferred, done, .. }) => (deferred, Some(done)),
                _ => (Vec::new(), None),
            };
            // Under the lock, so that a loss (which takes it) is reported after this; the
            // event channel only queues, whoever it wakes takes no lock of ours.
            let _ = self.events.send(NodeEvent::Up(name.clone()));
            (conn, (queued, done))
        };
        let (queued, done) = queued;
        // Those waiting in `connect` are woken outside the lock they would take next.
        if let Some(done) = done {
            let _ = done.send(Some(Ok(())));
        }
        tracing::info!(node = %name, "connected");
        conn.drain(
            queued
                .into_iter()
                .map(|work| {
                    Box::new(move |c: &Arc<Connection>| work(Ok(c))) as crate::connection::Work
                })
                .collect(),
        );
    }

    /// Attempt `attempt` to reach `index` failed: tell those waiting.
    fn fail(&self, index: u32, attempt: u64, why: &str) {
        let mut table = self.table.lock();
        let current = matches!(table.slots.get(&index),
            Some(Slot::Connecting { attempt: a, .. }) if *a == attempt);
        if !current {
            return;
        }
        let Some(Slot::Connecting { deferred, done, .. }) = table.slots.remove(&index) else {
            return;
        };
        drop(table);
        // Outside the lock: the work may terminate processes, whose exits come back here.
        for work in deferred {
            work(Err(why));
        }
        let _ = done.send(Some(Err(why.to_owned())));
    }

    /// Accept a connection from another node.
    pub(crate) async fn accept(self: Arc<Self>, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        // The slot this handshake will register into, and whether this handshake created it
        // (then its failure fails the slot) or shares it with our own attempt (then the
        // attempt goes on: an unauthenticated peer must not fail it).
        let mut claimed: Option<(u32, u64, bool)> = None;
        let shared = self.clone();
        let admit = |name: &str| {
            let mut table = shared.table.lock();
            let index = table.index(&Atom::new(name));
            let admission = match table.slots.get(&index) {
                Some(Slot::Up(c)) if !c.is_closed() => Admission::Alive,
                Some(Slot::Connecting { .. }) if shared.name.as_str() > name => Admission::Nok,
                Some(Slot::Connecting { .. }) => Admission::Simultaneous,
                _ => Admission::Ok,
            };
            match (admission, table.slots.get(&index)) {
                (Admission::Simultaneous, Some(Slot::Connecting { attempt, .. })) => {
                    claimed = Some((index, *attempt, false));
                }
                (Admission::Ok, _) => {
                    let attempt = table.new_attempt();
                    table.slots.insert(
                        index,
                        Slot::Connecting {
                            attempt,
                            deferred: Vec::new(),
                            done: watch::channel(None).0,
                        },
                    );
                    claimed = Some((index, attempt, true));
                }
                (Admission::Alive, _) => claimed = Some((index, table.new_attempt(), true)),
                _ => {}
            }
            tracing::debug!(node = name, ?admission, "incoming connection");
            admission
        };
        let me = self.me();
        let handshake = tokio::time::timeout(
            self.config.setup_time,
            handshake::accept(&mut stream, &me, admit),
        )
        .await;
        match handshake {
            Ok(Ok(peer)) => {
                let (index, attempt, _) = claimed.expect("an admitted handshake claimed a slot");
                let old = {
                    let mut table = self.table.lock();
                    match table.slots.get(&index) {
                        Some(Slot::Up(_)) => {
                            // The peer said the old connection is dead (`alive` answered
                            // `true`): this one replaces it.
                            let old = table.slots.insert(
                                index,
                                Slot::Connecting {
                                    attempt,
                                    deferred: Vec::new(),
                                    done: watch::channel(None).0,
                                },
                            );
                            match old {
                                Some(Slot::Up(c)) => Some(c),
                                _ => None,
                            }
                        }
                        _ => None,
                    }
                };
                if let Some(old) = old {
                    old.close();
                    self.lost(
                        &old,
                        "replaced by a new connection from the same node".into(),
                    );
                }
                self.register(index, stream, peer, Some(attempt));
            }
            Ok(Err(e)) => {
                match &e {
                    HandshakeError::WrongCookie { peer } => tracing::error!(
                        node = %peer,
                        "refused a connection: the node does not share our cookie"
                    ),
                    e => tracing::warn!(error = %e, "refused an incoming connection"),
                }
                if let Some((index, attempt, true)) = claimed {
                    self.fail(index, attempt, &e.to_string());
                }
            }
            Err(_) => {
                tracing::warn!("an incoming handshake timed out");
                if let Some((index, attempt, true)) = claimed {
                    self.fail(index, attempt, "incoming handshake timed out");
                }
            }
        }
    }

    /// Close the connection to `node`.
    pub(crate) fn disconnect(&self, node: &str) -> bool {
        let conn = {
            let table = self.table.lock();
            table.index_of(node).and_then(|i| table.up(i).cloned())
        };
        match conn {
            Some(c) => {
                c.close();
                self.lost(&c, "disconnected".into());
                true
            }
            None => false,
        }
    }

    /// Close every connection and fail every attempt (the node stops).
    pub(crate) fn disconnect_all(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        let (conns, attempts): (Vec<_>, Vec<_>) = {
            let table = self.table.lock();
            let mut conns = Vec::new();
            let mut attempts = Vec::new();
            for (index, slot) in &table.slots {
                match slot {
                    Slot::Up(c) => conns.push(c.clone()),
                    Slot::Connecting { attempt, .. } => attempts.push((*index, *attempt)),
                }
            }
            (conns, attempts)
        };
        for c in conns {
            c.close();
            self.lost(&c, "the node stopped".into());
        }
        for (index, attempt) in attempts {
            self.fail(index, attempt, "the node stopped");
        }
    }

    // --- messages out ---------------------------------------------------------------------

    /// Send `message` to `dest` from `from` (the current process, or the node's own).
    pub(crate) async fn send(&self, dest: &Dest, message: Term) -> Result<(), DistError> {
        let from = process::current().unwrap_or(self.router);
        let from = self.wire_pid(from).expect("a local pid has a name");
        let (conn, control) = match dest {
            Dest::Pid(pid) => {
                if pid.is_local() {
                    return Err(DistError::LocalPid(*pid));
                }
                let node = self
                    .table
                    .lock()
                    .name(pid.node())
                    .cloned()
                    .ok_or(DistError::UnknownNode(pid.node()))?;
                let conn = self.connect(node.as_str()).await?;
                let to = self
                    .wire_pid(*pid)
                    .ok_or(DistError::UnknownNode(pid.node()))?;
                (
                    conn,
                    Control::Send {
                        from: Some(from),
                        to,
                    },
                )
            }
            Dest::Name { name, node } => {
                let conn = self.connect(node).await?;
                (
                    conn,
                    Control::RegSend {
                        from,
                        to: Atom::new(name),
                    },
                )
            }
        };
        conn.send_in_order(&control, Some(&message), true)
    }

    /// Call the `gen_server` at `dest` with `request`, as `gen_server:call/3` does: monitor
    /// it, send `{'$gen_call', {From, Tag}, Request}`, wait for `{Tag, Reply}` or the monitor's
    /// down.
    pub(crate) async fn call(
        &self,
        dest: &Dest,
        request: Term,
        timeout: Duration,
    ) -> Result<Term, RemoteCallError> {
        let (node, target) = match dest {
            Dest::Pid(pid) => {
                let node = self
                    .table
                    .lock()
                    .name(pid.node())
                    .cloned()
                    .ok_or(DistError::UnknownNode(pid.node()))?;
                let ext = self
                    .wire_pid(*pid)
                    .ok_or(DistError::UnknownNode(pid.node()))?;
                (node.as_str().to_owned(), ProcRef::Pid(ext))
            }
            Dest::Name { name, node } => (node.clone(), ProcRef::Name(Atom::new(name))),
        };
        let conn = self.connect(&node).await?;
        let tag = Reference::new();
        let ext_tag = self.wire_ref(tag);
        let router = self.wire_pid(self.router).expect("a local pid has a name");
        let (tx, rx) = oneshot::channel();
        self.calls.lock().insert(
            tag,
            PendingCall {
                conn: Arc::downgrade(&conn),
                tx,
            },
        );
        let message = Term::tuple([
            Term::atom("$gen_call"),
            Term::tuple([Term::Pid(router.clone()), Term::Ref(ext_tag.clone())]),
            request,
        ]);
        let to_send = match &target {
            ProcRef::Pid(p) => Control::Send {
                from: Some(router.clone()),
                to: p.clone(),
            },
            ProcRef::Name(n) => Control::RegSend {
                from: router.clone(),
                to: n.clone(),
            },
        };
        let monitor = Control::MonitorP {
            from: router.clone(),
            to: target.clone(),
            reference: ext_tag.clone(),
        };
        let sent = conn
            .send_in_order(&monitor, None, false)
            .and_then(|()| conn.send_in_order(&to_send, Some(&message), true));
        if let Err(e) = sent {
            self.calls.lock().remove(&tag);
            return Err(e.into());
        }
        let outcome = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(RemoteCallError::Dist(DistError::NotConnected(node.clone()))),
            Err(_) => {
                self.calls.lock().remove(&tag);
                Err(RemoteCallError::Timeout(timeout))
            }
        };
        if !matches!(outcome, Err(RemoteCallError::Exit(_))) {
            let _ = conn.send(
                &Control::DemonitorP {
                    from: router,
                    to: target,
                    reference: ext_tag,
                },
                None,
                false,
            );
        }
        outcome
    }

    /// Local `watcher` monitors the process registered as `name` on `node` (Erlang's
    /// `monitor(process, {Name, Node})`).
    pub(crate) fn monitor_name(
        &self,
        watcher: Pid,
        name: &str,
        node: &str,
    ) -> Result<Reference, DistError> {
        if !handshake::valid_node_name(node) {
            return Err(DistError::InvalidName(node.to_owned()));
        }
        let index = self.table.lock().index(&Atom::new(node));
        let target = name_pid(index);
        let reference =
            distribution::add_monitor(watcher, target).map_err(|_| DistError::NotAProcess)?;
        let shared = self.arc();
        let name = Atom::new(name);
        self.with_conn(
            index,
            Box::new(move |conn| match conn {
                Ok(c) => {
                    if !c.relate(|rel| {
                        rel.monitoring.insert(reference, (watcher, target));
                        rel.monitoring_names.insert(reference, name.clone());
                    }) {
                        unreachable_down(watcher, reference, target);
                        return;
                    }
                    let Some(w) = shared.wire_pid_on(c, watcher) else {
                        return;
                    };
                    let _ = c.send(
                        &Control::MonitorP {
                            from: w,
                            to: ProcRef::Name(name),
                            reference: shared.wire_ref(reference),
                        },
                        None,
                        false,
                    );
                }
                Err(_) => unreachable_down(watcher, reference, target),
            }),
        );
        Ok(reference)
    }

    /// Send a reply to a call that came from another node.
    pub(crate) fn reply(&self, index: u32, to: &ExternalPid, tag: &Term, reply: Term) {
        let message = Term::tuple([tag.clone(), reply]);
        let router = self.wire_pid(self.router).expect("a local pid has a name");
        // `[alias | Ref]`: OTP 24+ callers wait on an alias; the reply goes to it.
        let control = match tag {
            Term::ImproperList(head, tail) if head.len() == 1 && head[0].is_atom("alias") => {
                match &**tail {
                    Term::Ref(alias) => Control::AliasSend {
                        from: router,
                        alias: alias.clone(),
                    },
                    _ => Control::Send {
                        from: Some(router),
                        to: to.clone(),
                    },
                }
            }
            _ => Control::Send {
                from: Some(router),
                to: to.clone(),
            },
        };
        self.if_connected(index, move |c| {
            // A reply is the answer to a message the peer sent: it is not refused for
            // back-pressure, or the caller would wait for nothing.
            if let Err(e) = c.send(&control, Some(&message), false) {
                tracing::warn!(node = %c.peer.name, error = %e, "reply not sent");
            }
        });
    }

    // --- messages in ----------------------------------------------------------------------

    fn deliver(
        &self,
        conn: &Arc<Connection>,
        to: &ExternalPid,
        from: Option<ExternalPid>,
        message: Term,
    ) {
        let pid = self.local_pid_of(to);
        if pid == self.router {
            self.router_received(conn, message);
            return;
        }
        let inbox = {
            let exports = self.exports.read();
            exports.by_pid.get(&pid).cloned().or_else(|| {
                let name = process::process_info(pid)?.registered_name?;
                exports.by_name.get(&*name).cloned()
            })
        };
        match inbox {
            Some(inbox) => inbox.deliver(self, conn, from, message),
            None if process::is_alive(pid) => tracing::warn!(
                node = %conn.peer.name, %pid,
                "message from another node dropped: the process is not exported (Node::export)"
            ),
            None => tracing::debug!(%pid, "message from another node to a dead process dropped"),
        }
    }

    fn deliver_named(&self, conn: &Arc<Connection>, name: &Atom, from: ExternalPid, message: Term) {
        let inbox = {
            let exports = self.exports.read();
            exports.by_name.get(name.as_str()).cloned().or_else(|| {
                let pid = registry::whereis(name.as_str())?;
                exports.by_pid.get(&pid).cloned()
            })
        };
        match inbox {
            Some(inbox) => inbox.deliver(self, conn, Some(from), message),
            None if name.as_str() == "net_kernel" => self.net_kernel(conn, message),
            None => tracing::warn!(
                node = %conn.peer.name, name = name.as_str(),
                "message from another node dropped: no exported process is registered under the name"
            ),
        }
    }

    /// The one `net_kernel` request a hidden node must answer: `{is_auth, Node}`, which
    /// `net_adm:ping/1` (Elixir's `Node.ping/1`) calls; `yes`, since the handshake has
    /// authenticated the node.
    fn net_kernel(&self, conn: &Arc<Connection>, message: Term) {
        match crate::export::gen_call(message) {
            Ok((from, tag, request))
                if request
                    .as_tuple()
                    .is_some_and(|r| r.len() == 2 && r[0].is_atom("is_auth")) =>
            {
                self.reply(conn.index, &from, &tag, Term::atom("yes"));
            }
            Ok((_, _, request)) => tracing::warn!(
                node = %conn.peer.name, %request,
                "net_kernel request not supported by a ferrotp node; dropped"
            ),
            Err(message) => tracing::warn!(
                node = %conn.peer.name, %message,
                "message to net_kernel dropped"
            ),
        }
    }

    /// A message to the node's own process: the reply to one of its calls.
    fn router_received(&self, conn: &Arc<Connection>, message: Term) {
        let Some([tag, reply]) = message.as_tuple() else {
            tracing::debug!(%message, "unexpected message to the node's process dropped");
            return;
        };
        let tag = match tag {
            Term::Ref(r) => self.local_ref_of(r),
            _ => None,
        };
        if let Some(tag) = tag {
            self.settle_call(conn, tag, Ok(reply.clone()));
        }
    }

    pub(crate) fn local_target(&self, to: &ProcRef) -> Option<Pid> {
        match to {
            ProcRef::Pid(p) => Some(self.local_pid_of(p)).filter(|p| process::is_alive(*p)),
            ProcRef::Name(n) => registry::whereis(n.as_str()).or_else(|| {
                // `net_kernel` is the node itself, whose process is the router: a caller
                // monitoring it (`net_adm:ping/1` does) learns when the node stops.
                (n.as_str() == "net_kernel" && process::is_alive(self.router))
                    .then_some(self.router)
            }),
        }
    }
}

/// Tell `watcher` that its monitor `reference` of `target` fired because the node cannot be
/// reached.
fn unreachable_down(watcher: Pid, reference: Reference, target: Pid) {
    distribution::down_from(
        watcher,
        Down {
            reference,
            pid: target,
            reason: ExitReason::NoConnection,
        },
    );
}

/// The pid a monitor of a registered name on node `index` reports in its `Down`: it stands
/// for OTP's `{Name, Node}`.
pub(crate) fn name_pid(index: u32) -> Pid {
    Pid::from_parts(index, 0, 0)
}

async fn resolve(host: &str) -> Result<std::net::IpAddr, DistError> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    let mut addrs = tokio::net::lookup_host((host, 0)).await?;
    addrs
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| DistError::InvalidName(format!("host {host} does not resolve")))
}

/// A control message that does not belong on its connection: OTP closes the connection.
struct Invalid(&'static str);

impl Shared {
    /// `p`, which must be a pid of the connection's own node (the sender's side).
    fn theirs(&self, conn: &Connection, p: &ExternalPid) -> Result<Pid, Invalid> {
        if p.node.as_str() != conn.peer.name {
            return Err(Invalid("a sender pid of another node"));
        }
        Ok(Pid::from_parts(
            conn.index,
            p.creation,
            u64::from(p.serial) << 32 | u64::from(p.id),
        ))
    }

    /// `p`, which must be a pid of this node (the receiver's side).
    fn ours(&self, p: &ExternalPid) -> Result<Pid, Invalid> {
        if p.node != self.atom {
            return Err(Invalid("a receiver pid of another node"));
        }
        Ok(self.local_pid_of(p))
    }

    fn apply(
        &self,
        conn: &Arc<Connection>,
        control: Control,
        payload: Option<Term>,
    ) -> Result<(), Invalid> {
        let reason_of = |r: Reason, payload: Option<Term>| match r {
            Reason::Inline(t) => reason::from_term(t),
            Reason::InPayload => reason::from_term(payload.unwrap_or_else(|| Term::atom("normal"))),
        };
        match control {
            Control::Link { from, to } => {
                let (remote, local) = (self.theirs(conn, &from)?, self.ours(&to)?);
                // Recorded first, so that the local process's exit, if it comes before the
                // runtime's link is made, finds the link and tells the peer.
                let recorded = conn.relate(|rel| {
                    rel.links.insert((local, remote));
                });
                // The node's own process takes no links: it is not a process of the program.
                if !recorded
                    || local == self.router
                    || distribution::link_from(remote, local).is_err()
                {
                    conn.relate(|rel| {
                        rel.links.remove(&(local, remote));
                    });
                    let _ = conn.send(
                        &Control::Exit {
                            from: to,
                            to: from,
                            reason: Reason::Inline(Term::atom("noproc")),
                            link: true,
                        },
                        None,
                        false,
                    );
                } else if !conn.relate(|_| {}) {
                    // Lost meanwhile, after its links were broken: break this one too.
                    let _ = distribution::exit_from(remote, local, &ExitReason::NoConnection, true);
                }
            }
            Control::Unlink { from, to } => {
                let (remote, local) = (self.theirs(conn, &from)?, self.ours(&to)?);
                conn.relate(|rel| {
                    rel.links.remove(&(local, remote));
                });
                distribution::unlink_from(remote, local);
            }
            Control::UnlinkId { id, from, to } => {
                if !matches!(id, Term::Integer(_) | Term::BigInt(_)) {
                    return Err(Invalid("an UNLINK_ID whose id is not an integer"));
                }
                let (remote, local) = (self.theirs(conn, &from)?, self.ours(&to)?);
                conn.relate(|rel| {
                    rel.links.remove(&(local, remote));
                });
                distribution::unlink_from(remote, local);
                let _ = conn.send(
                    &Control::UnlinkIdAck {
                        id,
                        from: to,
                        to: from,
                    },
                    None,
                    false,
                );
            }
            Control::UnlinkIdAck { from, to, .. } => {
                self.theirs(conn, &from)?;
                self.ours(&to)?;
            }
            Control::Ignored(_) => {}
            Control::Exit {
                from,
                to,
                reason,
                link,
            } => {
                let (remote, local) = (self.theirs(conn, &from)?, self.ours(&to)?);
                if local == self.router {
                    return Ok(());
                }
                if link {
                    conn.relate(|rel| {
                        rel.links.remove(&(local, remote));
                    });
                }
                let reason = reason_of(reason, payload);
                let _ = distribution::exit_from(remote, local, &reason, link);
            }
            Control::Send { from, to } => {
                if let Some(f) = &from {
                    self.theirs(conn, f)?;
                }
                self.ours(&to)?;
                if let Some(message) = payload {
                    self.deliver(conn, &to, from, message);
                }
            }
            Control::RegSend { from, to } => {
                self.theirs(conn, &from)?;
                if let Some(message) = payload {
                    self.deliver_named(conn, &to, from, message);
                }
            }
            Control::AliasSend { from, alias } => {
                self.theirs(conn, &from)?;
                // ferrotp makes no aliases; a message to one is a late or stray reply.
                tracing::debug!(node = %conn.peer.name, ?alias, "message to an unknown alias dropped");
            }
            Control::MonitorP {
                from,
                to,
                reference,
            } => {
                let watcher = self.theirs(conn, &from)?;
                let (target, name) = match &to {
                    ProcRef::Pid(p) => {
                        let pid = self.ours(p)?;
                        // The node's own process cannot be monitored by pid: it is no process
                        // of the program.
                        let alive = pid != self.router && process::is_alive(pid);
                        (alive.then_some(pid), None)
                    }
                    ProcRef::Name(n) => (self.local_target(&to), Some(n.clone())),
                };
                let local_ref = Reference::new();
                let attached = target.is_some_and(|target| {
                    // Recorded before the runtime can report the target's exit; a reference
                    // the peer uses again replaces its monitor, as a new one.
                    let mut replaced = None;
                    let recorded = conn.relate(|rel| {
                        if let Some(old) = rel.by_remote_ref.insert(reference.clone(), local_ref) {
                            replaced = rel.monitored_by.remove(&old).map(|m| (old, m.target));
                        }
                        rel.monitored_by.insert(
                            local_ref,
                            RemoteMonitor {
                                remote_ref: reference.clone(),
                                target,
                                name: name.clone(),
                            },
                        );
                    });
                    if let Some((old, old_target)) = replaced {
                        distribution::demonitor_from(old_target, old);
                    }
                    if !recorded {
                        return false;
                    }
                    let ok = distribution::monitor_from(watcher, target, local_ref).is_ok();
                    if !ok {
                        conn.relate(|rel| {
                            rel.monitored_by.remove(&local_ref);
                            rel.by_remote_ref.remove(&reference);
                        });
                    }
                    ok
                });
                if !attached {
                    let _ = conn.send(
                        &Control::MonitorPExit {
                            from: to,
                            to: from,
                            reference,
                            reason: Reason::Inline(Term::atom("noproc")),
                        },
                        None,
                        false,
                    );
                }
            }
            Control::DemonitorP {
                from, reference, ..
            } => {
                self.theirs(conn, &from)?;
                let mut removed = None;
                conn.relate(|rel| {
                    let local = rel.by_remote_ref.remove(&reference);
                    removed = local.and_then(|l| rel.monitored_by.remove(&l).map(|m| (l, m)));
                });
                if let Some((local_ref, m)) = removed {
                    distribution::demonitor_from(m.target, local_ref);
                }
            }
            Control::MonitorPExit {
                from,
                to,
                reference,
                reason,
            } => {
                if let ProcRef::Pid(p) = &from {
                    self.theirs(conn, p)?;
                }
                let watcher = self.ours(&to)?;
                let reason = reason_of(reason, payload);
                let Some(local_ref) = self.local_ref_of(&reference) else {
                    return Ok(());
                };
                if watcher == self.router {
                    self.settle_call(conn, local_ref, Err(RemoteCallError::Exit(reason)));
                    return Ok(());
                }
                let mut watched = None;
                conn.relate(|rel| {
                    rel.monitoring_names.remove(&local_ref);
                    watched = rel.monitoring.remove(&local_ref);
                });
                if let Some((watcher, target)) = watched {
                    distribution::down_from(
                        watcher,
                        Down {
                            reference: local_ref,
                            pid: target,
                            reason,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Complete the call `tag` made over `conn` (and only over it: another node cannot answer
    /// or fail a call it was not sent).
    fn settle_call(
        &self,
        conn: &Arc<Connection>,
        tag: Reference,
        outcome: Result<Term, RemoteCallError>,
    ) {
        let mut calls = self.calls.lock();
        let ours = calls
            .get(&tag)
            .is_some_and(|c| std::ptr::eq(c.conn.as_ptr(), Arc::as_ptr(conn)));
        if !ours {
            return;
        }
        if let Some(call) = calls.remove(&tag) {
            drop(calls);
            let _ = call.tx.send(outcome);
        }
    }
}

impl Inbound for Shared {
    fn received(&self, conn: &Arc<Connection>, control: Control, payload: Option<Term>) {
        if let Err(Invalid(what)) = self.apply(conn, control, payload) {
            tracing::warn!(node = %conn.peer.name, "closing the connection: the node sent {what}");
            conn.close();
        }
    }

    fn lost(&self, conn: &Arc<Connection>, why: String) {
        if !conn.take_loss() {
            return;
        }
        {
            let mut table = self.table.lock();
            match table.slots.get(&conn.index) {
                Some(Slot::Up(c)) if Arc::ptr_eq(c, conn) => {
                    table.slots.remove(&conn.index);
                }
                _ => {}
            }
        }
        let relations = conn.take_relations();
        let had_any = !relations.links.is_empty()
            || !relations.monitoring.is_empty()
            || !relations.monitored_by.is_empty();
        if had_any || !why.is_empty() {
            tracing::info!(node = %conn.peer.name, reason = %why, "connection lost");
        }
        for (local, remote) in relations.links {
            let _ = distribution::exit_from(remote, local, &ExitReason::NoConnection, true);
        }
        for (reference, (watcher, target)) in relations.monitoring {
            unreachable_down(watcher, reference, target);
        }
        for (local_ref, m) in relations.monitored_by {
            distribution::demonitor_from(m.target, local_ref);
        }
        let failed: Vec<PendingCall> = {
            let mut calls = self.calls.lock();
            let tags: Vec<Reference> = calls
                .iter()
                .filter(|(_, c)| std::ptr::eq(c.conn.as_ptr(), Arc::as_ptr(conn)))
                .map(|(t, _)| *t)
                .collect();
            tags.into_iter().filter_map(|t| calls.remove(&t)).collect()
        };
        for call in failed {
            let _ = call
                .tx
                .send(Err(RemoteCallError::Exit(ExitReason::NoConnection)));
        }
        let _ = self
            .events
            .send(NodeEvent::Down(conn.peer.name.clone(), why));
    }
}

impl Distribution for Shared {
    fn link(&self, from: Pid, to: Pid) {
        let shared = self.arc();
        self.with_conn(
            to.node(),
            Box::new(move |conn| match conn {
                Ok(c) if c.peer.creation == to.creation() => {
                    let (Some(f), Some(t)) = (shared.wire_pid_on(c, from), shared.wire_pid_on(c, to))
                    else {
                        return;
                    };
                    if !c.relate(|rel| {
                        rel.links.insert((from, to));
                    }) {
                        // Lost before the link was recorded: break it as the others were.
                        let _ = distribution::exit_from(to, from, &ExitReason::NoConnection, true);
                        return;
                    }
                    if !process::is_alive(from) {
                        // It exited before its link reached the peer: the link is not made,
                        // and its exit (which may have run already) has nothing to break.
                        c.relate(|rel| {
                            rel.links.remove(&(from, to));
                        });
                        return;
                    }
                    if c.send(&Control::Link { from: f, to: t }, None, false).is_err() {
                        // Closed meanwhile: its loss, reported once, breaks the link.
                        tracing::debug!(node = %c.peer.name, "link not sent: the connection closed");
                    }
                }
                // A pid of an earlier incarnation of the node: gone.
                Ok(_) => {
                    let _ = distribution::exit_from(to, from, &ExitReason::NoProc, true);
                }
                Err(_) => {
                    let _ = distribution::exit_from(to, from, &ExitReason::NoConnection, true);
                }
            }),
        );
    }

    fn unlink(&self, from: Pid, to: Pid) {
        let shared = self.arc();
        self.if_connected(to.node(), move |c| {
            let this = &shared;
            c.relate(|rel| {
                rel.links.remove(&(from, to));
            });
            let (Some(f), Some(t)) = (this.wire_pid_on(c, from), this.wire_pid_on(c, to)) else {
                return;
            };
            let control = if c.peer.flags.contains(DistFlags::UNLINK_ID) {
                let id = c
                    .unlink_ids
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Control::UnlinkId {
                    id: Term::Integer(id as i64),
                    from: f,
                    to: t,
                }
            } else {
                Control::Unlink { from: f, to: t }
            };
            let _ = c.send(&control, None, false);
        });
    }

    fn exit(&self, from: Pid, to: Pid, reason: &ExitReason, via_link: bool) {
        let term = reason::to_term(reason);
        let shared = self.arc();
        let work: Deferred = Box::new(move |conn| {
            let Ok(c) = conn else { return };
            if via_link {
                let mut had = false;
                c.relate(|rel| had = rel.links.remove(&(from, to)));
                if !had {
                    // The link was already broken (by the peer, or by a lost connection).
                    return;
                }
            }
            let (Some(f), Some(t)) = (shared.wire_pid_on(c, from), shared.wire_pid_on(c, to))
            else {
                return;
            };
            let _ = c.send(
                &Control::Exit {
                    from: f,
                    to: t,
                    reason: Reason::Inline(term),
                    link: via_link,
                },
                None,
                false,
            );
        });
        if via_link {
            // Through a link only over the connection the link lives on: up, or being set up
            // with the link queued on it.
            self.if_connected(to.node(), move |c| work(Ok(c)));
        } else {
            self.with_conn(to.node(), work);
        }
    }

    fn monitor(&self, watcher: Pid, target: Pid, reference: Reference) {
        let shared = self.arc();
        self.with_conn(
            target.node(),
            Box::new(move |conn| {
                let down = |reason| {
                    distribution::down_from(
                        watcher,
                        Down {
                            reference,
                            pid: target,
                            reason,
                        },
                    )
                };
                match conn {
                    Ok(c) if c.peer.creation == target.creation() => {
                        let (Some(w), Some(t)) = (
                            shared.wire_pid_on(c, watcher),
                            shared.wire_pid_on(c, target),
                        ) else {
                            return;
                        };
                        if !c.relate(|rel| {
                            rel.monitoring.insert(reference, (watcher, target));
                        }) {
                            down(ExitReason::NoConnection);
                            return;
                        }
                        let _ = c.send(
                            &Control::MonitorP {
                                from: w,
                                to: ProcRef::Pid(t),
                                reference: shared.wire_ref(reference),
                            },
                            None,
                            false,
                        );
                    }
                    Ok(_) => down(ExitReason::NoProc),
                    Err(_) => down(ExitReason::NoConnection),
                }
            }),
        );
    }

    fn demonitor(&self, watcher: Pid, target: Pid, reference: Reference) {
        let shared = self.arc();
        self.if_connected(target.node(), move |c| {
            let this = &shared;
            let mut found = None;
            c.relate(|rel| {
                if rel.monitoring.remove(&reference).is_some() {
                    found = Some(rel.monitoring_names.remove(&reference));
                }
            });
            let Some(name) = found else { return };
            let Some(w) = this.wire_pid_on(c, watcher) else {
                return;
            };
            let to = match name {
                Some(name) => ProcRef::Name(name),
                None => match this.wire_pid_on(c, target) {
                    Some(t) => ProcRef::Pid(t),
                    None => return,
                },
            };
            let _ = c.send(
                &Control::DemonitorP {
                    from: w,
                    to,
                    reference: this.wire_ref(reference),
                },
                None,
                false,
            );
        });
    }

    fn down(&self, watcher: Pid, target: Pid, reference: Reference, reason: &ExitReason) {
        let shared = self.arc();
        let term = reason::to_term(reason);
        self.if_connected(watcher.node(), move |c| {
            let this = &shared;
            let mut monitor = None;
            c.relate(|rel| {
                monitor = rel.monitored_by.remove(&reference);
                if let Some(m) = &monitor {
                    rel.by_remote_ref.remove(&m.remote_ref);
                }
            });
            let Some(m) = monitor else { return };
            let from = match m.name {
                Some(name) => ProcRef::Name(name),
                None => match this.wire_pid_on(c, target) {
                    Some(p) => ProcRef::Pid(p),
                    None => return,
                },
            };
            let Some(to) = this.wire_pid_on(c, watcher) else {
                return;
            };
            let _ = c.send(
                &Control::MonitorPExit {
                    from,
                    to,
                    reference: m.remote_ref,
                    reason: Reason::Inline(term),
                },
                None,
                false,
            );
        });
    }
}
