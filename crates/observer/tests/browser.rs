//! The observer in a real browser: Debian's Chromium, headless, driven through chromedriver
//! on loopback. The page must show what the runtime knows, act on it, survive a restart of
//! the server, and never run text it shows.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`; `.ci/run`
//! installs them). Without them the test says so and passes, unless
//! `FERROTP_REQUIRE_BROWSER=1` (as in CI), when it fails. Every wait is for something to show,
//! with a deadline; the screenshot lands in `target/tmp/observer.png` (and in
//! `docs/images/observer.png` with `FERROTP_UPDATE_SCREENSHOT=1`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use ferrotp_loader::{cargo_build, Loader, LoaderConfig, TrustPolicy};
use ferrotp_observer::Observer;
use ferrotp_runtime::gen_server::{GenServer, Init, ServerContext};
use ferrotp_runtime::process;
use ferrotp_runtime::registry;
use ferrotp_runtime::supervisor::{ChildSpec, Started, Strategy, Supervisor, SupervisorFlags};
use ferrotp_runtime::{Context, ExitReason};
use hot_counter_api::CounterInterface;
use serde_json::json;

mod client;

const NASTY_NAME: &str = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>";

/// How long any one thing may take to show on the page.
const DEADLINE: Duration = Duration::from_secs(15);

fn find(program: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(program.to_uppercase().replace('-', "_")) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| candidates.iter().map(move |c| dir.join(c)))
        .find(|p| p.is_file())
}

/// chromedriver, on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(chromedriver: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let began = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            began.elapsed() < DEADLINE,
            "chromedriver did not listen in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn open_browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1440,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a headless Chromium session")
}

/// Poll the page until `check` holds, or fail with `what` and what the page shows.
async fn wait_for<F, Fut>(c: &Client, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let began = Instant::now();
    loop {
        if check().await {
            return;
        }
        if began.elapsed() > DEADLINE {
            let shown = c
                .execute("return document.body.innerText", vec![])
                .await
                .map(|v| v.to_string())
                .unwrap_or_default();
            panic!("the page never showed: {what}\n--- the page ---\n{shown}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn script(c: &Client, js: &str) -> serde_json::Value {
    c.execute(js, vec![]).await.expect("the script runs")
}

async fn text_of(c: &Client, css: &str) -> Option<String> {
    let e = c.find(Locator::Css(css)).await.ok()?;
    e.text().await.ok()
}

/// Click `css`, finding it again if the page re-rendered it between the find and the click.
async fn click(c: &Client, css: &str) {
    let began = Instant::now();
    loop {
        let clicked = match c.find(Locator::Css(css)).await {
            Ok(e) => e.click().await.is_ok(),
            Err(_) => false,
        };
        if clicked {
            return;
        }
        assert!(began.elapsed() < DEADLINE, "could not click {css}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn tab(c: &Client, name: &str) {
    click(c, &format!("nav button[data-tab='{name}']")).await;
}

/// A worker that shows its state to observers.
#[derive(Debug)]
struct Worker {
    served: u64,
}

impl GenServer for Worker {
    type Args = ();
    type Call = ();
    type Cast = ();
    type Info = ();
    type Continue = ();

    async fn init(_: (), _: &mut ServerContext<Self>) -> Init<Self> {
        Init::ok(Worker { served: 0 })
    }

    async fn handle_cast(
        &mut self,
        _: (),
        _: &mut ServerContext<Self>,
    ) -> ferrotp_runtime::gen_server::HandleResult<Self> {
        self.served += 1;
        ferrotp_runtime::gen_server::HandleResult::noreply()
    }

    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

fn worker(id: &'static str) -> ChildSpec {
    ChildSpec::worker(id, |opts| async move {
        let server = ferrotp_runtime::gen_server::start_with::<Worker>((), opts)
            .await
            .map_err(|e| ExitReason::error(e.to_string()))?;
        Ok(Started::Pid(server.pid().expect("started")))
    })
}

/// The counter module, versions 1 and 2, built by cargo and copied where only we write.
fn hot_counter() -> (PathBuf, PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = cargo_build(&root, &["hot-counter-v1", "hot-counter-v2"], &[])
        .expect("the counter module builds");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("observer-modules");
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let copy = |stem: &str| {
        let lib = built
            .iter()
            .find(|p| {
                p.file_stem()
                    .is_some_and(|s| s.to_string_lossy().ends_with(stem))
            })
            .unwrap_or_else(|| panic!("cargo built no {stem}"));
        let to = dir.join(lib.file_name().unwrap());
        std::fs::copy(lib, &to).unwrap();
        to
    };
    let v1 = copy("hot_counter_v1");
    let v2 = copy("hot_counter_v2");
    (dir, v1, v2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_page_shows_and_acts_on_the_running_system() {
    let (Some(chromium), Some(chromedriver)) = (
        find(
            "chromium",
            &["chromium", "chromium-browser", "google-chrome"],
        ),
        find("chromedriver", &["chromedriver"]),
    ) else {
        assert!(
            std::env::var_os("FERROTP_REQUIRE_BROWSER").is_none(),
            "FERROTP_REQUIRE_BROWSER is set but chromium or chromedriver is missing"
        );
        eprintln!("skipped: chromium and chromedriver are not installed (Debian: chromium chromium-driver)");
        return;
    };

    // The system to observe: a supervisor with two workers and a hot counter, and a process
    // whose name is an attack on the page.
    let (modules, v1, v2) = hot_counter();
    // The 60 s the test may take run from here: building the modules is cargo's time.
    let test_began = Instant::now();
    let loader = Loader::new(LoaderConfig::new(
        TrustPolicy::default().allow_dir(&modules),
    ))
    .expect("a loader");
    loader.load(&v1).await.expect("counter v1 loads");
    let counter = loader
        .child_spec::<CounterInterface>(0)
        .expect("a counter spec")
        .id("counter");
    let sup = Supervisor::start(
        SupervisorFlags::new(Strategy::OneForOne).max_restarts(100),
        vec![worker("worker-a"), worker("worker-b"), counter],
    )
    .await
    .expect("the tree starts");
    registry::register("app", sup.pid().unwrap()).unwrap();
    let nasty = process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        Ok(())
    });
    registry::register(NASTY_NAME, nasty.pid()).unwrap();

    let observer = Observer::builder()
        .allow_actions(true)
        .loader(loader.clone())
        .start()
        .await
        .expect("the observer starts");
    let addr = observer.local_addr();

    let driver = start_driver(&chromedriver).await;
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let c = open_browser(&driver, &chromium, &profile).await;
    c.goto(&observer.url()).await.unwrap();
    // The token moved into the cookie, out of the address bar.
    assert!(!c.current_url().await.unwrap().as_str().contains("token"));
    c.find(Locator::Css("#interval"))
        .await
        .unwrap()
        .select_by_value("0.25")
        .await
        .unwrap();

    // 1. The tree on the page is the supervisor's own.
    let app_key = sup.pid().unwrap().serial().to_string();
    let child_css = format!("li[data-supervisor='{app_key}'] > ul > li.child");
    wait_for(&c, "the supervisor's three children", || async {
        c.find_all(Locator::Css(&child_css))
            .await
            .is_ok_and(|l| l.len() == 3)
    })
    .await;
    let mut which = sup.which_children().await.unwrap();
    which.reverse();
    let shown = script(
        &c,
        &format!(
            "return [...document.querySelectorAll(\"{child_css}\")].map(li => [li.dataset.childId, li.dataset.childPid])"
        ),
    )
    .await;
    let expected: Vec<serde_json::Value> = which
        .iter()
        .map(|i| {
            let pid = match i.pid {
                ferrotp_runtime::supervisor::ChildPid::Running(p) => p.to_string(),
                _ => String::new(),
            };
            json!([&*i.id, pid])
        })
        .collect();
    assert_eq!(shown, json!(expected), "the tree matches which_children");

    // 2. Kill a worker: a new pid, one more restart, and a crash report, within 2 s.
    let a = "li.child[data-child-id='worker-a']";
    let old_pid = script(
        &c,
        &format!("return document.querySelector(\"{a}\").dataset.childPid"),
    )
    .await;
    click(&c, &format!("{a} button[data-action='kill']")).await;
    let killed_at = Instant::now();
    wait_for(&c, "worker-a restarted with a new pid", || async {
        let now = script(
            &c,
            &format!("const e = document.querySelector(\"{a}\"); return e && e.dataset.childPid"),
        )
        .await;
        now.as_str().is_some_and(|p| !p.is_empty()) && now != old_pid
    })
    .await;
    wait_for(&c, "restarts 1", || async {
        text_of(&c, &format!("{a} [data-restarts]"))
            .await
            .as_deref()
            == Some("restarts 1")
    })
    .await;
    tab(&c, "crashes").await;
    wait_for(&c, "the crash in the crash log", || async {
        c.find(Locator::Css(
            "#crash-log .crash[data-kind='crash'][data-child-id='worker-a']",
        ))
        .await
        .is_ok()
    })
    .await;
    let took = killed_at.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the kill showed after {took:?}"
    );
    tab(&c, "tree").await;

    // 3. Suspend and resume worker-b from its detail; its state is shown (it opted in).
    let b = "li.child[data-child-id='worker-b']";
    wait_for(&c, "worker-b", || async {
        c.find(Locator::Css(b)).await.is_ok()
    })
    .await;
    click(&c, &format!("{b} a.pid")).await;
    wait_for(&c, "worker-b's detail, waiting", || async {
        text_of(&c, "#detail-status").await.as_deref() == Some("waiting")
    })
    .await;
    wait_for(&c, "worker-b's state", || async {
        text_of(&c, "#detail-state")
            .await
            .is_some_and(|t| t.contains("served: 0"))
    })
    .await;
    click(&c, "#detail button[data-action='suspend']").await;
    wait_for(&c, "suspended", || async {
        text_of(&c, "#detail-status").await.as_deref() == Some("suspended")
    })
    .await;
    click(&c, "#detail button[data-action='resume']").await;
    wait_for(&c, "waiting again", || async {
        text_of(&c, "#detail-status").await.as_deref() == Some("waiting")
    })
    .await;

    // 4. A hot upgrade shows in the history; rolling back from the page does too.
    loader.upgrade(&v2, b"").await.expect("counter 1 -> 2");
    tab(&c, "upgrades").await;
    wait_for(&c, "the upgrade in the history", || async {
        text_of(&c, "#upgrade-history")
            .await
            .is_some_and(|t| t.contains("1 → 2") && t.contains("committed"))
    })
    .await;
    wait_for(&c, "the rollback button", || async {
        c.find(Locator::Css("#modules button[data-action='rollback']"))
            .await
            .is_ok()
    })
    .await;
    click(&c, "#modules button[data-action='rollback']").await;
    wait_for(&c, "the rollback in the history", || async {
        text_of(&c, "#upgrade-history")
            .await
            .is_some_and(|t| t.contains("2 → 1"))
    })
    .await;
    assert_eq!(loader.module("counter").unwrap().current, "1");

    // 5. A name that is markup is shown as text, and runs nothing.
    tab(&c, "procs").await;
    let search = c.find(Locator::Css("#proc-search")).await.unwrap();
    search.send_keys("<script>").await.unwrap();
    wait_for(&c, "the nasty name, as text", || async {
        text_of(&c, "#proc-table tbody tr .name")
            .await
            .is_some_and(|t| t.trim() == NASTY_NAME)
    })
    .await;
    assert_eq!(
        script(&c, "return window.__pwned === undefined").await,
        json!(true)
    );

    // 6. A POST from the page without the token header is refused, and so is a foreign Host.
    let refused = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch("/api/action", { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify({ action: "kill", pid: "1" }) })
                 .then(r => done(r.status), e => done(String(e)));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refused, json!(403));
    let foreign =
        "GET /api/snapshot HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n"
            .to_string();
    assert_eq!(client::http(&observer, &foreign).await.0, 403);
    let no_cookie = format!(
        "POST /api/action HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    assert_eq!(client::http(&observer, &no_cookie).await.0, 401);

    // The screenshot for the README: the tree, with the detail open.
    tab(&c, "tree").await;
    wait_for(&c, "the tree again", || async {
        c.find(Locator::Css(&child_css)).await.is_ok()
    })
    .await;
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("observer.png");
    std::fs::write(&shot, &png).unwrap();
    if std::env::var_os("FERROTP_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images/observer.png");
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::write(docs, &png).unwrap();
    }

    // 7. The page reconnects to an observer started again on the same address.
    observer.shutdown().await;
    wait_for(&c, "the page noticing", || async {
        text_of(&c, "#conn").await.as_deref() == Some("reconnecting…")
    })
    .await;
    let again = Observer::builder()
        .bind(addr.to_string())
        .allow_actions(true)
        .start()
        .await
        .expect("the observer starts again on its address");
    let late = process::spawn(|mut ctx: Context| async move {
        ctx.recv().await;
        Ok(())
    });
    registry::register("started-after-the-restart", late.pid()).unwrap();
    tab(&c, "procs").await;
    let search = c.find(Locator::Css("#proc-search")).await.unwrap();
    search.clear().await.unwrap();
    search.send_keys("after-the-restart").await.unwrap();
    wait_for(
        &c,
        "live again, with a process started after the restart",
        || async {
            text_of(&c, "#conn").await.as_deref() == Some("live")
                && text_of(&c, "#proc-table tbody")
                    .await
                    .is_some_and(|t| t.contains("started-after-the-restart"))
        },
    )
    .await;

    c.close().await.unwrap();
    drop(driver);
    again.shutdown().await;
    let _ = std::fs::remove_dir_all(&profile);
    let took = test_began.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "the browser test took {took:?}"
    );
}
