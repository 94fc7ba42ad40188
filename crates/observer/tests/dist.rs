//! The distribution panel against a real BEAM node: the connected node, and a monitor that
//! crosses nodes. Needs `erl` (Debian's `erlang-nox`); without it the test says so and passes,
//! unless `FERROTP_REQUIRE_ERLANG` is set (as in CI).

#[path = "../../dist/tests/common/mod.rs"]
mod common;

use std::time::Duration;

mod client;

use client::json;
use common::{erlang_available, free_port, Beam};
use ferrotp_dist::{Cookie, Node};
use ferrotp_observer::Observer;
use ferrotp_runtime::{process, registry, Context};

const COOKIE: &str = "observer-dist-test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distribution_panel_shows_connected_nodes_and_monitors_across_them() {
    let observer = Observer::builder().start().await.unwrap();
    let before = json(&observer, "/api/snapshot").await;
    assert!(before["dist"].is_null(), "no node runs yet");

    let epmd = free_port();
    let name = "observed@127.0.0.1";
    let node = Node::builder(name)
        .cookie(Cookie::new(COOKIE).unwrap())
        .epmd(([127, 0, 0, 1], epmd).into())
        .start()
        .await
        .expect("a node");
    let watched = process::spawn(|mut ctx: Context<()>| async move {
        loop {
            ctx.recv().await;
        }
    });
    registry::register("watched", watched.pid()).unwrap();
    let v = json(&observer, "/api/snapshot").await;
    assert_eq!(v["node"], name);
    assert_eq!(v["dist"]["node"], name);
    assert_eq!(v["dist"]["nodes"], serde_json::json!([]));

    if !erlang_available("the_distribution_panel_shows_connected_nodes_and_monitors_across_them") {
        node.stop();
        return;
    }
    let mut beam = Beam::start("watcher@127.0.0.1", COOKIE, epmd, &[]);
    assert_eq!(
        beam.eval(&format!(
            "R = erlang:monitor(process, {{watched, '{name}'}}), is_reference(R)"
        )),
        "true"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = json(&observer, "/api/snapshot").await;
        let connected = v["dist"]["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["name"] == "watcher@127.0.0.1"));
        let monitored = v["dist"]["monitors"].as_array().is_some_and(|m| {
            m.iter().any(|m| {
                m["local_pid"] == watched.pid().to_string()
                    && m["kind"] == "monitored by"
                    && m["node"] == "watcher@127.0.0.1"
            })
        });
        if connected && monitored {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the panel never showed the BEAM and its monitor: {}",
            v["dist"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(beam);
    node.stop();
}
