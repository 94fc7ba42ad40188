//! What a hot module is, to the code that writes one and the code that calls it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{decode, encode};
use crate::host::Host;

/// The messages of a hot module, shared by the module and its callers.
///
/// Put it in a small crate both depend on (as `examples/hot-counter/api` does): the host's
/// typed client and every version of the module then agree on the message types, and the
/// module's versions may change everything else. Adding a variant at the end of an enum is a
/// compatible change; reordering or removing variants is not.
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

/// One version of a hot module: a GenServer whose callbacks are synchronous state transitions.
///
/// The callbacks mirror `GenServer`'s. They are synchronous because a module carries no async
/// runtime: it would be a second tokio, with its own threads and timers, inside the host.
/// Effects — casts, timers, spawning, logging — go through [`Host`], and the host's runtime
/// performs them. The state is the value itself; it crosses versions as bytes, exported by
/// the old version and migrated by the new one's [`code_change`](Self::code_change), as in
/// Erlang.
///
/// ```
/// use ferrotp_abi::{Host, HotModule, Interface};
/// use serde::{Deserialize, Serialize};
///
/// pub struct Api;
/// impl Interface for Api {
///     const MODULE: &'static str = "greeter";
///     type Args = String;
///     type Call = String;
///     type Reply = String;
///     type Cast = ();
/// }
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Greeter { greeting: String }
///
/// impl HotModule for Greeter {
///     type Interface = Api;
///     const VSN: &'static str = "1";
///     fn init(greeting: String, _: &mut Host<'_, Api>) -> Result<Self, String> {
///         Ok(Greeter { greeting })
///     }
///     fn handle_call(&mut self, name: String, _: &mut Host<'_, Api>) -> String {
///         format!("{}, {name}!", self.greeting)
///     }
/// }
///
/// ferrotp_abi::export_module!(Greeter);
/// ```
pub trait HotModule: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// The messages it takes.
    type Interface: Interface;
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

    /// Answer a call. A panic crashes the process (its supervisor restarts it).
    fn handle_call(
        &mut self,
        request: <Self::Interface as Interface>::Call,
        host: &mut Host<'_, Self::Interface>,
    ) -> <Self::Interface as Interface>::Reply;

    /// Handle a cast. The default ignores it.
    fn handle_cast(
        &mut self,
        message: <Self::Interface as Interface>::Cast,
        host: &mut Host<'_, Self::Interface>,
    ) {
        let _ = (message, host);
    }

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
