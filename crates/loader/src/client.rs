//! The typed client of a hot process, built from the module's interface crate.

use std::marker::PhantomData;
use std::time::Duration;

use ferrotp_abi::{codec, Interface};
use ferrotp_runtime::gen_server::{Server, DEFAULT_CALL_TIMEOUT};
use ferrotp_runtime::{ExitReason, Pid};

use crate::error::HotCallError;
use crate::process::{HotCall, HotProcess, HotRequest, Refusal, Speaking};

/// A handle to a hot process of module `I`: calls and casts in the interface's own types,
/// encoded for the module by the loader. Cheap to clone; it stays valid across upgrades (the
/// process keeps its pid).
///
/// With the interface's client trait in scope (`use counter_api::CounterClient;`, generated
/// by `#[hot_interface]`), each call and cast is a method: `counter.get().await?`,
/// `counter.add(2)`. Its inherent methods (`call`, `cast`, `stop`, …) take precedence over
/// interface methods of the same name.
pub struct HotClient<I: Interface> {
    server: Server<HotProcess>,
    _interface: PhantomData<fn() -> I>,
}

impl<I: Interface> Clone for HotClient<I> {
    fn clone(&self) -> Self {
        HotClient {
            server: self.server.clone(),
            _interface: PhantomData,
        }
    }
}

impl<I: Interface> std::fmt::Debug for HotClient<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotClient")
            .field("module", &I::MODULE)
            .field("pid", &self.server.pid())
            .finish()
    }
}

impl<I: Interface> HotClient<I> {
    pub(crate) fn new(server: Server<HotProcess>) -> Self {
        HotClient {
            server,
            _interface: PhantomData,
        }
    }

    /// A client for the hot process registered as `name` (local or via), looked up at each
    /// request.
    pub fn named(name: impl Into<ferrotp_runtime::registry::Name>) -> Self {
        Self::new(Server::named(name))
    }

    /// The process's pid, if it is running.
    pub fn pid(&self) -> Option<Pid> {
        self.server.pid()
    }

    /// Call with the default timeout (5 s).
    ///
    /// # Errors
    ///
    /// [`HotCallError::Call`] as a GenServer call fails (a panic in the module's handler
    /// crashes the process and arrives as `CallError::Exit`); [`HotCallError::Rejected`] if the
    /// running version could not read the request.
    pub async fn call(&self, request: I::Call) -> Result<I::Reply, HotCallError> {
        self.call_timeout(request, DEFAULT_CALL_TIMEOUT).await
    }

    /// Call, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_timeout(
        &self,
        request: I::Call,
        timeout: Duration,
    ) -> Result<I::Reply, HotCallError> {
        let bytes = codec::encode(&request).map_err(|e| HotCallError::Encode(e.to_string()))?;
        let request = HotRequest {
            speaking: Speaking::of(I::FINGERPRINT),
            bytes,
        };
        let reply = self
            .server
            .call_timeout(|reply| HotCall { request, reply }, timeout)
            .await?
            .map_err(|refusal| match refusal {
                Refusal::Decode(e) => HotCallError::Rejected(e),
                Refusal::Interface { module, vsn } => HotCallError::InterfaceMismatch {
                    module,
                    vsn,
                    client: std::any::type_name::<I>().into(),
                },
            })?;
        codec::decode(&reply).map_err(|e| HotCallError::BadReply(e.to_string()))
    }

    /// Cast: fire and forget, like a GenServer cast. A message that does not encode is
    /// logged and dropped.
    pub fn cast(&self, message: I::Cast) {
        match codec::encode(&message) {
            Ok(bytes) => self.server.cast(HotRequest {
                speaking: Speaking::of(I::FINGERPRINT),
                bytes,
            }),
            Err(e) => {
                tracing::error!(module = I::MODULE, error = %e, "a cast did not encode; dropped")
            }
        }
    }

    /// The process's `sys` statistics: whether it is suspended (an upgrade in progress), the
    /// module version it runs, messages handled and queued.
    ///
    /// # Errors
    ///
    /// As [`sys::statistics`](ferrotp_runtime::sys::statistics).
    pub async fn statistics(
        &self,
    ) -> Result<ferrotp_runtime::sys::Statistics, ferrotp_runtime::sys::SysError> {
        ferrotp_runtime::sys::statistics(&self.server, None).await
    }

    /// Stop the process with `reason`, waiting for `terminate`.
    ///
    /// # Errors
    ///
    /// As [`Server::stop`].
    pub async fn stop(
        &self,
        reason: ExitReason,
    ) -> Result<(), ferrotp_runtime::gen_server::StopError> {
        self.server.stop(reason, None).await
    }
}

impl<I: Interface> ferrotp_abi::Client<I> for HotClient<I> {
    type Error = HotCallError;

    fn request(
        &self,
        call: I::Call,
    ) -> impl std::future::Future<Output = Result<I::Reply, HotCallError>> + Send {
        self.call(call)
    }

    fn send(&self, cast: I::Cast) {
        self.cast(cast);
    }

    fn unexpected(reply: I::Reply) -> HotCallError {
        HotCallError::UnexpectedReply(std::any::type_name_of_val(&reply).to_string())
    }
}
