//! The observer's HTTP surface without a browser: who is let in, what actions need, and the
//! JSON API. Real sockets on loopback; every wait is on an event.

use std::time::Duration;

use ferrotp_observer::{Observer, ObserverError};
use ferrotp_runtime::observe;
use ferrotp_runtime::process;
use ferrotp_runtime::supervisor::{ChildSpec, Started, Strategy, Supervisor, SupervisorFlags};
use ferrotp_runtime::{Context, ExitReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod client;
use client::{get, host, http, login, token};

async fn post(o: &Observer, body: &str, extra_headers: &str) -> String {
    format!(
        "POST /api/action HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n{extra_headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        host(o),
        login(o).await,
        body.len()
    )
}

/// A supervised worker that waits forever.
fn waiting(id: &'static str) -> ChildSpec {
    ChildSpec::worker(id, |opts| async move {
        let a = opts
            .builder()
            .spawn(|_: Context| std::future::pending())
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(a.pid()))
    })
}

async fn parked() -> ferrotp_runtime::Pid {
    process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        Ok(())
    })
    .pid()
}

#[tokio::test]
async fn a_foreign_host_gets_403_even_with_the_cookie() {
    let o = Observer::builder().start().await.unwrap();
    let request = get(&o, "/api/snapshot", true)
        .await
        .replace(&host(&o), "rebound.example:80");
    let (status, _, _) = http(&o, &request).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn every_route_needs_the_cookie_that_the_token_sets() {
    let o = Observer::builder().start().await.unwrap();
    for path in ["/", "/api/snapshot", "/api/logs", "/api/stream"] {
        assert_eq!(http(&o, &get(&o, path, false).await).await.0, 401, "{path}");
    }
    let (status, head, _) = http(&o, &get(&o, "/?token=0000", false).await).await;
    assert_eq!(status, 401, "a wrong token");
    let (status, head2, _) =
        http(&o, &get(&o, &format!("/?token={}", token(&o)), false).await).await;
    assert_eq!(status, 303);
    assert!(head2.contains("location: /"));
    let cookie = head2
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap();
    assert!(
        cookie.contains("httponly") && cookie.contains("samesite=strict"),
        "{cookie}"
    );
    assert!(!head.contains("set-cookie"));
    let (status, _, body) = http(&o, &get(&o, "/", true).await).await;
    assert_eq!(status, 200);
    assert!(body.contains("ferrotp observer"));
    // The cookie is a secret of its own: the token in its place, or the cookie of another
    // port, is refused.
    let port = o.local_addr().port();
    for cookie in [
        format!("ferrotp_observer_{port}={}", token(&o)),
        login(&o)
            .await
            .replace(&port.to_string(), &(port ^ 1).to_string()),
    ] {
        let request = format!(
            "GET /api/logs HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
            host(&o)
        );
        assert_eq!(http(&o, &request).await.0, 401, "{cookie}");
    }
}

#[tokio::test]
async fn a_host_named_with_allow_host_is_answered_and_may_act_over_https() {
    let o = Observer::builder()
        .allow_host("observer.example:443")
        .allow_actions(true)
        .start()
        .await
        .unwrap();
    let request = get(&o, "/api/logs", true)
        .await
        .replace(&host(&o), "observer.example");
    assert_eq!(http(&o, &request).await.0, 200);
    let pid = parked().await;
    let body = format!(r#"{{"action":"shutdown","pid":"{}"}}"#, pid.serial());
    let headers = format!(
        "X-Ferrotp-Token: {}\r\nOrigin: https://observer.example\r\n",
        token(&o)
    );
    assert_eq!(http(&o, &post(&o, &body, &headers).await).await.0, 200);
}

#[tokio::test]
async fn a_stream_interval_that_is_not_a_number_falls_back_to_the_default() {
    let o = Observer::builder().start().await.unwrap();
    let mut s = tokio::net::TcpStream::connect(o.local_addr())
        .await
        .unwrap();
    let request = get(&o, "/api/stream?interval=NaN", true).await;
    s.write_all(request.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut first))
        .await
        .expect("the stream answers")
        .unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_non_loopback_address_needs_an_explicit_opt_in() {
    let refused = Observer::builder().bind("0.0.0.0:0").start().await;
    assert!(matches!(refused, Err(ObserverError::NotLoopback(_))));
}

#[tokio::test]
async fn actions_are_off_by_default() {
    let o = Observer::builder().start().await.unwrap();
    let pid = parked().await;
    let body = format!(r#"{{"action":"kill","pid":"{}"}}"#, pid.serial());
    let headers = format!(
        "X-Ferrotp-Token: {}\r\nOrigin: http://{}\r\n",
        token(&o),
        host(&o)
    );
    assert_eq!(http(&o, &post(&o, &body, &headers).await).await.0, 403);
    assert!(process::is_alive(pid));
}

#[tokio::test]
async fn an_action_needs_the_token_header_and_a_matching_origin() {
    let o = Observer::builder()
        .allow_actions(true)
        .start()
        .await
        .unwrap();
    let pid = parked().await;
    let body = format!(r#"{{"action":"kill","pid":"{}"}}"#, pid.serial());
    let t = token(&o);
    let h = host(&o);
    for headers in [
        String::new(),
        format!("Origin: http://{h}\r\n"),
        format!("X-Ferrotp-Token: {t}\r\n"),
        format!("X-Ferrotp-Token: {t}\r\nOrigin: http://evil.example\r\n"),
        format!("X-Ferrotp-Token: 0000\r\nOrigin: http://{h}\r\n"),
    ] {
        assert_eq!(
            http(&o, &post(&o, &body, &headers).await).await.0,
            403,
            "{headers:?}"
        );
        assert!(process::is_alive(pid));
    }
    let headers = format!("X-Ferrotp-Token: {t}\r\nOrigin: http://{h}\r\n");
    let (status, _, reply) = http(&o, &post(&o, &body, &headers).await).await;
    assert_eq!(status, 200, "{reply}");
    let killed = tokio::time::timeout(Duration::from_secs(20), async {
        while observe::exit_reason(pid).is_none() {
            tokio::task::yield_now().await;
        }
    });
    killed.await.expect("the process exits");
    assert_eq!(observe::exit_reason(pid), Some(ExitReason::Killed));
}

#[tokio::test]
async fn the_snapshot_lists_the_tree_and_pages_the_process_table() {
    let o = Observer::builder().start().await.unwrap();
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::RestForOne),
        vec![waiting("first"), waiting("second")],
    )
    .await
    .unwrap();
    let sup_key = sup.pid().unwrap().serial().to_string();
    for _ in 0..150 {
        parked().await;
    }
    let (status, _, body) = http(&o, &get(&o, "/api/snapshot?sort=pid&dir=desc", true).await).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["table"]["rows"].as_array().unwrap().len() <= 100);
    assert!(v["table"]["pages"].as_u64().unwrap() >= 2);
    let tree = &v["tree"]["supervisors"][&sup_key];
    assert_eq!(tree["kind"], "rest_for_one");
    assert_eq!(tree["children"][0]["id"], "first");
    assert_eq!(tree["children"][1]["id"], "second");
    assert!(v["tree"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == &sup_key));
    let (status, _, body) =
        http(&o, &get(&o, &format!("/api/process/{sup_key}"), true).await).await;
    assert_eq!(status, 200);
    let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(detail["links"].as_array().unwrap().len(), 2);
    assert_eq!(
        http(&o, &get(&o, "/api/process/99999999", true).await)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_nested_supervisor_lists_its_children_only_when_opened() {
    let o = Observer::builder().start().await.unwrap();
    let inner = Supervisor::child_spec(
        SupervisorFlags::new(Strategy::OneForAll),
        vec![waiting("x"), waiting("y")],
    )
    .id("inner");
    let root = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![inner])
        .await
        .unwrap();
    let root_key = root.pid().unwrap().serial().to_string();
    let snapshot = |query: String| {
        let o = &o;
        async move {
            let (_, _, body) =
                http(o, &get(o, &format!("/api/snapshot?{query}"), true).await).await;
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let v = snapshot(String::new()).await;
    let root_view = &v["tree"]["supervisors"][&root_key];
    assert_eq!(root_view["open"], true, "a root is open");
    let inner_key = root_view["children"][0]["pid"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inner_view = &v["tree"]["supervisors"][&inner_key];
    assert_eq!(inner_view["open"], false);
    assert_eq!(inner_view["total"], 2);
    assert_eq!(inner_view["children"].as_array().unwrap().len(), 0);

    let v = snapshot(format!("open={inner_key}&closed={root_key}")).await;
    assert_eq!(
        v["tree"]["supervisors"][&inner_key]["children"][1]["id"],
        "y"
    );
    assert_eq!(
        v["tree"]["supervisors"][&root_key]["children"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
