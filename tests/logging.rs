//! Every `tracing` event emitted inside a process carries its pid, and its registered name,
//! as Elixir's Logger metadata does, with no code from the user.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ferrotp::prelude::*;

/// A writer that keeps what the subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines that contain `needle`.
    fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// A subscriber for this thread only, printing without colours.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    (out, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_event_inside_a_process_carries_its_pid() {
    let (out, _guard) = capture();
    let addr = process::spawn(|_: Context| async {
        tracing::info!("hello from inside");
        Ok(())
    });
    let pid = addr.pid();
    process::await_exit(pid).await;
    let lines = out.lines_with("hello from inside");
    assert_eq!(lines.len(), 1, "{}", out.text());
    assert!(
        lines[0].contains(&format!("process{{pid={pid}}}")),
        "{}",
        lines[0]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_event_carries_the_name_the_process_was_started_under() {
    let (out, _guard) = capture();
    let addr = process::Builder::new()
        .name("logging_named")
        .spawn(|_: Context| async {
            tracing::info!("named hello");
            Ok(())
        })
        .unwrap();
    process::await_exit(addr.pid()).await;
    let lines = out.lines_with("named hello");
    assert_eq!(lines.len(), 1, "{}", out.text());
    assert!(lines[0].contains("name=\"logging_named\""), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("pid={}", addr.pid())),
        "{}",
        lines[0]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_name_registered_later_is_carried_from_then_on() {
    let (out, _guard) = capture();
    let addr = process::spawn(|mut ctx: Context| async move {
        tracing::info!("before the name");
        registry::register("logging_later", ctx.pid()).unwrap();
        tracing::info!("after the name");
        ctx.recv().await;
        Ok(())
    });
    tokio::task::yield_now().await;
    let before = out.lines_with("before the name");
    let after = out.lines_with("after the name");
    assert!(!before[0].contains("logging_later"), "{}", before[0]);
    assert!(after[0].contains("name=\"logging_later\""), "{}", after[0]);
    process::exit(addr.pid(), ExitReason::Kill).unwrap();
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_crash_report_is_logged_inside_the_crashed_process() {
    let (out, _guard) = capture();
    let addr = process::spawn(|_: Context| async {
        panic!("boom in logging test");
    });
    process::await_exit(addr.pid()).await;
    let lines = out.lines_with("boom in logging test");
    assert!(!lines.is_empty(), "{}", out.text());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ERROR") && l.contains(&format!("pid={}", addr.pid()))),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn events_outside_any_process_carry_no_process() {
    let (out, _guard) = capture();
    tracing::info!("from main");
    assert!(!out.lines_with("from main")[0].contains("process{"));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_crash_report_is_an_event_with_the_supervisor_child_reason_and_location() {
    use ferrotp::supervisor::{Started, Strategy};
    let (out, _guard) = capture();
    // A worker that crashes a second after it starts.
    let spec = ChildSpec::worker("crashy", |opts| async move {
        let addr = opts
            .builder()
            .spawn(|_: Context| async move {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                panic!("crash report test");
            })
            .map_err(ExitReason::from)?;
        Ok(Started::Pid(addr.pid()))
    });
    let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne), vec![spec])
        .await
        .unwrap();
    let report = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(line) = out.lines_with("child terminated; restarting").pop() {
                return line;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the supervisor reports the crash");
    let sup_pid = sup.pid().unwrap();
    assert!(
        report.contains(&format!("process{{pid={sup_pid}}}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("supervisor={sup_pid}")),
        "{report}"
    );
    assert!(report.contains("child=\"crashy\""), "{report}");
    assert!(report.contains("crash report test"), "{report}");
    assert!(report.contains("location=\"tests/logging.rs:"), "{report}");
}
