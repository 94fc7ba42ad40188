//! Every supervisor's child table, published where the observer can read it without sending
//! the supervisor a message.
//!
//! A supervisor keeps a [`Board`]: its children as it tracks them, each with its restart
//! count and last exit reason, and the restarts it counts against its intensity. The
//! supervisor writes it when a child starts, exits or is removed (one uncontended lock); a
//! reader copies what it needs under the same short lock. Reading never waits on the
//! supervisor's process, so a supervisor that is busy restarting a tree is still shown, as
//! it is at that moment.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;

use crate::supervisor::intensity::RestartLog;
use crate::supervisor::{ChildPid, ChildType, Intensity, Restart, Strategy, SupervisorError};
use crate::{ExitReason, Pid};

/// Which kind of supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorKind {
    /// A [`Supervisor`](crate::supervisor::Supervisor), with its strategy.
    Static(Strategy),
    /// A [`DynamicSupervisor`](crate::supervisor::DynamicSupervisor) (always one-for-one).
    Dynamic,
}

/// One child, as its supervisor publishes it (see [`supervisor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildView {
    /// Its id (a dynamic supervisor's children are named after their spec).
    pub id: Arc<str>,
    /// Its process, if running.
    pub pid: ChildPid,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Permanent, transient or temporary.
    pub restart: Restart,
    /// How many times its supervisor restarted it.
    pub restarts: u32,
    /// Why its last process terminated, if one did.
    pub last_exit: Option<ExitReason>,
}

/// A supervisor as the observer shows it: see [`supervisor`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SupervisorView {
    /// The supervisor's process.
    pub pid: Pid,
    /// Static (with its strategy) or dynamic.
    pub kind: SupervisorKind,
    /// Its restart intensity.
    pub intensity: Intensity,
    /// Restarts counted in the current intensity window.
    pub restarts_in_window: u32,
    /// How many children it has in all.
    pub children_total: usize,
    /// How many of them match the filter.
    pub children_matching: usize,
    /// The matching children, in start order, at most the limit asked for.
    pub children: Vec<ChildView>,
}

struct Row {
    view: ChildView,
    /// The last [`Board::sync`] that saw this child.
    seen: u64,
}

struct Table {
    intensity: Intensity,
    restarts: RestartLog,
    /// By key: start order for a static supervisor, the child's key for a dynamic one.
    children: BTreeMap<u64, Row>,
    generation: u64,
}

/// How a dynamic supervisor's child is terminated by pid (the supervisor's extra-arguments
/// type is known only where it was started).
pub(crate) type TerminateChild = Arc<
    dyn Fn(Pid) -> Pin<Box<dyn Future<Output = Result<(), SupervisorError>> + Send>> + Send + Sync,
>;

/// A supervisor's published child table.
pub(crate) struct Board {
    pid: Pid,
    terminate: Option<TerminateChild>,
    kind: Mutex<SupervisorKind>,
    table: Mutex<Table>,
}

static BOARDS: LazyLock<Mutex<BTreeMap<Pid, Weak<Board>>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

impl Board {
    /// The board of supervisor `pid`, listed until the last handle to it is dropped (when the
    /// supervisor's state is).
    pub(crate) fn publish(
        pid: Pid,
        kind: SupervisorKind,
        intensity: Intensity,
        terminate: Option<TerminateChild>,
    ) -> Arc<Board> {
        let board = Arc::new(Board {
            pid,
            terminate,
            kind: Mutex::new(kind),
            table: Mutex::new(Table {
                intensity,
                restarts: RestartLog::new(),
                children: BTreeMap::new(),
                generation: 0,
            }),
        });
        BOARDS.lock().insert(pid, Arc::downgrade(&board));
        board
    }

    /// Count a restart against `intensity`; whether it allows one more.
    pub(crate) fn allow_restart(&self) -> bool {
        let mut t = self.table.lock();
        let intensity = t.intensity;
        t.restarts.allow(intensity)
    }

    /// New flags after a code change.
    pub(crate) fn set_flags(&self, kind: SupervisorKind, intensity: Intensity) {
        *self.kind.lock() = kind;
        self.table.lock().intensity = intensity;
    }

    /// Make the table hold exactly `children` (key, id, type, restart, pid), keeping the
    /// restart counts and last exits of the keys it already had. Allocates nothing when the
    /// set of children is unchanged.
    pub(crate) fn sync<'a>(
        &self,
        children: impl Iterator<Item = (u64, &'a Arc<str>, ChildType, Restart, ChildPid)>,
    ) {
        let mut t = self.table.lock();
        t.generation += 1;
        let generation = t.generation;
        let mut seen = 0;
        for (key, id, child_type, restart, pid) in children {
            seen += 1;
            let row = t
                .children
                .entry(key)
                .or_insert_with(|| Row::new(id, child_type, restart, pid));
            row.seen = generation;
            row.view.pid = pid;
            row.view.restart = restart;
            row.view.child_type = child_type;
            if *row.view.id != **id {
                row.view.id = id.clone();
            }
        }
        if t.children.len() != seen {
            // Rare (a child was removed): drop the rows that are no longer children.
            t.children.retain(|_, row| row.seen == generation);
        }
    }

    /// Add or replace one child (dynamic supervisors).
    pub(crate) fn put(
        &self,
        key: u64,
        id: &Arc<str>,
        child_type: ChildType,
        restart: Restart,
        pid: ChildPid,
    ) {
        let mut t = self.table.lock();
        match t.children.get_mut(&key) {
            Some(row) => row.view.pid = pid,
            None => {
                t.children
                    .insert(key, Row::new(id, child_type, restart, pid));
            }
        }
    }

    /// Child `key` now runs as (or is) `pid`.
    pub(crate) fn set_pid(&self, key: u64, pid: ChildPid) {
        if let Some(row) = self.table.lock().children.get_mut(&key) {
            row.view.pid = pid;
        }
    }

    /// Child `key` terminated with `reason`.
    pub(crate) fn exited(&self, key: u64, reason: &ExitReason) {
        if let Some(row) = self.table.lock().children.get_mut(&key) {
            row.view.pid = ChildPid::Undefined;
            row.view.last_exit = Some(reason.clone());
        }
    }

    /// Child `key` was restarted as `pid`.
    pub(crate) fn restarted(&self, key: u64, pid: ChildPid) {
        if let Some(row) = self.table.lock().children.get_mut(&key) {
            row.view.pid = pid;
            row.view.restarts += 1;
        }
    }

    /// Child `key` is no longer a child.
    pub(crate) fn remove(&self, key: u64) {
        self.table.lock().children.remove(&key);
    }

    /// Every child is gone.
    pub(crate) fn clear(&self) {
        self.table.lock().children.clear();
    }

    fn view(&self, search: Option<&str>, limit: usize) -> SupervisorView {
        let kind = *self.kind.lock();
        let t = self.table.lock();
        let intensity = t.intensity;
        let restarts_in_window = t.restarts.used(intensity);
        let matches = |row: &&Row| search.map_or(true, |s| matches_search(&row.view, s));
        let children: Vec<ChildView> = t
            .children
            .values()
            .filter(matches)
            .take(limit)
            .map(|r| r.view.clone())
            .collect();
        let children_matching = if search.is_none() {
            t.children.len()
        } else if children.len() < limit {
            children.len()
        } else {
            t.children.values().filter(matches).count()
        };
        let total = t.children.len();
        drop(t);
        SupervisorView {
            pid: self.pid,
            kind,
            intensity,
            restarts_in_window,
            children_total: total,
            children_matching,
            children,
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let mut boards = BOARDS.lock();
        // A supervisor restarted under the same pid is impossible (pids are never reused),
        // but a board is only ever removed by itself.
        if boards.get(&self.pid).is_some_and(|w| w.strong_count() == 0) {
            boards.remove(&self.pid);
        }
    }
}

impl Row {
    fn new(id: &Arc<str>, child_type: ChildType, restart: Restart, pid: ChildPid) -> Row {
        Row {
            seen: 0,
            view: ChildView {
                id: id.clone(),
                pid,
                child_type,
                restart,
                restarts: 0,
                last_exit: None,
            },
        }
    }
}

/// Case-insensitive match of `search` against a child's id, or its pid as `<0.N.0>`.
fn matches_search(child: &ChildView, search: &str) -> bool {
    contains_ignoring_case(&child.id, search)
        || matches!(child.pid, ChildPid::Running(p) if contains_ignoring_case(&p.to_string(), search))
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn live_boards() -> Vec<Arc<Board>> {
    BOARDS.lock().values().filter_map(Weak::upgrade).collect()
}

/// The pids of every live local supervisor, static and dynamic, in pid order.
pub fn supervisors() -> Vec<Pid> {
    live_boards()
        .into_iter()
        .filter(|b| crate::process::table::get(b.pid).is_some())
        .map(|b| b.pid)
        .collect()
}

/// Supervisor `pid`'s child table, read without a message to it: at most `limit` children,
/// those whose id (or pid) contains `search` (case-insensitive) if one is given.
///
/// `None` if `pid` is not a live local supervisor.
///
/// # Examples
///
/// ```
/// # use ferrotp_runtime as ferrotp;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use ferrotp::observe;
/// use ferrotp::supervisor::{ChildSpec, Started, Strategy, Supervisor, SupervisorFlags};
/// use ferrotp::{Context, ExitReason};
///
/// let worker = |id: &str| ChildSpec::worker(id, |opts| async move {
///     let addr = opts.builder().spawn(|_: Context| std::future::pending())
///         .map_err(ExitReason::from)?;
///     Ok(Started::Pid(addr.pid()))
/// });
/// let sup = Supervisor::start(SupervisorFlags::new(Strategy::OneForOne),
///                             vec![worker("a"), worker("b")]).await.unwrap();
/// let view = observe::supervisor(sup.pid().unwrap(), None, 200).unwrap();
/// assert_eq!(view.children_total, 2);
/// assert_eq!(&*view.children[0].id, "a");
/// # }
/// ```
pub fn supervisor(pid: Pid, search: Option<&str>, limit: usize) -> Option<SupervisorView> {
    // Bound in its own statement: the registry's guard is released before the board can be
    // dropped (a board's drop takes the registry's lock).
    let board = BOARDS.lock().get(&pid)?.upgrade()?;
    crate::process::table::get(pid)?;
    Some(board.view(search, limit))
}

/// How to terminate a child of dynamic supervisor `pid` by its pid.
pub(crate) fn dynamic_control(pid: Pid) -> Option<TerminateChild> {
    // The board is bound first, so that the registry's guard is released before it: were
    // this the board's last handle, its drop takes the registry's lock.
    let board = BOARDS.lock().get(&pid)?.upgrade()?;
    board.terminate.clone()
}

/// Which supervisor, under which child id and after how many restarts, runs each supervised
/// process: one pass over every board, for the process table.
pub(crate) fn supervised() -> rustc_hash::FxHashMap<Pid, (Pid, Arc<str>, u32)> {
    let mut map = rustc_hash::FxHashMap::default();
    for board in live_boards() {
        let t = board.table.lock();
        for row in t.children.values() {
            if let ChildPid::Running(pid) = row.view.pid {
                map.insert(pid, (board.pid, row.view.id.clone(), row.view.restarts));
            }
        }
    }
    map
}

/// The supervisor, child id and restart count of the child running as `pid`.
pub(crate) fn child_of(pid: Pid) -> Option<(Pid, Arc<str>, u32)> {
    for board in live_boards() {
        let t = board.table.lock();
        if let Some(row) = t
            .children
            .values()
            .find(|r| r.view.pid == ChildPid::Running(pid))
        {
            return Some((board.pid, row.view.id.clone(), row.view.restarts));
        }
    }
    None
}

/// The last exit reason of the child that `pid` was, if a board remembers it (a process that
/// was restarted has a new pid; this finds the child by its current one).
pub(crate) fn last_exit_of_child(pid: Pid) -> Option<(Pid, Arc<str>, Option<ExitReason>)> {
    for board in live_boards() {
        let t = board.table.lock();
        for row in t.children.values() {
            if row.view.pid == ChildPid::Running(pid) {
                return Some((board.pid, row.view.id.clone(), row.view.last_exit.clone()));
            }
        }
    }
    None
}
