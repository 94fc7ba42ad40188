//! Running real Erlang from tests.
#![allow(dead_code)]

use std::process::Command;

/// Whether `erl` can run here. Without it the interop tests say so and pass, unless
/// `FERROTP_REQUIRE_ERLANG` is set (CI sets it, after installing Debian's `erlang-nox`), where
/// a missing Erlang fails them.
pub(crate) fn erlang_available(test: &str) -> bool {
    let found = Command::new("erl")
        .args(["-noshell", "-eval", "halt()."])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("FERROTP_REQUIRE_ERLANG").is_none(),
            "{test}: erl is not installed and FERROTP_REQUIRE_ERLANG is set (install erlang-nox)"
        );
        eprintln!("{test}: erl not found, interop part skipped (install erlang-nox to run it)");
    }
    found
}

/// Evaluate Erlang `expr` (its value is printed with `~w`) in a fresh `erl`; the printed text.
pub(crate) fn erl_eval(expr: &str) -> String {
    let script = format!("io:format(\"~w\", [begin {expr} end]), halt().");
    let out = Command::new("erl")
        .args(["-noshell", "-eval", &script])
        .output()
        .expect("erl runs");
    assert!(
        out.status.success(),
        "erl failed on {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("erl prints text")
}

/// The bytes of an Erlang binary printed as `<<1,2,3>>`.
pub(crate) fn parse_binary(printed: &str) -> Vec<u8> {
    let inner = printed
        .trim()
        .strip_prefix("<<")
        .and_then(|s| s.strip_suffix(">>"))
        .unwrap_or_else(|| panic!("not a binary: {printed}"));
    if inner.is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|b| b.trim().parse().expect("a byte"))
        .collect()
}

/// `bytes` as an Erlang binary literal.
pub(crate) fn binary_literal(bytes: &[u8]) -> String {
    let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("<<{}>>", list.join(","))
}
