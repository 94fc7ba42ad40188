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
    send::<ferrotp::process::AwaitExit>();
    unpin::<ferrotp::process::AwaitExit>();
}
