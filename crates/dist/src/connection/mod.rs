//! One connection to another node, after the handshake: frames of a 4-byte length, ticks,
//! and an outbound queue with a bound.
//!
//! A reader task reads frames and hands each to the node; a writer task writes the queue in
//! order, and a tick (an empty frame) when nothing was written for a quarter of
//! `net_ticktime`. The peer is declared dead when nothing at all arrives for `net_ticktime`
//! (it ticks too), and the connection is closed on EOF, on an error, on a frame over the size
//! cap and on a frame that does not parse.
//!
//! **Order.** Everything sent to one node goes through one queue and one socket, so signals
//! and messages between a pair of processes arrive in the order they were sent, as OTP
//! guarantees.
//!
//! **Back-pressure.** The queue is bounded by bytes ([`NodeConfig::max_queued_bytes`]). A
//! message that would take it over is refused with [`DistError::Busy`] (the sender keeps its
//! value and may retry or wait): a slow peer cannot make this node's memory grow without
//! bound. Signals (links, monitors, exits, downs) and replies are queued over that bound, as
//! dropping one would break OTP's guarantees, up to twice it: a peer that lets that much pile
//! up does not read, and its connection is closed. A write that makes no progress for
//! `net_ticktime` closes the connection too.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp_runtime::{Pid, Reference};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::control::Control;
use crate::handshake::Peer;
use crate::node::config::NodeConfig;
use crate::node::DistError;
use crate::term::{Atom, ExternalRef, Term};

/// The pass-through tag before a control message (no distribution header).
const PASS_THROUGH: u8 = 112;

/// What links and monitors run over this connection: what to undo, and whom to tell, when it
/// is lost.
#[derive(Default)]
pub(crate) struct Relations {
    /// The connection is lost and these were handed to the node: nothing may be added.
    pub(crate) closed: bool,
    /// (local, remote) pairs linked.
    pub(crate) links: HashSet<(Pid, Pid)>,
    /// Local processes' monitors of remote ones: reference → (watcher, target).
    pub(crate) monitoring: HashMap<Reference, (Pid, Pid)>,
    /// Those of them that monitor a registered name: reference → name.
    pub(crate) monitoring_names: HashMap<Reference, Atom>,
    /// Remote processes' monitors of local ones, by the local reference the runtime knows.
    pub(crate) monitored_by: HashMap<Reference, RemoteMonitor>,
    /// The same, by the remote reference the peer knows.
    pub(crate) by_remote_ref: HashMap<ExternalRef, Reference>,
}

/// A remote process's monitor of a local one.
pub(crate) struct RemoteMonitor {
    pub(crate) remote_ref: ExternalRef,
    /// The local process monitored.
    pub(crate) target: Pid,
    /// The name it was monitored by, if any: the down names it the same way.
    pub(crate) name: Option<Atom>,
}

/// Work for a connection: sending its signals and keeping its relations.
pub(crate) type Work = Box<dyn FnOnce(&Arc<Connection>) + Send>;

/// A live connection.
pub(crate) struct Connection {
    /// The node's index in pids.
    pub(crate) index: u32,
    pub(crate) peer: Peer,
    out: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    closed: AtomicBool,
    /// Wakes the reader and the writer when the connection is closed.
    closing: Arc<tokio::sync::Notify>,
    /// Whether the node was told it is lost: once per connection.
    reported: AtomicBool,
    pub(crate) relations: Mutex<Relations>,
    /// A counter for `UNLINK_ID` identifiers.
    pub(crate) unlink_ids: std::sync::atomic::AtomicU64,
    /// While the work queued before the connection was up runs, later work waits here, so
    /// that it runs after (an unlink after its link); `None` once that is done.
    backlog: Mutex<Option<Vec<Work>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer.name)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// What a connection's reader reports to its node.
pub(crate) trait Inbound: Send + Sync + 'static {
    /// A control message (and its payload) arrived.
    fn received(&self, conn: &Arc<Connection>, control: Control, payload: Option<Term>);
    /// The connection is gone, for `why`.
    fn lost(&self, conn: &Arc<Connection>, why: String);
}

impl Connection {
    /// Start the reader and writer tasks of an established connection.
    pub(crate) fn start(
        stream: TcpStream,
        index: u32,
        peer: Peer,
        config: &NodeConfig,
        node: Arc<dyn Inbound>,
    ) -> Arc<Connection> {
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let conn = Arc::new(Connection {
            index,
            peer,
            out: tx,
            queued: queued.clone(),
            max_queued: config.max_queued_bytes,
            closed: AtomicBool::new(false),
            closing: Arc::new(tokio::sync::Notify::new()),
            reported: AtomicBool::new(false),
            relations: Mutex::new(Relations::default()),
            unlink_ids: std::sync::atomic::AtomicU64::new(1),
            backlog: Mutex::new(Some(Vec::new())),
        });
        let tick = config.net_ticktime / 4;
        tokio::spawn(write_loop(write, rx, queued, tick, config.net_ticktime));
        tokio::spawn(read_loop(
            read,
            conn.clone(),
            node,
            config.net_ticktime,
            config.max_frame,
        ));
        conn
    }

    /// Run `work` now, or after the work queued before it if that still runs.
    pub(crate) fn run(self: &Arc<Self>, work: Work) {
        {
            let mut backlog = self.backlog.lock();
            if let Some(queue) = backlog.as_mut() {
                queue.push(work);
                return;
            }
        }
        run_guarded(self, work);
    }

    /// Run the work queued before the connection was up, then what arrived meanwhile, until
    /// none is left; from then on work runs at once. Nothing is run under a lock: the work
    /// may end processes, whose exits come back here.
    pub(crate) fn drain(self: &Arc<Self>, first: Vec<Work>) {
        for work in first {
            run_guarded(self, work);
        }
        loop {
            let next = {
                let mut backlog = self.backlog.lock();
                match backlog.as_mut() {
                    Some(queue) if !queue.is_empty() => std::mem::take(queue),
                    _ => {
                        *backlog = None;
                        return;
                    }
                }
            };
            for work in next {
                run_guarded(self, work);
            }
        }
    }

    /// As [`send`](Self::send), after the work queued before the connection was up if that
    /// still runs: a message never overtakes an earlier signal of the same process. While
    /// that work runs, a message is queued without the back-pressure check (a failure to send
    /// it later is logged).
    pub(crate) fn send_in_order(
        &self,
        control: &Control,
        payload: Option<&Term>,
        is_message: bool,
    ) -> Result<(), DistError> {
        {
            let mut backlog = self.backlog.lock();
            if let Some(queue) = backlog.as_mut() {
                let (control, payload) = (control.clone(), payload.cloned());
                queue.push(Box::new(move |c| {
                    if let Err(e) = c.send(&control, payload.as_ref(), is_message) {
                        tracing::warn!(node = %c.peer.name, error = %e, "message not sent");
                    }
                }));
                return Ok(());
            }
        }
        self.send(control, payload, is_message)
    }

    /// Queue a control message, with its payload. Messages (`is_message`) are refused over the
    /// queue's bound; signals never are.
    pub(crate) fn send(
        &self,
        control: &Control,
        payload: Option<&Term>,
        is_message: bool,
    ) -> Result<(), DistError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DistError::NotConnected(self.peer.name.clone()));
        }
        let mut frame = vec![0, 0, 0, 0, PASS_THROUGH];
        control
            .to_term()
            .encode_into(&mut frame)
            .map_err(DistError::Encode)?;
        if let Some(p) = payload {
            p.encode_into(&mut frame).map_err(DistError::Encode)?;
        }
        let len = u32::try_from(frame.len() - 4).map_err(|_| DistError::TooLarge(frame.len()))?;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        let size = frame.len();
        let before = self.queued.fetch_add(size, Ordering::AcqRel);
        if is_message && before + size > self.max_queued && before > 0 {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return Err(DistError::Busy {
                node: self.peer.name.clone(),
                queued: before,
            });
        }
        if before + size > self.max_queued.saturating_mul(2) && before > 0 {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            tracing::warn!(
                node = %self.peer.name, queued = before,
                "closing the connection: the peer does not read what is sent to it"
            );
            self.close();
            return Err(DistError::NotConnected(self.peer.name.clone()));
        }
        self.out
            .send(frame)
            .map_err(|_| DistError::NotConnected(self.peer.name.clone()))
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Close: the writer stops after what is queued, the reader at once.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // An empty vector is the writer's signal to stop; the notification wakes a reader
        // waiting for a frame and a writer stuck on a peer that does not read.
        let _ = self.out.send(Vec::new());
        self.closing.notify_waiters();
    }

    /// Change the relations unless the connection is lost; `false` if it is (the caller then
    /// answers as for a lost connection itself).
    pub(crate) fn relate(&self, change: impl FnOnce(&mut Relations)) -> bool {
        let mut rel = self.relations.lock();
        if rel.closed {
            return false;
        }
        change(&mut rel);
        true
    }

    /// Take the relations to report the loss, and refuse new ones.
    pub(crate) fn take_relations(&self) -> Relations {
        let mut rel = self.relations.lock();
        let taken = std::mem::take(&mut *rel);
        rel.closed = true;
        taken
    }

    /// `true` the first time only: whoever gets it reports the loss.
    pub(crate) fn take_loss(&self) -> bool {
        !self.reported.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Run `work`; a panic in it is logged, and the connection's other work goes on.
fn run_guarded(conn: &Arc<Connection>, work: Work) {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)));
    if ran.is_err() {
        tracing::error!(node = %conn.peer.name, "work on a connection panicked; ignored");
    }
}

/// Write the queue in order, ticking when idle. Stops at the empty frame `close` queues (after
/// what was queued before it), at a write error, or at a write that makes no progress for
/// `net_ticktime`: a peer that does not read.
async fn write_loop(
    write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    tick: Duration,
    ticktime: Duration,
) {
    let mut w = BufWriter::with_capacity(64 * 1024, write);
    let queued = &*queued;
    loop {
        let frame = match tokio::time::timeout(tick, rx.recv()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                // Nothing to send for a tick: tell the peer we live.
                if timed(ticktime, w.write_all(&[0, 0, 0, 0])).await.is_err()
                    || timed(ticktime, w.flush()).await.is_err()
                {
                    break;
                }
                continue;
            }
        };
        if frame.is_empty() {
            break;
        }
        let mut failed = write_frame(&mut w, frame, queued, ticktime).await.is_err();
        // Everything already queued goes out in the same flush.
        while !failed {
            match rx.try_recv() {
                Ok(f) if f.is_empty() => {
                    let _ = timed(ticktime, w.flush()).await;
                    return;
                }
                Ok(f) => failed = write_frame(&mut w, f, queued, ticktime).await.is_err(),
                Err(_) => break,
            }
        }
        if failed || timed(ticktime, w.flush()).await.is_err() {
            break;
        }
    }
    let _ = timed(ticktime, w.flush()).await;
    let _ = timed(ticktime, w.into_inner().shutdown()).await;
}

/// `io`, failing if it makes no progress within `limit`.
async fn timed<T>(
    limit: Duration,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(limit, io)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

async fn write_frame(
    w: &mut BufWriter<OwnedWriteHalf>,
    frame: Vec<u8>,
    queued: &AtomicUsize,
    ticktime: Duration,
) -> std::io::Result<()> {
    let written = timed(ticktime, w.write_all(&frame)).await;
    queued.fetch_sub(frame.len(), Ordering::AcqRel);
    written
}

async fn read_loop(
    mut read: OwnedReadHalf,
    conn: Arc<Connection>,
    node: Arc<dyn Inbound>,
    ticktime: Duration,
    max_frame: usize,
) {
    let closing = conn.closing.clone();
    let stopped = closing.notified();
    tokio::pin!(stopped);
    stopped.as_mut().enable();
    let why = loop {
        if conn.is_closed() {
            break "closed".to_owned();
        }
        let next = tokio::select! {
            len = tokio::time::timeout(ticktime, read.read_u32()) => len,
            () = &mut stopped => break "closed".to_owned(),
        };
        let len = match next {
            Err(_) => break format!("net_tick_timeout: nothing received for {ticktime:?}"),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break "connection closed by the peer".to_owned()
            }
            Ok(Err(e)) => break format!("read error: {e}"),
            Ok(Ok(len)) => len as usize,
        };
        if len == 0 {
            continue; // a tick
        }
        if len > max_frame {
            break format!("a frame of {len} bytes is over the {max_frame}-byte cap");
        }
        let mut frame = vec![0; len];
        match tokio::time::timeout(ticktime, read.read_exact(&mut frame)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => break format!("read error: {e}"),
            Err(_) => break format!("net_tick_timeout inside a frame of {len} bytes"),
        }
        match parse_frame(&frame) {
            Ok((control, payload)) => node.received(&conn, control, payload),
            Err(e) => break format!("malformed frame: {e}"),
        }
        if conn.is_closed() {
            break "closed".to_owned();
        }
    };
    conn.close();
    node.lost(&conn, why);
}

/// A frame's control message and payload.
pub(crate) fn parse_frame(frame: &[u8]) -> Result<(Control, Option<Term>), String> {
    let limits = crate::term::DecodeLimits::default();
    match frame.first() {
        Some(&PASS_THROUGH) => {}
        Some(131) => return Err("a distribution header, which was not negotiated".into()),
        _ => return Err("unknown frame type".into()),
    }
    let rest = &frame[1..];
    let (term, used) = Term::decode_prefix(rest, &limits).map_err(|e| e.to_string())?;
    let control =
        Control::from_term(&term).ok_or_else(|| format!("unknown control message {term}"))?;
    let rest = &rest[used..];
    let payload = if control.has_payload() {
        let (p, used) = Term::decode_prefix(rest, &limits).map_err(|e| e.to_string())?;
        if used != rest.len() {
            return Err("bytes after the payload".into());
        }
        Some(p)
    } else {
        if !rest.is_empty() {
            return Err("bytes after the control message".into());
        }
        None
    };
    Ok((control, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::DistFlags;
    use tokio::net::TcpListener;

    /// Records what the connection reports.
    #[derive(Default)]
    struct Recorder {
        lost: Mutex<Option<(tokio::time::Instant, String)>>,
        received: Mutex<Vec<Control>>,
    }

    impl Inbound for Recorder {
        fn received(&self, _: &Arc<Connection>, control: Control, _: Option<Term>) {
            self.received.lock().push(control);
        }
        fn lost(&self, _: &Arc<Connection>, why: String) {
            *self.lost.lock() = Some((tokio::time::Instant::now(), why));
        }
    }

    /// A connection to a fake peer: the connection, the peer's socket, and the recorder.
    async fn pair(
        ticktime: Duration,
        max_queued: usize,
    ) -> (Arc<Connection>, TcpStream, Arc<Recorder>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        let mut config = NodeConfig::new("test@127.0.0.1");
        config.net_ticktime = ticktime;
        config.max_queued_bytes = max_queued;
        let recorder = Arc::new(Recorder::default());
        let conn = Connection::start(
            ours,
            1,
            Peer {
                name: "peer@127.0.0.1".into(),
                flags: DistFlags::OURS,
                creation: 1,
            },
            &config,
            recorder.clone(),
        );
        (conn, peer, recorder)
    }

    async fn lost_after(recorder: &Recorder) -> (tokio::time::Instant, String) {
        loop {
            if let Some(l) = recorder.lost.lock().clone() {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_declared_dead_after_net_ticktime() {
        let start = tokio::time::Instant::now();
        let (_conn, _peer, recorder) = pair(Duration::from_secs(4), 1 << 20).await;
        let (at, why) = lost_after(&recorder).await;
        let after = at - start;
        assert!(
            after >= Duration::from_secs(4) && after < Duration::from_secs(5),
            "{after:?}"
        );
        assert!(why.contains("net_tick_timeout"), "{why}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_ticks_every_quarter_of_net_ticktime() {
        let (_conn, mut peer, _recorder) = pair(Duration::from_secs(8), 1 << 20).await;
        let start = tokio::time::Instant::now();
        let mut ticks = Vec::new();
        while ticks.len() < 3 {
            assert_eq!(
                peer.read_u32().await.unwrap(),
                0,
                "a tick is an empty frame"
            );
            ticks.push(tokio::time::Instant::now() - start);
        }
        for (i, t) in ticks.iter().enumerate() {
            let expected = Duration::from_secs(2 * (i as u64 + 1));
            assert!(
                *t >= expected && *t < expected + Duration::from_millis(100),
                "tick {i} at {t:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_ticks_stays_connected() {
        let (_conn, mut peer, recorder) = pair(Duration::from_secs(4), 1 << 20).await;
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            peer.write_all(&[0, 0, 0, 0]).await.unwrap();
        }
        assert!(recorder.lost.lock().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_socket_is_noticed_at_once() {
        let (_conn, peer, recorder) = pair(Duration::from_secs(60), 1 << 20).await;
        let start = tokio::time::Instant::now();
        drop(peer);
        let (at, why) = lost_after(&recorder).await;
        assert!(at - start < Duration::from_secs(1));
        assert!(why.contains("closed by the peer"), "{why}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn messages_over_the_queue_bound_are_refused_and_signals_are_not() {
        let (conn, mut peer, _recorder) = pair(Duration::from_secs(60), 1000).await;
        let to = crate::term::ExternalPid {
            node: Atom::new("peer@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 1,
        };
        let send = Control::Send {
            from: None,
            to: to.clone(),
        };
        let big = Term::binary(vec![7u8; 800]);
        // Nothing runs the writer in between: the queue only grows.
        conn.send(&send, Some(&big), true).unwrap();
        let refused = conn.send(&send, Some(&big), true);
        assert!(
            matches!(refused, Err(DistError::Busy { .. })),
            "{refused:?}"
        );
        let link = Control::Link {
            from: to.clone(),
            to: to.clone(),
        };
        conn.send(&link, None, false)
            .expect("signals are always queued");
        // Once written, there is room again.
        let mut frame = vec![0u8; 4];
        peer.read_exact(&mut frame).await.unwrap();
        while conn.queued_bytes() > 0 {
            tokio::task::yield_now().await;
        }
        conn.send(&send, Some(&big), true).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn signals_piling_up_past_twice_the_bound_close_the_connection() {
        let (conn, _peer, recorder) = pair(Duration::from_secs(60), 1000).await;
        let to = crate::term::ExternalPid {
            node: Atom::new("peer@127.0.0.1"),
            id: 1,
            serial: 0,
            creation: 1,
        };
        let exit = Control::Exit {
            from: to.clone(),
            to,
            reason: crate::control::Reason::Inline(Term::binary(vec![1u8; 700])),
            link: true,
        };
        // Nothing runs the writer in between: the queue only grows.
        conn.send(&exit, None, false).unwrap();
        conn.send(&exit, None, false).unwrap();
        assert!(
            conn.send(&exit, None, false).is_err(),
            "a third is past 2,000 bytes"
        );
        assert!(conn.is_closed());
        let (_, why) = lost_after(&recorder).await;
        assert_eq!(why, "closed");
    }

    #[test]
    fn frames_parse_into_control_messages_and_payloads() {
        let control = Term::tuple([
            Term::Integer(6),
            Term::atom(""),
            Term::atom(""),
            Term::atom("name"),
        ]);
        let mut frame = vec![PASS_THROUGH];
        control.encode_into(&mut frame).unwrap();
        assert!(parse_frame(&frame).is_err(), "REG_SEND needs a pid sender");
        let from = Term::Pid(crate::term::ExternalPid {
            node: Atom::new("a@b"),
            id: 1,
            serial: 0,
            creation: 1,
        });
        let control = Term::tuple([Term::Integer(6), from, Term::atom(""), Term::atom("name")]);
        let mut frame = vec![PASS_THROUGH];
        control.encode_into(&mut frame).unwrap();
        assert!(
            parse_frame(&frame).is_err(),
            "a REG_SEND without its message"
        );
        Term::atom("hello").encode_into(&mut frame).unwrap();
        let (c, payload) = parse_frame(&frame).unwrap();
        assert!(matches!(c, Control::RegSend { .. }));
        assert_eq!(payload, Some(Term::atom("hello")));
        Term::atom("extra").encode_into(&mut frame).unwrap();
        assert!(parse_frame(&frame).is_err(), "bytes after the payload");
    }
}
