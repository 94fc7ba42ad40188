//! Which public types may cross threads: every row is a compile-time assertion.

use ferrotp::prelude::*;
use ferrotp::process::{ProcessInfo, ProcessStatus};
use ferrotp::registry::RegistryError;
use ferrotp::timer::CancelTimerError;
use ferrotp::{LookupError, RegisterError};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}
fn unpin<T: Unpin>() {}

#[allow(dead_code)]
struct NotSync(std::cell::Cell<u8>);

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Pid>();
    send_sync::<Reference>();
    send_sync::<ExitReason>();
    send_sync::<Exit>();
    send_sync::<Down>();
    send_sync::<Message<u8>>();
    send_sync::<Addr<u8>>();
    // A message type need only be Send: the mailbox is behind a lock.
    send_sync::<Addr<NotSync>>();
    send_sync::<Context<u8>>();
    send_sync::<Builder>();
    send_sync::<TimerRef>();
    send_sync::<Registry<String, u8>>();
    send_sync::<ProcessInfo>();
    send_sync::<ProcessStatus>();
    send_sync::<SendError<u8>>();
    send_sync::<NoProcError>();
    send_sync::<SpawnError>();
    send_sync::<RegisterError>();
    send_sync::<LookupError>();
    send_sync::<RegistryError>();
    send_sync::<CancelTimerError>();
    send_sync::<Server<common_server::Unit>>();
    send_sync::<ferrotp::gen_server::ReplyTo<u8>>();
    send_sync::<ferrotp::gen_server::CallError>();
    send_sync::<ferrotp::gen_server::StartError>();
    send_sync::<ferrotp::gen_server::StopError>();
    send_sync::<ferrotp::gen_server::StartOptions>();
    send_sync::<ferrotp::sys::SysError>();
    send_sync::<ferrotp::sys::Statistics>();
    send_sync::<Agent<Vec<u8>>>();
    send_sync::<ferrotp::supervisor::Supervisor>();
    send_sync::<ferrotp::supervisor::DynamicSupervisor>();
    send_sync::<ferrotp::supervisor::ChildSpec>();
    send_sync::<ferrotp::supervisor::SupervisorError>();
    send_sync::<ferrotp::supervisor::ChildInfo>();
    send_sync::<ferrotp::task::Task<u8>>();
    send_sync::<ferrotp::task::TaskSupervisor>();
    send_sync::<ferrotp::task::TaskError<u8>>();
    send_sync::<ferrotp::application::Application>();
    send::<ferrotp::process::AwaitExit>();
    unpin::<ferrotp::process::AwaitExit>();
}

mod common_server {
    use ferrotp::gen_server::{GenServer, Init, ServerContext};

    pub(super) struct Unit;

    impl GenServer for Unit {
        type Args = ();
        type Call = ();
        type Cast = ();
        type Info = ();
        type Continue = ();
        async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
            Init::ok(Unit)
        }
    }
}
