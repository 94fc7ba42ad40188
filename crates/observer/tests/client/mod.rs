//! A minimal HTTP/1.1 client for the observer's tests and bench: one request per connection,
//! the way `curl` talks to it, on loopback.
#![allow(dead_code)]

use std::time::Duration;

use ferrotp_observer::Observer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One exchange: the status code, the head (lower-cased) and the body. Fails after 20 s.
pub(crate) async fn http(observer: &Observer, request: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(observer.local_addr())
        .await
        .unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("the observer answers")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_owned())
}

/// The `Host` a browser sends it.
pub(crate) fn host(o: &Observer) -> String {
    o.local_addr().to_string()
}

/// The token of the URL it logged.
pub(crate) fn token(o: &Observer) -> String {
    o.url().split("token=").nth(1).unwrap().to_owned()
}

/// The cookie a browser gets for the token: `name=value`.
pub(crate) async fn login(o: &Observer) -> String {
    let request = format!(
        "GET /?token={} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        token(o),
        host(o)
    );
    let (status, head, _) = http(o, &request).await;
    assert_eq!(status, 303);
    let line = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a cookie")
        .to_owned();
    line.split(';').next().unwrap().to_owned()
}

/// A GET of `path`, with the cookie (logging in first) or without.
pub(crate) async fn get(o: &Observer, path: &str, cookie: bool) -> String {
    if cookie {
        get_with(o, path, &login(o).await)
    } else {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            host(o)
        )
    }
}

/// A GET of `path` with a cookie from [`login`].
pub(crate) fn get_with(o: &Observer, path: &str, cookie: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
        host(o)
    )
}

/// The JSON at `path`, read with the cookie.
pub(crate) async fn json(o: &Observer, path: &str) -> serde_json::Value {
    let (status, _, body) = http(o, &get(o, path, true).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}
