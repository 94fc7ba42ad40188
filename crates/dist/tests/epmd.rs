//! EPMD: ferrotp's own server and client, and a ferrotp node registered with Debian's `epmd`
//! (then reached by a BEAM node through it).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{erlang_available, free_port, Beam};
use ferrotp_dist::epmd::{EpmdClient, EpmdError, EpmdServer};
use ferrotp_dist::{Cookie, Node};

fn loopback(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_epmd_registers_looks_up_lists_and_forgets_a_closed_registration() {
    let server = EpmdServer::bind(loopback(0)).await.unwrap();
    let epmd = EpmdClient::new(server.addr());
    let registration = epmd.register("alpha", 4242).await.unwrap();
    let entry = epmd.port_please("alpha").await.unwrap().unwrap();
    assert_eq!(
        (entry.port, entry.highest_version, entry.lowest_version),
        (4242, 6, 6)
    );
    assert_eq!(
        epmd.names().await.unwrap(),
        vec![("alpha".to_owned(), 4242)]
    );
    assert!(epmd.port_please("beta").await.unwrap().is_none());

    drop(registration);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while epmd.port_please("alpha").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the registration is released"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_registered_twice_is_refused_and_creations_differ() {
    let server = EpmdServer::bind(loopback(0)).await.unwrap();
    let epmd = EpmdClient::new(server.addr());
    let first = epmd.register("twice", 1).await.unwrap();
    let again = epmd.register("twice", 2).await;
    assert!(
        matches!(again, Err(EpmdError::NameTaken(ref n)) if n == "twice"),
        "{again:?}"
    );
    let other = epmd.register("other", 3).await.unwrap();
    assert_ne!(first.creation(), other.creation());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_is_closed_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = EpmdServer::bind(loopback(0)).await.unwrap();
    for garbage in [
        &[0u8, 3, 120, 1, 2][..],
        &[0, 1, 99],
        &[255, 255, 1],
        &[0, 0],
    ] {
        let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let _ = s.write_all(garbage).await;
        let _ = s.shutdown().await;
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut rest)).await;
    }
    let epmd = EpmdClient::new(server.addr());
    let _r = epmd.register("still", 7).await.unwrap();
    assert_eq!(epmd.port_please("still").await.unwrap().unwrap().port, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_epmd_and_none_allowed_to_start_a_node_fails_with_a_clear_error() {
    let err = Node::builder("lonely@127.0.0.1")
        .cookie(Cookie::new("c").unwrap())
        .epmd(loopback(free_port()))
        .start_epmd(false)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no EPMD at"), "{err}");
}

/// Debian's `epmd`, in the foreground on its own port; killed when dropped.
struct DebianEpmd(std::process::Child);

impl Drop for DebianEpmd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_registers_with_debians_epmd_and_a_beam_node_finds_it_there() {
    if !erlang_available("a_node_registers_with_debians_epmd_and_a_beam_node_finds_it_there") {
        return;
    }
    let port = free_port();
    let _epmd = DebianEpmd(
        std::process::Command::new("epmd")
            .args(["-port", &port.to_string()])
            .spawn()
            .expect("epmd starts"),
    );
    let client = EpmdClient::new(loopback(port));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.names().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "epmd listens");
        tokio::task::yield_now().await;
    }
    let node = Node::builder("debian_epmd@127.0.0.1")
        .cookie(Cookie::new("epmd_cookie").unwrap())
        .epmd(loopback(port))
        .start_epmd(false)
        .start()
        .await
        .unwrap();
    assert!(!node.runs_epmd());
    let names = client.names().await.unwrap();
    assert!(
        names
            .iter()
            .any(|(n, p)| n == "debian_epmd" && *p == node.listen_addr().port()),
        "{names:?}"
    );

    let beam = tokio::task::spawn_blocking(move || {
        let mut beam = Beam::start("beam_debian@127.0.0.1", "epmd_cookie", port, &[]);
        let pong = beam.eval("net_adm:ping('debian_epmd@127.0.0.1')");
        (beam, pong)
    })
    .await
    .unwrap();
    assert_eq!(beam.1, "pong");
    node.connect("beam_debian@127.0.0.1").await.unwrap();
    assert!(node.nodes().contains(&"beam_debian@127.0.0.1".to_owned()));
    node.stop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.port_please("debian_epmd").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a stopped node leaves EPMD"
        );
        tokio::task::yield_now().await;
    }
    drop(beam);
}

#[tokio::test(start_paused = true)]
async fn an_epmd_that_never_answers_fails_the_exchange_with_a_timeout() {
    let silent = tokio::net::TcpListener::bind(loopback(0)).await.unwrap();
    let addr = silent.local_addr().unwrap();
    // Accepts, reads nothing, answers nothing.
    let held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            kept.push(s);
        }
    });
    let epmd = EpmdClient::new(addr).timeout(Duration::from_secs(2));
    assert!(matches!(
        epmd.port_please("x").await,
        Err(EpmdError::Timeout(_))
    ));
    assert!(matches!(
        epmd.register("x", 1).await,
        Err(EpmdError::Timeout(_))
    ));
    let node = Node::builder("patient@127.0.0.1")
        .cookie(Cookie::new("c").unwrap())
        .epmd(addr)
        .setup_time(Duration::from_secs(2))
        .start()
        .await;
    assert!(
        matches!(
            node,
            Err(ferrotp_dist::DistError::Epmd(EpmdError::Timeout(_)))
        ),
        "{node:?}"
    );
    held.abort();
}
