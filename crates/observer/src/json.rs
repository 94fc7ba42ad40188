//! The JSON the page reads, and the API serves: snapshots, process details, supervisors and
//! the logs. Built from `ferrotp_runtime::observe` only.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrotp_runtime::observe::{
    self, ChildView, Event, EventKind, ProcessRow, SupervisorKind, SupervisorView,
};
use ferrotp_runtime::process::ProcessStatus;
use ferrotp_runtime::supervisor::{ChildPid, ChildType, Restart, Strategy};
use ferrotp_runtime::{ExitReason, Pid};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};

use crate::server::App;
use crate::tracker::{Extra, DEAD_FOR};

/// Rows per page of the process table.
pub(crate) const PAGE_ROWS: usize = 100;

/// Children shown per supervisor before "+N more".
pub(crate) const CHILDREN_SHOWN: usize = 200;

/// How long a process's state is waited for.
pub(crate) const STATE_TIMEOUT: Duration = Duration::from_millis(250);

/// How the process table is cut: `?sort=mailbox&dir=desc&page=0&q=worker`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TableView {
    pub(crate) sort: Option<String>,
    pub(crate) dir: Option<String>,
    pub(crate) page: Option<usize>,
    pub(crate) q: Option<String>,
    /// Supervisors (by key, comma-separated) whose children the tree lists, besides the
    /// roots.
    pub(crate) open: Option<String>,
    /// Roots whose children the tree does not list.
    pub(crate) closed: Option<String>,
}

/// A local pid's key in URLs and the page: its serial. Remote pids have none.
pub(crate) fn pid_key(pid: Pid) -> Option<String> {
    pid.is_local().then(|| pid.serial().to_string())
}

/// The live local pid with this key.
pub(crate) fn pid_from_key(key: &str) -> Option<Pid> {
    let serial: u64 = key.parse().ok()?;
    Some(Pid::from_parts(0, Pid::local_creation(), serial))
}

fn pid_json(pid: Pid) -> Value {
    serde_json::to_value(PidJson::of(pid)).expect("a pid is JSON")
}

#[cfg(feature = "dist")]
fn node_of(pid: Pid) -> Option<String> {
    if pid.is_local() {
        return None;
    }
    ferrotp_dist::node().and_then(|n| n.node_of(pid))
}

#[cfg(not(feature = "dist"))]
fn node_of(_pid: Pid) -> Option<String> {
    None
}

pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn status_name(s: ProcessStatus) -> &'static str {
    match s {
        ProcessStatus::Waiting => "waiting",
        ProcessStatus::Running => "running",
        ProcessStatus::Exiting => "exiting",
        ProcessStatus::Suspended => "suspended",
        ProcessStatus::Upgrading => "upgrading",
        _ => "unknown",
    }
}

fn restart_name(r: Restart) -> &'static str {
    match r {
        Restart::Permanent => "permanent",
        Restart::Transient => "transient",
        Restart::Temporary => "temporary",
    }
}

fn kind_name(k: SupervisorKind) -> &'static str {
    match k {
        SupervisorKind::Static(Strategy::OneForOne) => "one_for_one",
        SupervisorKind::Static(Strategy::OneForAll) => "one_for_all",
        SupervisorKind::Static(Strategy::RestForOne) => "rest_for_one",
        SupervisorKind::Dynamic => "dynamic (one_for_one)",
        _ => "supervisor",
    }
}

fn reason_text(r: &ExitReason) -> String {
    r.to_string()
}

/// A pid as the page shows it (`<0.12.345>`), written without an intermediate `String`.
struct PidText(Pid);

impl Serialize for PidText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A local pid's key (its serial, as a string), or `null` for a remote pid.
struct Key(Pid);

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_local() {
            s.collect_str(&self.0.serial())
        } else {
            s.serialize_none()
        }
    }
}

/// A pid with its key, and its node when remote.
#[derive(Serialize)]
struct PidJson {
    id: Key,
    pid: PidText,
    node: Option<String>,
}

impl PidJson {
    fn of(pid: Pid) -> PidJson {
        PidJson {
            id: Key(pid),
            pid: PidText(pid),
            node: node_of(pid),
        }
    }
}

#[derive(Serialize)]
struct SupervisorRef<'a> {
    id: Key,
    pid: PidText,
    child_id: &'a str,
}

/// One row of the process table.
#[derive(Serialize)]
struct Row<'a> {
    id: Key,
    pid: PidText,
    name: Option<&'a str>,
    status: &'static str,
    mailbox: usize,
    handled: u64,
    rate: f64,
    restarts: u32,
    links: usize,
    monitors: usize,
    monitored_by: usize,
    age_ms: u64,
    version: Option<&'a str>,
    callback: Option<&'static str>,
    in_callback_ms: Option<u64>,
    supervisor: Option<SupervisorRef<'a>>,
    #[serde(rename = "type")]
    message_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_for_ms: Option<u64>,
}

fn row<'a>(row: &'a ProcessRow, extra: Extra, version: Option<&'a String>) -> Row<'a> {
    Row {
        id: Key(row.pid),
        pid: PidText(row.pid),
        name: row.name.as_deref(),
        status: status_name(row.status),
        mailbox: row.mailbox_len,
        handled: row.messages_handled,
        rate: (extra.rate * 10.0).round() / 10.0,
        restarts: row.restarts,
        links: row.links,
        monitors: row.monitors,
        monitored_by: row.monitored_by,
        age_ms: row.age.as_millis() as u64,
        version: version.map(String::as_str),
        callback: row.callback.map(|c| c.name()),
        in_callback_ms: extra.in_callback.map(|d| d.as_millis() as u64),
        supervisor: row.supervisor.as_ref().map(|(pid, id)| SupervisorRef {
            id: Key(*pid),
            pid: PidText(*pid),
            child_id: id,
        }),
        message_type: row.message_type,
        dead: None,
        exit: None,
        dead_for_ms: None,
    }
}

fn row_json(r: &ProcessRow, extra: Extra, version: Option<&String>) -> Value {
    serde_json::to_value(row(r, extra, version)).expect("a row is JSON")
}

fn matches(row: &ProcessRow, q: &str, version: Option<&String>) -> bool {
    let q = q.to_lowercase();
    row.pid.to_string().contains(&q)
        || row
            .name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(&q))
        || row.message_type.to_lowercase().contains(&q)
        || row
            .supervisor
            .as_ref()
            .is_some_and(|(_, id)| id.to_lowercase().contains(&q))
        || version.is_some_and(|v| v.to_lowercase().contains(&q))
}

fn compare(
    a: &ProcessRow,
    b: &ProcessRow,
    sort: &str,
    extras: &FxHashMap<Pid, Extra>,
    versions: &FxHashMap<Pid, String>,
) -> Ordering {
    let rate = |r: &ProcessRow| extras.get(&r.pid).map_or(0.0, |e| e.rate);
    match sort {
        "name" => a.name.cmp(&b.name),
        "status" => status_name(a.status).cmp(status_name(b.status)),
        "mailbox" => a.mailbox_len.cmp(&b.mailbox_len),
        "handled" => a.messages_handled.cmp(&b.messages_handled),
        "rate" => rate(a).total_cmp(&rate(b)),
        "restarts" => a.restarts.cmp(&b.restarts),
        "links" => a.links.cmp(&b.links),
        "monitors" => (a.monitors + a.monitored_by).cmp(&(b.monitors + b.monitored_by)),
        "age" => a.age.cmp(&b.age),
        "version" => versions.get(&a.pid).cmp(&versions.get(&b.pid)),
        _ => a.pid.serial().cmp(&b.pid.serial()),
    }
    .then_with(|| a.pid.serial().cmp(&b.pid.serial()))
}

/// The whole page's data at one moment.
#[derive(Serialize)]
struct Snapshot<'a> {
    time: u64,
    built_us: u64,
    node: Option<String>,
    actions: bool,
    processes: usize,
    table: Table<'a>,
    dead: Vec<Row<'a>>,
    dead_for_ms: u64,
    tree: Tree<'a>,
    modules: Value,
    dist: Value,
}

#[derive(Serialize)]
struct Table<'a> {
    total: usize,
    page: usize,
    pages: usize,
    sort: &'a str,
    dir: &'static str,
    rows: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Tree<'a> {
    roots: Vec<Key>,
    supervisors: BTreeMap<u64, SupervisorJson<'a>>,
}

#[derive(Serialize)]
pub(crate) struct SupervisorJson<'a> {
    id: Key,
    pid: PidText,
    name: Option<&'a str>,
    kind: &'static str,
    intensity: IntensityJson,
    total: usize,
    matching: usize,
    /// Whether its children are listed (a collapsed supervisor lists none).
    open: bool,
    children: Vec<ChildJson<'a>>,
}

#[derive(Serialize)]
struct IntensityJson {
    used: u32,
    max: u32,
    seconds: u64,
}

#[derive(Serialize)]
struct ChildJson<'a> {
    id: &'a str,
    pid: Option<PidJson>,
    /// The registered name of its process.
    name: Option<&'a str>,
    status: &'static str,
    restart: &'static str,
    #[serde(rename = "type")]
    child_type: &'static str,
    restarts: u32,
    last_exit: Option<String>,
    version: Option<&'a str>,
}

fn child<'a>(
    c: &'a ChildView,
    names: &'a FxHashMap<Pid, Arc<str>>,
    versions: &'a FxHashMap<Pid, String>,
) -> ChildJson<'a> {
    let (pid, status) = match c.pid {
        ChildPid::Running(p) => (Some(PidJson::of(p)), "running"),
        ChildPid::Restarting => (None, "restarting"),
        ChildPid::Undefined => (None, "undefined"),
    };
    let running = match c.pid {
        ChildPid::Running(p) => Some(p),
        _ => None,
    };
    ChildJson {
        id: &c.id,
        pid,
        name: running.and_then(|p| names.get(&p)).map(|n| &**n),
        status,
        restart: restart_name(c.restart),
        child_type: if c.child_type == ChildType::Supervisor {
            "supervisor"
        } else {
            "worker"
        },
        restarts: c.restarts,
        last_exit: c.last_exit.as_ref().map(reason_text),
        version: running.and_then(|p| versions.get(&p)).map(String::as_str),
    }
}

pub(crate) fn supervisor<'a>(
    v: &'a SupervisorView,
    open: bool,
    names: &'a FxHashMap<Pid, Arc<str>>,
    versions: &'a FxHashMap<Pid, String>,
) -> SupervisorJson<'a> {
    SupervisorJson {
        id: Key(v.pid),
        pid: PidText(v.pid),
        name: names.get(&v.pid).map(|n| &**n),
        kind: kind_name(v.kind),
        intensity: IntensityJson {
            used: v.restarts_in_window,
            max: v.intensity.max_restarts,
            seconds: v.intensity.max_seconds,
        },
        total: v.children_total,
        matching: v.children_matching,
        open,
        children: if open {
            v.children
                .iter()
                .map(|c| child(c, names, versions))
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A supervisor on its own, for `/api/supervisor/{key}` and the process detail.
pub(crate) fn supervisor_json(v: &SupervisorView, versions: &FxHashMap<Pid, String>) -> Value {
    let names: FxHashMap<Pid, Arc<str>> = std::iter::once(v.pid)
        .chain(v.children.iter().filter_map(|c| match c.pid {
            ChildPid::Running(p) => Some(p),
            _ => None,
        }))
        .filter_map(|p| {
            Some((
                p,
                ferrotp_runtime::process::process_info(p)?.registered_name?,
            ))
        })
        .collect();
    serde_json::to_value(supervisor(v, true, &names, versions)).expect("a supervisor is JSON")
}

/// The whole page's data at one moment, as JSON text: the process table cut as `view` says,
/// the processes that died lately, and the tree, in which the roots and the supervisors in
/// `view.open` list their children (at most [`CHILDREN_SHOWN`] each).
pub(crate) fn snapshot(app: &App, view: &TableView) -> String {
    let began = Instant::now();
    // Read and applied under the tracker's lock: two snapshots built at once (two pages) must
    // not apply an older list after a newer one, which would report live processes dead.
    let (mut rows, extras) = {
        let mut tracker = app.tracker.lock();
        let rows = observe::snapshot();
        let extras = tracker.update(&rows, Instant::now());
        (rows, extras)
    };
    let versions = app.module_versions();
    let q = view.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let total_processes = rows.len();
    let mut supervised = rustc_hash::FxHashSet::default();
    let mut names = FxHashMap::default();
    for r in &rows {
        if r.supervisor.is_some() {
            supervised.insert(r.pid);
        }
        if let Some(n) = &r.name {
            names.insert(r.pid, n.clone());
        }
    }
    if let Some(q) = q {
        rows.retain(|r| matches(r, q, versions.get(&r.pid)));
    }
    let sort = view.sort.as_deref().unwrap_or("pid");
    let descending = view.dir.as_deref() == Some("desc");
    rows.sort_unstable_by(|a, b| {
        let o = compare(a, b, sort, &extras, &versions);
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    let pages = rows.len().div_ceil(PAGE_ROWS).max(1);
    let page = view.page.unwrap_or(0).min(pages - 1);
    let now = Instant::now();
    let dead_rows: Vec<_> = app
        .tracker
        .lock()
        .dead()
        .filter(|d| q.map_or(true, |q| matches(&d.row, q, None)))
        .cloned()
        .collect();

    // The tree: every supervisor's header; the children of the open ones.
    let open: rustc_hash::FxHashSet<u64> = view
        .open
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter_map(|k| k.trim().parse().ok())
        .collect();
    let closed: rustc_hash::FxHashSet<u64> = view
        .closed
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter_map(|k| k.trim().parse().ok())
        .collect();
    let views: Vec<SupervisorView> = observe::supervisors()
        .into_iter()
        .filter_map(|pid| {
            let is_open = is_open(pid, &supervised, &open, &closed);
            observe::supervisor(pid, None, if is_open { CHILDREN_SHOWN } else { 0 })
        })
        .collect();
    let tree = Tree {
        roots: views
            .iter()
            .filter(|v| !supervised.contains(&v.pid))
            .map(|v| Key(v.pid))
            .collect(),
        supervisors: views
            .iter()
            .map(|v| {
                let is_open = is_open(v.pid, &supervised, &open, &closed);
                (v.pid.serial(), supervisor(v, is_open, &names, &versions))
            })
            .collect(),
    };
    let table = Table {
        total: rows.len(),
        page,
        pages,
        sort,
        dir: if descending { "desc" } else { "asc" },
        rows: rows
            .iter()
            .skip(page * PAGE_ROWS)
            .take(PAGE_ROWS)
            .map(|r| {
                row(
                    r,
                    extras.get(&r.pid).copied().unwrap_or_default(),
                    versions.get(&r.pid),
                )
            })
            .collect(),
    };
    let dead = dead_rows
        .iter()
        .map(|d| Row {
            status: "dead",
            dead: Some(true),
            exit: d.reason.as_deref(),
            dead_for_ms: Some(now.saturating_duration_since(d.died).as_millis() as u64),
            ..row(&d.row, Extra::default(), None)
        })
        .collect();
    let mut snapshot = Snapshot {
        time: unix_ms(SystemTime::now()),
        built_us: 0,
        node: app.node_name(),
        actions: app.allow_actions,
        processes: total_processes,
        table,
        dead,
        dead_for_ms: DEAD_FOR.as_millis() as u64,
        tree,
        modules: app.modules_json(),
        dist: app.dist_json(),
    };
    // Written last, so that it counts the writing of everything else but itself.
    snapshot.built_us = began.elapsed().as_micros() as u64;
    serde_json::to_string(&snapshot).expect("a snapshot is JSON")
}

/// A root is open unless closed; any other supervisor is closed unless opened.
fn is_open(
    pid: Pid,
    supervised: &rustc_hash::FxHashSet<Pid>,
    open: &rustc_hash::FxHashSet<u64>,
    closed: &rustc_hash::FxHashSet<u64>,
) -> bool {
    if supervised.contains(&pid) {
        open.contains(&pid.serial())
    } else {
        !closed.contains(&pid.serial())
    }
}

/// One process in full: what the table shows, plus its links and monitors, the callback it
/// is in, its last exit, and its state where its type shows it.
pub(crate) async fn process_detail(app: &App, pid: Pid, with_state: bool) -> Option<Value> {
    let now = Instant::now();
    let Some(row) = observe::process(pid) else {
        // Gone: what the observer and the runtime still remember.
        let dead = app
            .tracker
            .lock()
            .dead()
            .find(|d| d.row.pid == pid)
            .cloned();
        let reason = observe::exit_reason(pid).map(|r| r.to_string());
        if dead.is_none() && reason.is_none() {
            return None;
        }
        let mut v = dead
            .map(|d| row_json(&d.row, Extra::default(), None))
            .unwrap_or_else(|| json!({ "id": pid_key(pid), "pid": pid.to_string() }));
        v["status"] = json!("dead");
        v["dead"] = json!(true);
        v["exit"] = json!(reason);
        return Some(v);
    };
    let info = ferrotp_runtime::process::process_info(pid);
    let in_callback = app.tracker.lock().in_callback(pid, now);
    let versions = app.module_versions();
    let mut v = row_json(
        &row,
        Extra {
            rate: 0.0,
            in_callback,
        },
        versions.get(&pid),
    );
    if let Some(info) = info {
        v["links"] = json!(info.links.iter().map(|p| pid_json(*p)).collect::<Vec<_>>());
        v["monitors"] = json!(info
            .monitors
            .iter()
            .map(|p| pid_json(*p))
            .collect::<Vec<_>>());
        v["monitored_by"] = json!(info
            .monitored_by
            .iter()
            .map(|p| pid_json(*p))
            .collect::<Vec<_>>());
        v["trap_exit"] = json!(info.trap_exit);
    }
    v["last_exit"] = json!(observe::last_exit_of_child(pid).as_ref().map(reason_text));
    // Only when asked: the page asks when a process is opened, not on every refresh.
    if with_state {
        v["state"] = match observe::format_status(pid, STATE_TIMEOUT).await {
            Ok(text) => json!({ "text": text }),
            Err(e) => json!({ "unavailable": e.to_string() }),
        };
    }
    if let Some(sup) = observe::supervisor(pid, None, CHILDREN_SHOWN) {
        v["supervisor_view"] = supervisor_json(&sup, &versions);
    }
    Some(v)
}

pub(crate) fn event_json(e: &Event) -> Value {
    let mut v = match &e.kind {
        EventKind::Crash {
            pid,
            supervisor,
            child_id,
            reason,
            restarting,
        } => json!({
            "kind": "crash",
            "pid": pid_json(*pid),
            "supervisor": pid_json(*supervisor),
            "child_id": &**child_id,
            "reason": reason_text(reason),
            "location": reason.panic_location(),
            "restarting": restarting,
        }),
        EventKind::Restart {
            supervisor,
            child_id,
            pid,
        } => json!({
            "kind": "restart",
            "pid": pid_json(*pid),
            "supervisor": pid_json(*supervisor),
            "child_id": &**child_id,
        }),
        EventKind::Escalation {
            supervisor,
            child_id,
        } => json!({
            "kind": "escalation",
            "supervisor": pid_json(*supervisor),
            "child_id": &**child_id,
            "reason": "reached_max_restart_intensity: the supervisor shut down",
        }),
        EventKind::Upgrade(u) => json!({
            "kind": "upgrade",
            "module": u.module,
            "from": u.from,
            "to": u.to,
            "processes": u.processes,
            "duration_us": u.duration.as_micros() as u64,
            "outcome": if u.rolled_back.is_some() { "rolled back" } else { "committed" },
            "reason": u.rolled_back,
        }),
        _ => json!({ "kind": "other" }),
    };
    v["seq"] = json!(e.seq);
    v["time"] = json!(unix_ms(e.at));
    v
}

/// The crash log and the upgrade history, oldest first.
pub(crate) fn logs() -> Value {
    json!({
        "crashes": observe::crash_log().iter().map(event_json).collect::<Vec<_>>(),
        "upgrades": observe::upgrade_history().iter().map(event_json).collect::<Vec<_>>(),
    })
}
