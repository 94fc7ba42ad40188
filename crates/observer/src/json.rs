//! The JSON the page reads, and the API serves: snapshots, process details, supervisors and
//! the logs. Built from `ferrotp_runtime::observe` only.

use std::cmp::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrotp_runtime::observe::{
    self, ChildView, Event, EventKind, ProcessRow, SupervisorKind, SupervisorView,
};
use ferrotp_runtime::process::ProcessStatus;
use ferrotp_runtime::supervisor::{ChildPid, ChildType, Restart, Strategy};
use ferrotp_runtime::{ExitReason, Pid};
use rustc_hash::FxHashMap;
use serde::Deserialize;
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
    json!({ "id": pid_key(pid), "pid": pid.to_string(), "node": node_of(pid) })
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

fn row_json(row: &ProcessRow, extra: Extra, version: Option<&String>) -> Value {
    json!({
        "id": pid_key(row.pid),
        "pid": row.pid.to_string(),
        "name": row.name.as_deref(),
        "status": status_name(row.status),
        "mailbox": row.mailbox_len,
        "handled": row.messages_handled,
        "rate": (extra.rate * 10.0).round() / 10.0,
        "restarts": row.restarts,
        "links": row.links,
        "monitors": row.monitors,
        "monitored_by": row.monitored_by,
        "age_ms": row.age.as_millis() as u64,
        "version": version,
        "callback": row.callback.map(|c| c.name()),
        "in_callback_ms": extra.in_callback.map(|d| d.as_millis() as u64),
        "supervisor": row.supervisor.as_ref().map(|(pid, id)| json!({
            "id": pid_key(*pid), "pid": pid.to_string(), "child_id": &**id,
        })),
        "type": row.message_type,
    })
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
pub(crate) fn snapshot(app: &App, view: &TableView) -> Value {
    let began = Instant::now();
    let mut rows = observe::snapshot();
    let extras = app.tracker.lock().update(&rows, Instant::now());
    let versions = app.module_versions();
    let q = view.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let total_processes = rows.len();
    let supervised: rustc_hash::FxHashSet<Pid> = rows
        .iter()
        .filter(|r| r.supervisor.is_some())
        .map(|r| r.pid)
        .collect();
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
    let shown: Vec<Value> = rows
        .iter()
        .skip(page * PAGE_ROWS)
        .take(PAGE_ROWS)
        .map(|r| {
            row_json(
                r,
                extras.get(&r.pid).copied().unwrap_or_default(),
                versions.get(&r.pid),
            )
        })
        .collect();
    let now = Instant::now();
    let dead: Vec<Value> = app
        .tracker
        .lock()
        .dead()
        .filter(|d| q.map_or(true, |q| matches(&d.row, q, None)))
        .map(|d| {
            let mut v = row_json(&d.row, Extra::default(), None);
            v["status"] = json!("dead");
            v["dead"] = json!(true);
            v["exit"] = json!(d.reason);
            v["dead_for_ms"] = json!(now.saturating_duration_since(d.died).as_millis() as u64);
            v
        })
        .collect();
    let tree = tree(&supervised, &versions);
    let built = began.elapsed();
    json!({
        "time": unix_ms(SystemTime::now()),
        "built_us": built.as_micros() as u64,
        "node": app.node_name(),
        "actions": app.allow_actions,
        "processes": total_processes,
        "table": {
            "total": rows.len(), "page": page, "pages": pages,
            "sort": sort, "dir": if descending { "desc" } else { "asc" },
            "rows": shown,
        },
        "dead": dead,
        "dead_for_ms": DEAD_FOR.as_millis() as u64,
        "tree": tree,
        "modules": app.modules_json(),
        "dist": app.dist_json(),
    })
}

fn child_json(c: &ChildView, versions: &FxHashMap<Pid, String>) -> Value {
    let (pid, status) = match c.pid {
        ChildPid::Running(p) => (Some(pid_json(p)), "running"),
        ChildPid::Restarting => (None, "restarting"),
        ChildPid::Undefined => (None, "undefined"),
    };
    json!({
        "id": &*c.id,
        "pid": pid,
        "status": status,
        "restart": restart_name(c.restart),
        "type": if c.child_type == ChildType::Supervisor { "supervisor" } else { "worker" },
        "restarts": c.restarts,
        "last_exit": c.last_exit.as_ref().map(reason_text),
        "version": match c.pid {
            ChildPid::Running(p) => versions.get(&p),
            _ => None,
        },
    })
}

pub(crate) fn supervisor_json(v: &SupervisorView, versions: &FxHashMap<Pid, String>) -> Value {
    let name = ferrotp_runtime::process::process_info(v.pid)
        .and_then(|i| i.registered_name.map(|n| n.to_string()));
    json!({
        "id": pid_key(v.pid),
        "pid": v.pid.to_string(),
        "name": name,
        "kind": kind_name(v.kind),
        "intensity": {
            "used": v.restarts_in_window,
            "max": v.intensity.max_restarts,
            "seconds": v.intensity.max_seconds,
        },
        "total": v.children_total,
        "matching": v.children_matching,
        "children": v.children.iter().map(|c| child_json(c, versions)).collect::<Vec<_>>(),
    })
}

/// Every supervisor (at most [`CHILDREN_SHOWN`] children each), and the roots: those no
/// supervisor runs.
fn tree(supervised: &rustc_hash::FxHashSet<Pid>, versions: &FxHashMap<Pid, String>) -> Value {
    let views: Vec<SupervisorView> = observe::supervisors()
        .into_iter()
        .filter_map(|pid| observe::supervisor(pid, None, CHILDREN_SHOWN))
        .collect();
    let roots: Vec<Value> = views
        .iter()
        .filter(|v| !supervised.contains(&v.pid))
        .map(|v| json!(pid_key(v.pid)))
        .collect();
    let all: serde_json::Map<String, Value> = views
        .iter()
        .filter_map(|v| Some((pid_key(v.pid)?, supervisor_json(v, versions))))
        .collect();
    json!({ "roots": roots, "supervisors": all })
}

/// One process in full: what the table shows, plus its links and monitors, the callback it
/// is in, its last exit, and its state where its type shows it.
pub(crate) async fn process_detail(app: &App, pid: Pid) -> Option<Value> {
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
    v["state"] = match observe::format_status(pid, STATE_TIMEOUT).await {
        Ok(text) => json!({ "text": text }),
        Err(e) => json!({ "unavailable": e.to_string() }),
    };
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
