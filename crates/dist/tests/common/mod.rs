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

/// A real BEAM node, driven line by line: each [`eval`](Beam::eval) sends Erlang expressions
/// to its stdin and reads back the value, printed with `~w`. Killed when dropped.
pub(crate) struct Beam {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    pub(crate) name: String,
}

/// The REPL the BEAM runs: read a line, evaluate it with the bindings so far, print `=> V`.
const REPL: &str = "L = fun L(Bs) -> case io:get_line('') of eof -> halt(); Line -> \
    Bs2 = try {ok, Toks, _} = erl_scan:string(Line), {ok, Exprs} = erl_parse:parse_exprs(Toks), \
    {value, V, B} = erl_eval:exprs(Exprs, Bs), io:format(\"=> ~w~n\", [V]), B \
    catch C:E -> io:format(\"=> {caught,~w,~w}~n\", [C, E]), Bs end, L(Bs2) end end, \
    io:format(\"=> ready~n\"), L(erl_eval:new_bindings()).";

impl Beam {
    /// Start `erl -name <name> -setcookie <cookie>` using the EPMD on `epmd_port`.
    pub(crate) fn start(name: &str, cookie: &str, epmd_port: u16, extra: &[&str]) -> Beam {
        use std::io::BufRead;
        let mut child = Command::new("erl")
            .args([
                "-name",
                name,
                "-setcookie",
                cookie,
                "-noshell",
                "-kernel",
                "net_ticktime",
                "60",
            ])
            .args(extra)
            .args(["-eval", REPL])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("erl starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(v) = line.strip_prefix("=> ") {
                    if tx.send(v.to_owned()).is_err() {
                        break;
                    }
                } else {
                    eprintln!("[beam] {line}");
                }
            }
        });
        let mut beam = Beam {
            child,
            stdin,
            lines,
            name: name.to_owned(),
        };
        assert_eq!(beam.next(), "ready");
        beam
    }

    fn next(&mut self) -> String {
        self.lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the BEAM answers within 60 s")
    }

    /// Evaluate `exprs` (Erlang, ending without a dot) and return the printed value.
    pub(crate) fn eval(&mut self, exprs: &str) -> String {
        use std::io::Write;
        assert!(!exprs.contains('\n'), "one line per evaluation");
        writeln!(self.stdin, "{exprs}.").expect("the BEAM reads");
        self.stdin.flush().unwrap();
        self.next()
    }

    /// Wait inside the BEAM, up to 30 s, until the Erlang `condition` (a boolean expression
    /// over the bindings so far) holds; `true` if it did. For state that changes when a
    /// signal from the network arrives and that no message announces (a link, a monitor).
    pub(crate) fn wait_until(&mut self, condition: &str) -> bool {
        let waited = self.eval(&format!(
            "(fun W(0) -> false; W(N) -> case (try {condition} catch _:_ -> false end) of \
             true -> true; _ -> receive after 20 -> W(N - 1) end end end)(1500)"
        ));
        waited == "true"
    }
}

impl Drop for Beam {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port, for an EPMD of the test's own.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
