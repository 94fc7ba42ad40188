//! Local processes that other nodes can reach.
//!
//! A ferrotp process has a typed mailbox; a message from another node is a term. A process is
//! reachable from other nodes once it is *exported*, which says how its terms become its
//! messages:
//!
//! - a [`GenServer`] that implements [`RemoteServer`] ([`Node::export`](crate::Node::export)):
//!   `GenServer.call/3` and `gen_server:call/3` from BEAM nodes arrive in `handle_call`,
//!   `GenServer.cast/2` in `handle_cast`, other messages in `handle_info`;
//! - any process, whose messages are a `serde` type (or [`Term`] itself)
//!   ([`Node::export_process`](crate::Node::export_process)).
//!
//! A message to a process that is not exported is dropped with a warning naming it.

use std::marker::PhantomData;
use std::sync::{Arc, Weak};

use ferrotp_runtime::gen_server::{GenServer, ReplyTo, Server};
use ferrotp_runtime::{Addr, Pid};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::connection::Connection;
use crate::node::shared::Shared;
use crate::serde::{from_term, to_term, SerdeError};
use crate::term::{ExternalPid, Term};

/// A [`GenServer`] that processes on other nodes can call, cast to and send to.
///
/// Each method turns a term from another node into the server's own message. Requests that
/// do not decode are answered, not crashed on: a call gets the reply
/// `{error, {badarg, Description}}` and the server is not disturbed; a cast or message is
/// dropped with a warning.
///
/// # Examples
///
/// ```
/// use ferrotp_dist::{from_term, RemoteCaller, RemoteServer, SerdeError, Term};
/// use ferrotp_runtime::gen_server::{CallResult, GenServer, Init, ReplyTo, ServerContext};
/// use serde::Deserialize;
///
/// struct Counter(i64);
///
/// enum Call {
///     Get(ReplyTo<i64>),
///     Add(i64, ReplyTo<i64>),
/// }
///
/// impl GenServer for Counter {
///     type Args = i64;
///     type Call = Call;
///     type Cast = ();
///     type Info = ();
///     type Continue = ();
///
///     async fn init(start: i64, _: &mut ServerContext<Self>) -> Init<Self> {
///         Init::ok(Counter(start))
///     }
///     async fn handle_call(&mut self, call: Call, _: &mut ServerContext<Self>) -> CallResult<Self> {
///         match call {
///             Call::Get(to) => CallResult::reply(to, self.0),
///             Call::Add(n, to) => {
///                 self.0 += n;
///                 CallResult::reply(to, self.0)
///             }
///         }
///     }
/// }
///
/// /// What BEAM nodes send: `get` or `{add, N}`.
/// #[derive(Deserialize)]
/// #[serde(rename_all = "snake_case")]
/// enum Request {
///     Get,
///     Add(i64),
/// }
///
/// impl RemoteServer for Counter {
///     fn remote_call(request: Term, caller: RemoteCaller) -> Result<Call, SerdeError> {
///         Ok(match from_term(request)? {
///             Request::Get => Call::Get(caller.reply_to()),
///             Request::Add(n) => Call::Add(n, caller.reply_to()),
///         })
///     }
/// }
/// ```
pub trait RemoteServer: GenServer {
    /// A `gen_server:call` from another node: its request, and the caller, whose
    /// [`reply_to`](RemoteCaller::reply_to) goes in the call.
    ///
    /// # Errors
    ///
    /// A request that is not one of the server's: the caller gets `{error, {badarg, ...}}`.
    fn remote_call(request: Term, caller: RemoteCaller) -> Result<Self::Call, SerdeError>;

    /// A `gen_server:cast` from another node. By default casts are refused (dropped with a
    /// warning).
    ///
    /// # Errors
    ///
    /// A message that is not one of the server's casts.
    fn remote_cast(message: Term) -> Result<Self::Cast, SerdeError> {
        Err(SerdeError::Unexpected {
            expected: "no casts from other nodes (implement RemoteServer::remote_cast)",
            found: message.to_string(),
        })
    }

    /// Any other message from another node, for `handle_info`. By default refused (dropped
    /// with a warning, as Elixir's default `handle_info` logs one).
    ///
    /// # Errors
    ///
    /// A message that is not one of the server's.
    fn remote_info(message: Term) -> Result<Self::Info, SerdeError> {
        Err(SerdeError::Unexpected {
            expected: "no messages from other nodes (implement RemoteServer::remote_info)",
            found: message.to_string(),
        })
    }
}

/// The caller of a call from another node: OTP's `From`, `{Pid, Tag}`.
#[derive(Debug)]
pub struct RemoteCaller {
    node: Weak<Shared>,
    index: u32,
    from: ExternalPid,
    pid: Pid,
    tag: Term,
}

impl RemoteCaller {
    /// The calling process.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The handle the reply goes through: put it in the call, and reply as to a local caller.
    /// The reply is sent as the term of `T` (the crate's `serde` mapping); one that cannot be
    /// made a term is replaced by `{error, {badreply, Description}}` and logged.
    pub fn reply_to<T: Serialize + Send + 'static>(self) -> ReplyTo<T> {
        let RemoteCaller {
            node,
            index,
            from,
            pid,
            tag,
        } = self;
        ReplyTo::deliver_with(Some(pid), move |value: T| {
            let Some(node) = node.upgrade() else { return };
            let reply = to_term(&value).unwrap_or_else(|e| {
                tracing::error!(to = %pid, error = %e, "a reply to another node is not a term");
                error_reply("badreply", &e.to_string())
            });
            node.reply(index, &from, &tag, reply);
        })
    }
}

fn error_reply(kind: &str, description: &str) -> Term {
    Term::tuple([
        Term::atom("error"),
        Term::tuple([Term::atom(kind), Term::binary(description.as_bytes())]),
    ])
}

/// How terms reach one exported process.
pub(crate) trait Inbox: Send + Sync + 'static {
    fn deliver(
        &self,
        node: &Shared,
        conn: &Arc<Connection>,
        from: Option<ExternalPid>,
        message: Term,
    );
}

/// An exported [`RemoteServer`].
pub(crate) struct ServerInbox<S: RemoteServer> {
    pub(crate) server: Server<S>,
}

impl<S: RemoteServer> Inbox for ServerInbox<S>
where
    Server<S>: Send + Sync,
{
    fn deliver(
        &self,
        node: &Shared,
        conn: &Arc<Connection>,
        _from: Option<ExternalPid>,
        message: Term,
    ) {
        let message = match gen_call(message) {
            Ok((from, tag, request)) => {
                let caller = RemoteCaller {
                    node: node.me.clone(),
                    index: conn.index,
                    pid: node.local_pid_of(&from),
                    from: from.clone(),
                    tag: tag.clone(),
                };
                match S::remote_call(request, caller) {
                    Ok(call) => {
                        if let Err(e) = self.server.deliver_call(call) {
                            // The caller's monitor of the server tells it; nothing to answer.
                            tracing::warn!(node = %conn.peer.name, "call from another node not delivered: {e}");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(
                            node = %conn.peer.name, error = %e,
                            "call from another node refused: its request does not decode"
                        );
                        node.reply(
                            conn.index,
                            &from,
                            &tag,
                            error_reply("badarg", &e.to_string()),
                        );
                    }
                }
                return;
            }
            Err(message) => message,
        };
        if let Some([tag, cast]) = message.as_tuple() {
            if tag.is_atom("$gen_cast") {
                match S::remote_cast(cast.clone()) {
                    Ok(cast) => self.server.cast(cast),
                    Err(e) => {
                        tracing::warn!(node = %conn.peer.name, error = %e, "cast from another node dropped")
                    }
                }
                return;
            }
        }
        match S::remote_info(message) {
            Ok(info) => {
                if let Err(e) = self.server.send(info) {
                    tracing::warn!(node = %conn.peer.name, "message from another node not delivered: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(node = %conn.peer.name, error = %e, "message from another node dropped")
            }
        }
    }
}

/// `{'$gen_call', {From, Tag}, Request}`'s parts, or the message back.
pub(crate) fn gen_call(message: Term) -> Result<(ExternalPid, Term, Term), Term> {
    if let Term::Tuple(items) = &message {
        if let [label, from, _request] = items.as_slice() {
            if label.is_atom("$gen_call") {
                if let Some([Term::Pid(pid), tag]) = from.as_tuple() {
                    let (pid, tag) = (pid.clone(), tag.clone());
                    let Term::Tuple(mut items) = message else {
                        unreachable!("matched as a tuple above")
                    };
                    let request = items.pop().expect("three elements");
                    return Ok((pid, tag, request));
                }
            }
        }
    }
    Err(message)
}

/// An exported process whose messages are `M`.
pub(crate) struct ProcessInbox<M> {
    pub(crate) addr: Addr<M>,
    pub(crate) _messages: PhantomData<fn() -> M>,
}

impl<M: DeserializeOwned + Send + 'static> Inbox for ProcessInbox<M> {
    fn deliver(
        &self,
        _node: &Shared,
        conn: &Arc<Connection>,
        _from: Option<ExternalPid>,
        message: Term,
    ) {
        match from_term::<M>(message) {
            Ok(m) => {
                if let Err(e) = self.addr.send(m) {
                    tracing::warn!(node = %conn.peer.name, "message from another node not delivered: {e}");
                }
            }
            Err(e) => tracing::warn!(
                node = %conn.peer.name, pid = %self.addr.pid(), error = %e,
                "message from another node dropped: it is not the process's message type"
            ),
        }
    }
}
