//! Who may read the page, and who may act: the token, the cookie it sets, the `Host` check
//! against DNS rebinding, and the extra checks on actions.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap};

/// The cookie the token sets.
pub(crate) const COOKIE: &str = "ferrotp_observer";

/// The header an action carries the token in.
pub(crate) const TOKEN_HEADER: &str = "x-ferrotp-token";

/// The token: 128 random bits, one per OS process, so that an observer restarted by the same
/// application keeps its open pages working.
pub(crate) fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).expect("the operating system's random source");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// Compare without an early exit, so the time taken says nothing of how much matched.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Host` values this server answers to: the bound address, and `localhost` when it is
/// loopback.
pub(crate) fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![match addr {
        SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
        SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
    }];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
        if addr.is_ipv4() {
            hosts.push(format!("127.0.0.1:{port}"));
        } else {
            hosts.push(format!("[::1]:{port}"));
        }
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

pub(crate) fn host_allowed(headers: &HeaderMap, hosts: &[String]) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
}

/// Whether the request carries the token's cookie.
pub(crate) fn has_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same_secret(value, token()))
}

/// The `Set-Cookie` value for a browser that showed the token.
pub(crate) fn set_cookie() -> String {
    format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", token())
}

/// Why an action request is refused, if it is.
pub(crate) fn action_refusal(headers: &HeaderMap, hosts: &[String]) -> Option<&'static str> {
    let token_ok = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| same_secret(v, token()));
    if !token_ok {
        return Some("an action needs the token in the X-Ferrotp-Token header");
    }
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| o.strip_prefix("http://"))
        .is_some_and(|o| hosts.iter().any(|h| h.eq_ignore_ascii_case(o)));
    if !origin_ok {
        return Some("an action needs an Origin header naming this server");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_128_bits_of_hex() {
        assert_eq!(token().len(), 32);
        assert!(token().chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
    }

    #[test]
    fn a_loopback_server_answers_to_localhost_and_its_address_only() {
        let hosts = allowed_hosts("127.0.0.1:4000".parse().unwrap());
        assert_eq!(hosts, ["127.0.0.1:4000", "localhost:4000"]);
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "evil.example:4000".parse().unwrap());
        assert!(!host_allowed(&headers, &hosts));
        headers.insert(header::HOST, "LOCALHOST:4000".parse().unwrap());
        assert!(host_allowed(&headers, &hosts));
    }
}
