//! The caller's side of a call, held by the server: OTP's `From`.

use std::fmt;

use crate::sync::oneshot;

use crate::Pid;

/// Where the reply to one call goes (OTP's `From`), typed by what the call answers.
///
/// A client makes one per call: [`Server::call`](super::Server::call) takes a function from a
/// `ReplyTo<T>` to the request, so each request carries the handle for its own reply type
/// (`server.call(Call::Get)` for `enum Call { Get(ReplyTo<u64>) }`). `handle_call` finds it in
/// the request: reply at once by returning [`CallResult::reply`](super::CallResult::reply), or
/// keep it and reply later — from a later callback, another task or another process — with
/// [`ReplyTo::reply`]. A `ReplyTo` is consumed by replying, so a call can never be answered
/// twice.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::gen_server::{CallResult, GenServer, HandleResult, Init, ReplyTo, ServerContext};
///
/// /// Holds calls until someone casts `release`.
/// struct Gate { waiting: Vec<ReplyTo<&'static str>> }
///
/// /// The one call: wait at the gate.
/// struct Wait(ReplyTo<&'static str>);
///
/// impl GenServer for Gate {
///     type Args = ();
///     type Call = Wait;
///     type Cast = ();
///     type Info = ();
///     type Continue = ();
///
///     async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
///         Init::ok(Gate { waiting: Vec::new() })
///     }
///     async fn handle_call(&mut self, Wait(from): Wait, _: &mut ServerContext<Self>) -> CallResult<Self> {
///         self.waiting.push(from);
///         CallResult::noreply()
///     }
///     async fn handle_cast(&mut self, _: (), _: &mut ServerContext<Self>) -> HandleResult<Self> {
///         for from in self.waiting.drain(..) {
///             let _ = from.reply("open");
///         }
///         HandleResult::noreply()
///     }
/// }
///
/// let gate = Gate::start(()).await.unwrap();
/// let waiter = { let g = gate.clone(); tokio::spawn(async move { g.call(Wait).await }) };
/// tokio::task::yield_now().await;
/// gate.cast(());
/// assert_eq!(waiter.await.unwrap().unwrap(), "open");
/// # }
/// ```
pub struct ReplyTo<R> {
    to: To<R>,
    caller: Option<Pid>,
}

enum To<R> {
    /// A caller on this node, waiting on the other end.
    Local(oneshot::Sender<R>),
    /// A caller elsewhere (on another node): the reply is handed to this function.
    Deliver(Box<dyn FnOnce(R) + Send + Sync>),
}

impl<R> ReplyTo<R> {
    pub(crate) fn new(tx: oneshot::Sender<R>, caller: Option<Pid>) -> Self {
        ReplyTo {
            to: To::Local(tx),
            caller,
        }
    }

    /// A reply handle whose reply is handed to `deliver`: for a caller that does not wait on
    /// this node, such as a process on another node (the distribution layer makes these).
    /// Replying always succeeds; whether the caller still waits is for `deliver` to find out.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ferrotp_runtime as ferrotp;
    /// use std::sync::mpsc;
    /// use ferrotp::gen_server::ReplyTo;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let reply_to = ReplyTo::deliver_with(None, move |answer: u32| {
    ///     let _ = tx.send(answer);
    /// });
    /// reply_to.reply(42).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// ```
    pub fn deliver_with(
        caller: Option<Pid>,
        deliver: impl FnOnce(R) + Send + Sync + 'static,
    ) -> Self {
        ReplyTo {
            to: To::Deliver(Box::new(deliver)),
            caller,
        }
    }

    /// Send the reply.
    ///
    /// # Errors
    ///
    /// [`ReplyError`] (with the value handed back) if the caller no longer waits: its call
    /// timed out or it exited. The late reply is dropped here, never delivered to the caller.
    pub fn reply(self, value: R) -> Result<(), ReplyError<R>> {
        match self.to {
            To::Local(tx) => tx.send(value).map_err(|value| ReplyError { value }),
            To::Deliver(deliver) => {
                deliver(value);
                Ok(())
            }
        }
    }

    /// The calling process, if the call came from one.
    pub fn caller(&self) -> Option<Pid> {
        self.caller
    }

    /// Whether the caller still waits for the reply.
    pub fn is_waiting(&self) -> bool {
        match &self.to {
            To::Local(tx) => !tx.is_closed(),
            To::Deliver(_) => true,
        }
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("caller", &self.caller)
            .field("waiting", &self.is_waiting())
            .finish()
    }
}

/// The caller of a call no longer waits for its reply; the reply is handed back.
pub struct ReplyError<R> {
    value: R,
}

impl<R> ReplyError<R> {
    /// The reply that was not delivered.
    pub fn into_inner(self) -> R {
        self.value
    }
}

impl<R> fmt::Debug for ReplyError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyError").finish_non_exhaustive()
    }
}

impl<R> fmt::Display for ReplyError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the caller no longer waits for this reply (its call timed out or it exited)")
    }
}

impl<R> std::error::Error for ReplyError<R> {}
