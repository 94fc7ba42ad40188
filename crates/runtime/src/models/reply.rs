//! A call's reply racing the call's timeout: exactly one side wins.

use std::time::Duration;

use loom::thread;

use super::model;
use crate::gen_server::client::{settle_timeout, Waited};
use crate::gen_server::ReplyTo;
use crate::sync::oneshot;

#[test]
fn a_reply_racing_its_timeout_is_either_received_or_handed_back_to_the_server() {
    model(|| {
        let (tx, mut rx) = oneshot::channel::<u32>();
        let reply_to = ReplyTo::new(tx, None);
        let server = thread::spawn(move || match reply_to.reply(7) {
            Ok(()) => None,
            Err(e) => Some(e.into_inner()),
        });
        let waited = settle_timeout(&mut rx, Duration::from_millis(5));
        let handed_back = server.join().unwrap();
        match waited {
            Waited::Reply(v) => {
                assert_eq!(v, 7);
                assert_eq!(
                    handed_back, None,
                    "the caller saw a reply the server was told failed"
                );
            }
            Waited::Timeout(_) => assert_eq!(
                handed_back,
                Some(7),
                "the server was told its reply arrived, the caller timed out"
            ),
            Waited::Dropped | Waited::NoRuntime => {
                unreachable!(
                    "settling a timeout reports neither a dropped handle nor a lost runtime"
                )
            }
        }
        // Nothing reaches the caller afterwards.
        assert!(rx.try_recv().is_err());
    });
}
