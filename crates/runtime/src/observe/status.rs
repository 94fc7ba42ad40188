//! A GenServer's state as text, for the observer: OTP's `format_status`, asked for only when
//! someone opens the process, only from servers that opted in, with a short timeout.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use dashmap::DashMap;

use crate::gen_server::{GenServer, Request, Server};
use crate::process::table;
use crate::sys::{self, SysError};
use crate::Pid;

/// The most text [`format_status`] returns: longer text is cut at a character boundary and
/// ends with `…`.
pub const FORMAT_STATUS_LIMIT: usize = 4096;

/// Why [`format_status`] has no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatStatusError {
    /// No live local process has this pid.
    #[error("no such process (noproc)")]
    NoProc,
    /// The process is not a GenServer, or its type does not show its state: implement
    /// `GenServer::format_status` (or use `#[gen_server(debug_state)]`) to opt in.
    #[error("this process does not show its state (implement GenServer::format_status to opt in)")]
    NotShown,
    /// The server did not answer in time: it is busy in a callback, or suspended in one.
    #[error("no answer within {0:?}: the server is busy in a callback")]
    Timeout(Duration),
    /// The request failed: the server exited, or `format_status` panicked.
    #[error("{0}")]
    Sys(SysError),
}

type Reply<T> = Pin<Box<dyn Future<Output = Result<T, SysError>> + Send>>;

/// `sys` requests to a server known only by its pid: one table per GenServer type, built
/// from its type on its first start.
#[derive(Clone)]
pub(crate) struct SysPort {
    pub(crate) format_status: fn(Pid, Duration) -> Reply<Option<String>>,
    pub(crate) suspend: fn(Pid, Duration) -> Reply<()>,
    pub(crate) resume: fn(Pid, Duration) -> Reply<()>,
    /// Whether servers of this type show their state: unknown until one answers; a type that
    /// answered `None` is not asked again (most types never opt in, and a request to a busy
    /// server waits in its mailbox).
    shows: Arc<AtomicU8>,
}

const SHOWS_UNKNOWN: u8 = 0;
const SHOWS: u8 = 1;
const HIDES: u8 = 2;

/// One entry per GenServer type ever started, keyed by its mailbox's message type.
static PORTS: LazyLock<DashMap<TypeId, SysPort, rustc_hash::FxBuildHasher>> =
    LazyLock::new(DashMap::default);

fn server<S: GenServer>(pid: Pid) -> Result<Server<S>, SysError> {
    Server::<S>::from_pid(pid).map_err(|_| SysError::NoProc)
}

/// Remember how to reach servers of type `S` by pid: once per type, on its first start.
pub(crate) fn register_sys_port<S: GenServer>() {
    let key = TypeId::of::<Request<S>>();
    // Starts come in runs of one type (a supervisor restarting its child, a pool filling up):
    // the last type this thread registered is checked without touching the shared map.
    thread_local! {
        static LAST: std::cell::Cell<Option<TypeId>> = const { std::cell::Cell::new(None) };
    }
    if LAST.with(|last| last.replace(Some(key))) == Some(key) || PORTS.contains_key(&key) {
        return;
    }
    PORTS.insert(
        key,
        SysPort {
            format_status: |pid, timeout| {
                Box::pin(async move {
                    sys::with_state(&server::<S>(pid)?, |s: &S| s.format_status(), Some(timeout))
                        .await
                })
            },
            suspend: |pid, timeout| {
                Box::pin(async move { sys::suspend(&server::<S>(pid)?, Some(timeout)).await })
            },
            resume: |pid, timeout| {
                Box::pin(async move { sys::resume(&server::<S>(pid)?, Some(timeout)).await })
            },
            shows: Arc::new(AtomicU8::new(SHOWS_UNKNOWN)),
        },
    );
}

/// The `sys` port of GenServer `pid`; `None` if it is not a live GenServer.
pub(crate) fn sys_port(pid: Pid) -> Option<SysPort> {
    let p = table::get(pid)?;
    let port = PORTS.get(&p.message_type_id()).map(|e| e.value().clone());
    port
}

/// GenServer `pid`'s state as its [`GenServer::format_status`] writes it, at most
/// [`FORMAT_STATUS_LIMIT`] bytes. The request is served between two callbacks, as a `sys`
/// request (it never reaches `handle_info`), and waits at most `timeout`.
///
/// Once a server of a type answered that it does not show its state, no server of that type
/// is asked again: the answer is [`FormatStatusError::NotShown`] at once, without a message.
///
/// # Errors
///
/// [`FormatStatusError`]: not a process, not a server that shows its state, no answer in
/// time.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use ferrotp::gen_server::{GenServer, Init, ServerContext};
/// use ferrotp::observe;
///
/// #[derive(Debug)]
/// struct Counter(u64);
/// impl GenServer for Counter {
///     type Args = u64; type Call = (); type Cast = (); type Info = (); type Continue = ();
///     async fn init(n: u64, _: &mut ServerContext<Self>) -> Init<Self> { Init::ok(Counter(n)) }
///     fn format_status(&self) -> Option<String> { Some(format!("{self:?}")) }
/// }
///
/// let counter = Counter::start(7).await.unwrap();
/// let text = observe::format_status(counter.pid().unwrap(), Duration::from_millis(500)).await;
/// assert_eq!(text.unwrap(), "Counter(7)");
/// # }
/// ```
pub async fn format_status(pid: Pid, timeout: Duration) -> Result<String, FormatStatusError> {
    table::get(pid).ok_or(FormatStatusError::NoProc)?;
    let port = sys_port(pid).ok_or(FormatStatusError::NotShown)?;
    if port.shows.load(Ordering::Relaxed) == HIDES {
        return Err(FormatStatusError::NotShown);
    }
    match (port.format_status)(pid, timeout).await {
        Ok(Some(text)) => {
            port.shows.store(SHOWS, Ordering::Relaxed);
            Ok(cap(text))
        }
        Ok(None) => {
            port.shows.store(HIDES, Ordering::Relaxed);
            Err(FormatStatusError::NotShown)
        }
        Err(SysError::Timeout(t)) => Err(FormatStatusError::Timeout(t)),
        Err(SysError::NoProc) => Err(FormatStatusError::NoProc),
        Err(e) => Err(FormatStatusError::Sys(e)),
    }
}

fn cap(mut text: String) -> String {
    if text.len() > FORMAT_STATUS_LIMIT {
        let mut end = FORMAT_STATUS_LIMIT - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary_within_the_limit() {
        let text = "é".repeat(FORMAT_STATUS_LIMIT);
        let cut = cap(text);
        assert!(cut.len() <= FORMAT_STATUS_LIMIT);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(cap("Counter(7)".into()), "Counter(7)");
    }
}
