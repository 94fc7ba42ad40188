//! Module-based supervisors: an `init` callback that runs in the supervisor's own process and
//! returns its flags and children (OTP's `supervisor` behaviour, Elixir's `use Supervisor`).

use super::{ChildSpec, SupervisorFlags};

/// What a supervisor's `init` returns.
#[derive(Debug)]
pub enum SupervisorInit {
    /// Run with these flags and these children, started in order.
    Ok(SupervisorFlags, Vec<ChildSpec>),
    /// Do not run: the start returns [`SupervisorError::Ignored`](super::SupervisorError::Ignored)
    /// (a child spec reports `Ignore`), and no process or exit message is left behind.
    Ignore,
}

/// A supervisor defined by its `init` callback (OTP's `supervisor` behaviour, Elixir's
/// `use Supervisor`).
///
/// `init` runs inside the supervisor's own process when it starts — so a spec's start
/// function, a name lookup or a `process::current()` in it sees the supervisor — and again on
/// [`Supervisor::change_code`](super::Supervisor::change_code), with OTP's rules for what an
/// upgrade changes:
///
/// * the new flags replace the old;
/// * a child whose id is in the new list gets the new spec, and keeps running as it is;
/// * a new id is added but **not** started (start it with
///   [`restart_child`](super::Supervisor::restart_child));
/// * an id missing from the new list is kept, running, with its old spec;
/// * `Ignore`, or invalid flags or specs, change nothing (invalid ones are reported).
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::gen_server::StartOptions;
/// use ferrotp::registry::{Keys, Registry};
/// use ferrotp::supervisor::{
///     DynamicSupervisor, DynamicSupervisorFlags, Strategy, Supervisor, SupervisorFlags,
///     SupervisorInit, SupervisorModule,
/// };
///
/// /// The application's top supervisor: a registry of sessions, and their workers.
/// struct AppSupervisor {
///     max_sessions: usize,
/// }
///
/// impl SupervisorModule for AppSupervisor {
///     fn init(&self) -> SupervisorInit {
///         SupervisorInit::Ok(
///             SupervisorFlags::new(Strategy::RestForOne),
///             vec![
///                 Registry::<String, ()>::child_spec(Keys::Unique).name("sessions"),
///                 DynamicSupervisor::child_spec(
///                     DynamicSupervisorFlags::new().max_children(self.max_sessions),
///                 )
///                 .name("session_workers"),
///             ],
///         )
///     }
/// }
///
/// let sup = Supervisor::start_module(AppSupervisor { max_sessions: 100 }, StartOptions::new())
///     .await
///     .unwrap();
/// assert_eq!(sup.count_children().await.unwrap().active, 2);
/// # }
/// ```
pub trait SupervisorModule: Send + Sync + 'static {
    /// The supervisor's flags and children, or `Ignore`.
    fn init(&self) -> SupervisorInit;

    /// A child spec that runs this supervisor under another one; its id is the type's name.
    fn child_spec(self) -> ChildSpec
    where
        Self: Sized,
    {
        super::Supervisor::module_child_spec(
            std::sync::Arc::new(self),
            super::short_type_name::<Self>(),
        )
    }
}

/// The supervisor of [`Supervisor::start`](super::Supervisor::start): fixed flags and
/// children.
pub(crate) struct Fixed {
    pub(crate) flags: SupervisorFlags,
    pub(crate) children: Vec<ChildSpec>,
}

impl SupervisorModule for Fixed {
    fn init(&self) -> SupervisorInit {
        SupervisorInit::Ok(self.flags, self.children.clone())
    }
}
