//! `#[gen_server(remote)]`: a macro-declared server answers BEAM nodes, and its generated
//! `<Type>Remote` client calls a server of the same shape on a BEAM node.

#[path = "../crates/dist/tests/common/mod.rs"]
mod beam;

use std::time::Duration;

use beam::{erlang_available, free_port, Beam};
use ferrotp::dist::{Cookie, Node, RemoteCallError};
use ferrotp::prelude::*;

const COOKIE: &str = "macro_cookie";

/// A key-value store.
struct Kv {
    entries: std::collections::BTreeMap<String, i64>,
}

#[gen_server(name = "kv", remote)]
impl Kv {
    fn init() -> Result<Self, ExitReason> {
        Ok(Kv {
            entries: Default::default(),
        })
    }

    #[call]
    fn get(&self, key: String) -> Option<i64> {
        self.entries.get(&key).copied()
    }

    #[call]
    fn size(&self) -> usize {
        self.entries.len()
    }

    #[cast]
    fn put(&mut self, key: String, value: i64) {
        self.entries.insert(key, value);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macro_server_answers_the_beam_and_its_remote_client_calls_the_beam() {
    if !erlang_available("a_macro_server_answers_the_beam_and_its_remote_client_calls_the_beam") {
        return;
    }
    let epmd = free_port();
    let node = Node::builder("rust_macro@127.0.0.1")
        .cookie(Cookie::new(COOKIE).unwrap())
        .epmd(([127, 0, 0, 1], epmd).into())
        .start()
        .await
        .unwrap();
    let kv = Kv::start().await.unwrap();
    node.export(kv.server()).unwrap();

    let mut beam =
        tokio::task::block_in_place(|| Beam::start("beam_macro@127.0.0.1", COOKIE, epmd, &[]));
    let mut eval = |e: &str| tokio::task::block_in_place(|| beam.eval(e));
    assert_eq!(
        eval("gen_server:call({kv, 'rust_macro@127.0.0.1'}, {get, <<\"a\">>})"),
        "nil"
    );
    assert_eq!(
        eval("gen_server:cast({kv, 'rust_macro@127.0.0.1'}, {put, <<\"a\">>, 5})"),
        "ok"
    );
    assert_eq!(
        eval("gen_server:call({kv, 'rust_macro@127.0.0.1'}, {get, <<\"a\">>})"),
        "5"
    );
    assert_eq!(
        eval("gen_server:call({kv, 'rust_macro@127.0.0.1'}, size)"),
        "1"
    );
    let wrong = eval("gen_server:call({kv, 'rust_macro@127.0.0.1'}, {get, 1, 2})");
    assert!(wrong.starts_with("{error,{badarg,"), "{wrong}");

    // A BEAM server of the same shape; casts are shown to the shell.
    assert_eq!(
        eval("Shell = self(), register(kv, spawn(fun L() -> receive {'$gen_call', {F, T}, {get, <<\"x\">>}} -> F ! {T, 42}, L(); {'$gen_call', {F, T}, {get, _}} -> F ! {T, nil}, L(); {'$gen_call', {F, T}, size} -> F ! {T, 7}, L(); {'$gen_cast', M} -> Shell ! {cast, M}, L() end end))"),
        "true"
    );
    let remote = KvRemote::registered(&node, "beam_macro@127.0.0.1");
    assert_eq!(remote.get("x".into()).await.unwrap(), Some(42));
    assert_eq!(remote.get("y".into()).await.unwrap(), None);
    assert_eq!(remote.size().await.unwrap(), 7);
    remote.put("x".into(), 1).await.unwrap();
    assert_eq!(
        eval("receive {cast, M} -> M after 30000 -> timeout end"),
        "{put,<<120>>,1}"
    );
    let gone = KvRemote::new(&node, ("nobody", "beam_macro@127.0.0.1"))
        .size_timeout(Duration::from_secs(30))
        .await;
    assert!(
        matches!(gone, Err(RemoteCallError::Exit(ExitReason::NoProc))),
        "{gone:?}"
    );
    node.stop();
}
