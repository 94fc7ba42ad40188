//! Entry points for the fuzz targets: what a hostile peer controls. Not for applications.

use crate::flags::DistFlags;
use crate::handshake::{self, Admission, Me};
use crate::node::cookie::Cookie;

/// Parse one frame as the connection reader does; whether it was accepted.
pub fn parse_frame(frame: &[u8]) -> bool {
    crate::connection::parse_frame(frame).is_ok()
}

/// Run the accepting side of the handshake on `input` (what the peer sends); whether it
/// succeeded (it cannot without the cookie's digest).
pub fn accept_handshake(input: &[u8]) -> bool {
    use tokio::io::AsyncWriteExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // Room for the input and for everything the node answers, which nobody reads.
        let (mut peer, mut ours) = tokio::io::duplex(input.len() + 64 * 1024);
        let _ = peer.write_all(input).await;
        // The peer sends nothing more: reads past `input` see EOF, writes still succeed.
        let _ = peer.shutdown().await;
        let cookie = Cookie::new("fuzz").expect("a valid cookie");
        let me = Me {
            name: "fuzz@127.0.0.1",
            flags: DistFlags::OURS,
            creation: 1,
            cookie: &cookie,
        };
        let accepted = handshake::accept(&mut ours, &me, |_| Admission::Ok)
            .await
            .is_ok();
        drop(peer);
        accepted
    })
}
