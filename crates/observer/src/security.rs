//! Who may read the page, and who may act: the token, the cookie it sets, the `Host` check
//! against DNS rebinding, and the extra checks on actions.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap};

/// The cookie the token sets is named after the port (`ferrotp_observer_4040`): browsers keep
/// cookies per host, not per port, and two observers on one machine must not overwrite each
/// other's.
pub(crate) fn cookie_name(port: u16) -> String {
    format!("ferrotp_observer_{port}")
}

/// The header an action carries the token in.
pub(crate) const TOKEN_HEADER: &str = "x-ferrotp-token";

/// The token: 128 random bits, one per OS process, so that an observer restarted by the same
/// application keeps its open pages working.
pub(crate) fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(random_hex)
}

/// The cookie's value: 128 random bits of its own, so that the token itself never travels in
/// a `Cookie` header. This is no wall against other servers on the same host name: browsers
/// send them this cookie too, and with it they can load the page, which carries the token.
/// An observer that must be kept from them binds a loopback address of its own (`127.0.0.2`):
/// to a browser, another host.
pub(crate) fn cookie_secret() -> &'static str {
    static SECRET: OnceLock<String> = OnceLock::new();
    SECRET.get_or_init(random_hex)
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compare without an early exit, so the time taken says nothing of how much matched.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Host` values this server answers to: the bound address, `localhost` when it is
/// loopback, and the names given to [`ObserverBuilder::allow_host`](crate::ObserverBuilder::allow_host).
pub(crate) fn allowed_hosts(addr: SocketAddr, extra: &[String]) -> Vec<String> {
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
    for h in extra {
        let h = h.to_ascii_lowercase();
        // Browsers leave a default port out of `Host` and `Origin`: a name given with one is
        // also answered without it.
        if let Some(bare) = h.strip_suffix(":443").or_else(|| h.strip_suffix(":80")) {
            hosts.push(bare.to_owned());
        }
        hosts.push(h);
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

/// Whether the request carries the cookie named `cookie` that the token sets.
pub(crate) fn has_cookie(headers: &HeaderMap, cookie: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == cookie && same_secret(value, cookie_secret()))
}

/// The `Set-Cookie` value for a browser that showed the token.
pub(crate) fn set_cookie(cookie: &str) -> String {
    format!(
        "{cookie}={}; HttpOnly; SameSite=Strict; Path=/",
        cookie_secret()
    )
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
    // `https://` for a name given with `allow_host`, behind a TLS proxy.
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
        })
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
    fn a_host_given_with_a_default_port_is_also_answered_without_it() {
        let hosts = allowed_hosts(
            "127.0.0.1:4000".parse().unwrap(),
            &["Observer.Example:443".into(), "other.example:8443".into()],
        );
        for h in [
            "observer.example",
            "observer.example:443",
            "other.example:8443",
        ] {
            assert!(hosts.iter().any(|a| a == h), "{h} in {hosts:?}");
        }
        assert!(!hosts.iter().any(|a| a == "other.example"));
    }

    #[test]
    fn the_cookie_is_not_the_token() {
        assert_ne!(cookie_secret(), token());
        assert!(set_cookie(&cookie_name(4000)).starts_with("ferrotp_observer_4000="));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
    }

    #[test]
    fn a_loopback_server_answers_to_localhost_and_its_address_only() {
        let hosts = allowed_hosts("127.0.0.1:4000".parse().unwrap(), &[]);
        assert_eq!(hosts, ["127.0.0.1:4000", "localhost:4000"]);
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "evil.example:4000".parse().unwrap());
        assert!(!host_allowed(&headers, &hosts));
        headers.insert(header::HOST, "LOCALHOST:4000".parse().unwrap());
        assert!(host_allowed(&headers, &hosts));
    }
}
