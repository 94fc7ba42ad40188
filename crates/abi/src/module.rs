//! What a hot module is, to the code that writes one and the code that calls it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{decode, encode};
use crate::host::Host;

/// The messages of a hot module, shared by the module and its callers.
///
/// Declare it with [`hot_interface`](crate::hot_interface) on a trait in a small crate both
/// depend on (as `examples/hot-counter/api` does): the host's typed client and every version
/// of the module then agree on the messages, and the versions may change everything else.
/// Adding a method at the end of the trait is a compatible change; reordering or removing
/// methods, or changing their parameters, is not (the messages are encoded by position).
pub trait Interface: 'static {
    /// The module's name; a library declaring another name is refused.
    const MODULE: &'static str;
    /// What a new process starts from.
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// Requests that expect a reply.
    type Call: Serialize + DeserializeOwned + Send + 'static;
    /// Replies to calls.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
    /// Fire-and-forget messages.
    type Cast: Serialize + DeserializeOwned + Send + 'static;
}

/// How an interface's messages reach a module's handlers: `#[hot_interface]` implements it for
/// every type implementing the interface's trait, by calling the trait method each message
/// names.
pub trait Dispatch<M>: Interface + Sized {
    /// Handle a call; the reply goes back to the caller.
    fn call(module: &mut M, request: Self::Call, host: &mut Host<'_, Self>) -> Self::Reply;
    /// Handle a cast.
    fn cast(module: &mut M, message: Self::Cast, host: &mut Host<'_, Self>);
}

/// Something that can send an interface's requests: the loader's `HotClient`. The typed client
/// trait `#[hot_interface]` generates (`<Trait>Client`) is implemented for every `Client`.
pub trait Client<I: Interface> {
    /// Why a request failed.
    type Error;
    /// Send a call and wait for its reply.
    fn request(
        &self,
        call: I::Call,
    ) -> impl std::future::Future<Output = Result<I::Reply, Self::Error>> + Send;
    /// Send a cast.
    fn send(&self, cast: I::Cast);
    /// The error for a reply of another variant than the call's (a module that answers a call
    /// with the wrong reply).
    fn unexpected(reply: I::Reply) -> Self::Error;
}

/// One version of a hot module: a GenServer whose callbacks are synchronous state transitions.
///
/// Its handlers are the methods of its interface's trait (see
/// [`hot_interface`](crate::hot_interface)); this trait adds the rest of a GenServer's life:
/// `init`, `terminate`, and the migrations between versions. Callbacks are synchronous because
/// a module carries no async runtime: it would be a second tokio, with its own threads and
/// timers, inside the host. Effects — casts, timers, spawning, logging — go through [`Host`],
/// and the host's runtime performs them. The state is the value itself; it crosses versions as
/// bytes, exported by the old version and migrated by the new one's
/// [`code_change`](Self::code_change), as in Erlang.
///
/// ```
/// use ferrotp_abi::{hot_interface, Host, HotModule};
/// use serde::{Deserialize, Serialize};
///
/// // In the interface crate, shared with the host:
/// #[hot_interface(module = "greeter", args = String)]
/// pub trait Greeter {
///     fn greet(&self, name: String) -> String;
///     #[cast]
///     fn set_greeting(&mut self, greeting: String);
/// }
///
/// // In the module crate (`crate-type = ["cdylib"]`):
/// #[derive(Serialize, Deserialize)]
/// pub struct GreeterV1 { greeting: String }
///
/// impl Greeter for GreeterV1 {
///     fn greet(&self, name: String) -> String {
///         format!("{}, {name}!", self.greeting)
///     }
///     fn set_greeting(&mut self, greeting: String) {
///         self.greeting = greeting;
///     }
/// }
///
/// impl HotModule for GreeterV1 {
///     type Interface = GreeterInterface;
///     const VSN: &'static str = "1";
///     fn init(greeting: String, _: &mut Host<'_, GreeterInterface>) -> Result<Self, String> {
///         Ok(GreeterV1 { greeting })
///     }
/// }
///
/// ferrotp_abi::export_module!(GreeterV1);
/// ```
pub trait HotModule: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// The messages it takes, and how they reach its handlers.
    type Interface: Interface + Dispatch<Self>;
    /// This version (Erlang's `-vsn`).
    const VSN: &'static str;

    /// Start: build the state from the arguments, or refuse with a reason.
    ///
    /// # Errors
    ///
    /// The reason the process does not start.
    fn init(
        args: <Self::Interface as Interface>::Args,
        host: &mut Host<'_, Self::Interface>,
    ) -> Result<Self, String>;

    /// Clean up before the process exits, when `GenServer::terminate` would run.
    fn terminate(&mut self, reason: &str, host: &mut Host<'_, Self::Interface>) {
        let _ = (reason, host);
    }
    /// Migrate a state exported by version `from_vsn` into this version (OTP's
    /// `code_change(OldVsn, State, Extra)` for an upgrade). The default reads it as this
    /// version's own format, which is right when the state's layout did not change.
    ///
    /// # Errors
    ///
    /// The reason the upgrade must roll back.
    fn code_change(from_vsn: &str, old_state: &[u8], extra: &[u8]) -> Result<Self, String> {
        let _ = (from_vsn, extra);
        decode(old_state).map_err(|e| e.to_string())
    }

    /// Encode this state in version `to_vsn`'s format, for a downgrade (OTP's
    /// `code_change({down, Vsn}, State, Extra)`, which runs in the newer code). The default
    /// writes this version's own format.
    ///
    /// # Errors
    ///
    /// The reason the downgrade must roll back.
    fn downgrade(&self, to_vsn: &str, extra: &[u8]) -> Result<Vec<u8>, String> {
        let _ = (to_vsn, extra);
        encode(self).map_err(|e| e.to_string())
    }
}
