//! With no distribution installed, a remote pid is on a node that cannot be reached: OTP's
//! `noconnection`.

mod common;

use common::{Probe, Seen};
use ferrotp::prelude::*;

fn remote() -> Pid {
    Pid::from_parts(3, 1, 99)
}

#[tokio::test(start_paused = true)]
async fn linking_to_an_unreachable_remote_pid_gives_noconnection() {
    let mut probe = Probe::spawn(true);
    probe.run(|ctx| ctx.link(remote())).await.unwrap();
    assert_eq!(
        probe.next().await,
        Seen::Exit(Exit {
            from: remote(),
            reason: ExitReason::NoConnection
        })
    );
    assert!(process::process_info(probe.pid()).unwrap().links.is_empty());
}

#[tokio::test(start_paused = true)]
async fn monitoring_an_unreachable_remote_pid_gives_a_noconnection_down() {
    let mut probe = Probe::spawn(false);
    let reference = probe.run(|ctx| ctx.monitor(remote())).await;
    assert_eq!(
        probe.next().await,
        Seen::Down(Down {
            reference,
            pid: remote(),
            reason: ExitReason::NoConnection
        })
    );
}

#[tokio::test(start_paused = true)]
async fn an_exit_signal_to_an_unreachable_remote_pid_is_noproc() {
    assert!(process::exit(remote(), ExitReason::Kill).is_err());
}
