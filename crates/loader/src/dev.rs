//! Dev mode: rebuild a module, and the running system has the new code.
//!
//! A library must never be loaded while it is still being written: a file the linker pre-sized
//! and is still filling in can pass every check and then run zeroed code. So the watcher acts
//! only on libraries whose build has *finished*, in one of two ways:
//!
//! * [`DevWatcher::cargo`] drives cargo itself: when a watched source file changes it runs
//!   `cargo build` and takes each library from cargo's `compiler-artifact` message, which
//!   cargo prints once the file is complete.
//! * [`DevWatcher::watch`] watches a directory for libraries that are **published**: renamed
//!   into it (`mv`, after writing them elsewhere), or hard-linked into it (what cargo does when
//!   it puts a finished build at `target/debug/libfoo.so`). A file written in place is
//!   ignored until it is published.
//!
//! Either way, a library whose content did not change is skipped (cargo touching an artifact),
//! and the running code is only ever replaced through [`Loader::upgrade`] or loaded with
//! [`Loader::load`], with all their checks. The watcher reacts to changes only — never to its
//! own reads — and coalesces them per file, so a file that keeps changing cannot starve the
//! others; it reports what it did as [`DevEvent`]s (and in the log), and reports
//! [`DevEvent::Stopped`] if the watched directory goes away.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use crate::error::{LoadError, UpgradeError};
use crate::loader::Loader;
use crate::upgrade::UpgradeReport;

/// What the watcher did.
#[derive(Debug)]
#[non_exhaustive]
pub enum DevEvent {
    /// A module seen for the first time was loaded.
    Loaded {
        /// The library.
        path: PathBuf,
        /// Its module.
        module: String,
        /// Its version.
        vsn: String,
    },
    /// The running module was upgraded to the rebuilt library.
    Upgraded {
        /// The library.
        path: PathBuf,
        /// What the upgrade did.
        report: UpgradeReport,
    },
    /// The library was published again with the bytes last loaded from it: nothing was done.
    Unchanged {
        /// The library.
        path: PathBuf,
    },
    /// The library could not be used; the running code is unchanged.
    Failed {
        /// The library.
        path: PathBuf,
        /// Why.
        error: UpgradeError,
    },
    /// `cargo build` failed; the running code is unchanged.
    BuildFailed {
        /// Why.
        error: BuildError,
    },
    /// The watcher stopped: the watched directory was removed or moved, or the file-system
    /// notifications failed. No further events follow.
    Stopped {
        /// Why.
        reason: String,
    },
}

/// How many events wait for [`DevWatcher::next_event`] before new ones are only logged.
const EVENT_BUFFER: usize = 256;

/// Watches module libraries and hot-swaps the ones whose build finished. Stops when dropped.
#[derive(Debug)]
pub struct DevWatcher {
    events: mpsc::Receiver<DevEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DevWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_library(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("so" | "dylib" | "dll")
    )
}

/// What a published file was when it was published: a file changed in place afterwards is
/// not the file that was published, and is not loaded until published again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Some(Identity {
            dev,
            ino,
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// What one file-system notification means to a directory watcher.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// These libraries were published (renamed or hard-linked into place).
    Published(Vec<PathBuf>),
    /// These libraries are being written in place: whatever was published there before is
    /// no longer what the file holds.
    Overwritten(Vec<PathBuf>),
    /// The watched directory is gone.
    Lost(String),
    /// Nothing to do: reads, in-place writes, anything else.
    Ignore,
}

/// Classify `event` for a watcher of `dir`. `links` tells how many names a file has (a hard
/// link made into the directory has at least two).
pub(crate) fn classify(event: &Event, dir: &Path, links: impl Fn(&Path) -> u64) -> Verdict {
    let on_dir = event.paths.iter().any(|p| p == dir);
    match &event.kind {
        EventKind::Remove(_) if on_dir => Verdict::Lost(format!(
            "the watched directory {} was removed",
            dir.display()
        )),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) if on_dir => Verdict::Lost(format!(
            "the watched directory {} was moved away",
            dir.display()
        )),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => published(
            event
                .paths
                .iter()
                .filter(|p| p.parent() == Some(dir) && is_library(p)),
        ),
        EventKind::Create(CreateKind::File | CreateKind::Any) => published(
            event
                .paths
                .iter()
                .filter(|p| p.parent() == Some(dir) && is_library(p) && links(p) > 1),
        ),
        EventKind::Modify(ModifyKind::Data(_)) => {
            let written: Vec<PathBuf> = event
                .paths
                .iter()
                .filter(|p| p.parent() == Some(dir) && is_library(p))
                .cloned()
                .collect();
            if written.is_empty() {
                Verdict::Ignore
            } else {
                Verdict::Overwritten(written)
            }
        }
        _ => Verdict::Ignore,
    }
}

fn published<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> Verdict {
    let paths: Vec<PathBuf> = paths.cloned().collect();
    if paths.is_empty() {
        Verdict::Ignore
    } else {
        Verdict::Published(paths)
    }
}

#[cfg(unix)]
fn link_count(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).map_or(0, |m| m.nlink())
}

#[cfg(not(unix))]
fn link_count(_: &Path) -> u64 {
    0
}

/// Work handed from the notification thread to the watcher's task: a set, so a file that
/// changes a thousand times before the task looks is handled once.
#[derive(Default)]
struct Pending {
    /// Each published path, with what it was when it was (last) published.
    paths: Mutex<BTreeMap<PathBuf, Option<Identity>>>,
    lost: Mutex<Option<String>>,
    wake: Notify,
}

impl Pending {
    fn take(&self) -> (Option<String>, BTreeMap<PathBuf, Option<Identity>>) {
        (
            self.lost.lock().take(),
            std::mem::take(&mut *self.paths.lock()),
        )
    }
}

/// Queue an event for the reader, or only log it if the reader is not keeping up.
fn emit(tx: &mpsc::Sender<DevEvent>, event: DevEvent) {
    if let Err(mpsc::error::TrySendError::Full(event)) = tx.try_send(event) {
        tracing::debug!(
            ?event,
            "dev event not queued: nobody reads DevWatcher::next_event"
        );
    }
}

/// The state of one watcher's task: what it loaded from where.
struct Swapper {
    loader: Loader,
    seen: HashMap<PathBuf, String>,
    tx: mpsc::Sender<DevEvent>,
}

impl Swapper {
    /// Upgrade to (or load) the finished library at `path`, if it is still what was published
    /// (`published`; `None` for a library cargo reported built).
    async fn swap(&mut self, path: &Path, published: Option<Identity>) {
        if let Some(then) = published {
            if Identity::of(path) != Some(then) {
                tracing::debug!(path = %path.display(), "changed or gone since it was published; waiting for the next publication");
                return;
            }
        }
        // Read with the trust policy's checks: a link, a FIFO or an endless device published
        // into the directory is refused here as the loader would refuse it.
        let current = match self.loader.admitted_digest(path).await {
            Ok(digest) => digest,
            Err(LoadError::Io { .. }) if !path.exists() => return,
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "refused; the running code is unchanged");
                return emit(
                    &self.tx,
                    DevEvent::Failed {
                        path: path.to_path_buf(),
                        error: UpgradeError::Load(error),
                    },
                );
            }
        };
        if self.seen.get(path) == Some(&current) {
            tracing::debug!(path = %path.display(), "unchanged; skipped");
            return emit(
                &self.tx,
                DevEvent::Unchanged {
                    path: path.to_path_buf(),
                },
            );
        }
        let event = match self.loader.upgrade(path, &[]).await {
            Ok(report) => {
                tracing::info!(path = %path.display(), module = %report.module, from = %report.from, to = %report.to, processes = report.processes, "hot-swapped");
                self.seen.insert(path.to_path_buf(), report.sha256.clone());
                DevEvent::Upgraded {
                    path: path.to_path_buf(),
                    report,
                }
            }
            Err(UpgradeError::UnknownModule(_)) => match self.loader.load(path).await {
                Ok(v) => {
                    tracing::info!(path = %path.display(), module = %v.module, vsn = %v.vsn, "loaded");
                    self.seen.insert(path.to_path_buf(), v.sha256);
                    DevEvent::Loaded {
                        path: path.to_path_buf(),
                        module: v.module,
                        vsn: v.vsn,
                    }
                }
                Err(error) => DevEvent::Failed {
                    path: path.to_path_buf(),
                    error,
                },
            },
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "hot swap failed; the running code is unchanged");
                // Remembered too: the same broken bytes are not retried when published again.
                self.seen.insert(path.to_path_buf(), current);
                DevEvent::Failed {
                    path: path.to_path_buf(),
                    error,
                }
            }
        };
        emit(&self.tx, event);
    }
}

impl DevWatcher {
    /// Watch `dir` (not recursively) for module libraries published into it (see the module
    /// docs) and hot-swap each. Libraries already in `dir` are taken as seen, not loaded.
    ///
    /// # Errors
    ///
    /// If the directory cannot be watched.
    pub fn watch(loader: Loader, dir: impl AsRef<Path>) -> Result<DevWatcher, notify::Error> {
        let dir = std::path::absolute(dir.as_ref()).unwrap_or_else(|_| dir.as_ref().to_path_buf());
        let pending = Arc::new(Pending::default());
        let mut watcher = {
            let (pending, dir) = (pending.clone(), dir.clone());
            notify::recommended_watcher(move |res: notify::Result<Event>| {
                let verdict = match res {
                    Ok(event) => classify(&event, &dir, link_count),
                    Err(e) => Verdict::Lost(format!("file-system notifications failed: {e}")),
                };
                match verdict {
                    Verdict::Published(paths) => {
                        pending.paths.lock().extend(paths.into_iter().map(|p| {
                            let identity = Identity::of(&p);
                            (p, identity)
                        }))
                    }
                    Verdict::Overwritten(paths) => {
                        // Written in place after it was published: not a finished build any
                        // more; wait for the next publication.
                        let mut pending = pending.paths.lock();
                        for p in paths {
                            pending.remove(&p);
                        }
                        return;
                    }
                    Verdict::Lost(reason) => *pending.lost.lock() = Some(reason),
                    Verdict::Ignore => return,
                }
                pending.wake.notify_one();
            })?
        };
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(async move {
            // Owned by the task: watching stops when the task is aborted.
            let _watcher = watcher;
            // Libraries already there are taken as seen, read with the loader's checks.
            let mut seen = HashMap::new();
            let present: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| is_library(p))
                        .collect()
                })
                .unwrap_or_default();
            for path in present {
                if let Ok(digest) = loader.admitted_digest(&path).await {
                    seen.insert(path, digest);
                }
            }
            let mut swapper = Swapper { loader, seen, tx };
            loop {
                pending.wake.notified().await;
                let (lost, paths) = pending.take();
                for (path, identity) in paths {
                    swapper.swap(&path, identity).await;
                }
                if let Some(reason) = lost {
                    tracing::error!(%reason, "dev watcher stopped");
                    emit(&swapper.tx, DevEvent::Stopped { reason });
                    return;
                }
            }
        });
        Ok(DevWatcher { events, task })
    }

    /// Watch `project`'s sources; after each change (once they have been quiet for its
    /// debounce), build its packages with cargo and hot-swap every library cargo reports
    /// built.
    ///
    /// # Errors
    ///
    /// If a source directory cannot be watched.
    pub fn cargo(loader: Loader, project: CargoProject) -> Result<DevWatcher, notify::Error> {
        let pending = Arc::new(Pending::default());
        let mut watcher = {
            let pending = pending.clone();
            notify::recommended_watcher(move |res: notify::Result<Event>| match res {
                Ok(event) => {
                    if matches!(
                        event.kind,
                        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                    ) {
                        pending.wake.notify_one();
                    }
                }
                Err(e) => {
                    *pending.lost.lock() = Some(format!("file-system notifications failed: {e}"));
                    pending.wake.notify_one();
                }
            })?
        };
        for dir in &project.watch {
            watcher.watch(dir, RecursiveMode::Recursive)?;
        }
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let mut swapper = Swapper {
            loader,
            seen: HashMap::new(),
            tx,
        };
        let task = tokio::spawn(async move {
            let _watcher = watcher;
            loop {
                pending.wake.notified().await;
                // A save touches files in bursts: build once they are quiet, or after ten
                // debounces at most, so a file that never stops changing cannot hold builds off.
                let most = tokio::time::Instant::now()
                    .checked_add(project.debounce.saturating_mul(10))
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
                while tokio::time::Instant::now() < most
                    && tokio::time::timeout(project.debounce, pending.wake.notified())
                        .await
                        .is_ok()
                {}
                if let Some(reason) = pending.take().0 {
                    emit(&swapper.tx, DevEvent::Stopped { reason });
                    return;
                }
                // On a thread of its own: a build can take minutes, and a watcher dropped
                // meanwhile must not hold up the runtime's exit.
                let build = {
                    let project = project.clone();
                    crate::deadline::run("cargo", Duration::MAX, move || project.build()).await
                };
                match build {
                    Ok(Ok(libraries)) => {
                        for path in libraries {
                            swapper.swap(&path, None).await;
                        }
                    }
                    Ok(Err(error)) => {
                        tracing::error!(%error, "cargo build failed; the running code is unchanged");
                        emit(&swapper.tx, DevEvent::BuildFailed { error });
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(DevWatcher { events, task })
    }

    /// The next thing the watcher did; `None` once it has stopped.
    pub async fn next_event(&mut self) -> Option<DevEvent> {
        self.events.recv().await
    }
}

/// What [`DevWatcher::cargo`] builds, and which sources it watches.
///
/// ```no_run
/// # mod ferrotp { pub mod hot { pub use ferrotp_loader::*; } }
/// # async fn f(loader: ferrotp::hot::Loader) -> Result<(), Box<dyn std::error::Error>> {
/// use ferrotp::hot::{CargoProject, DevWatcher};
///
/// let project = CargoProject::new(".")
///     .package("my-module")
///     .watch("my-module/src");
/// let mut watcher = DevWatcher::cargo(loader, project)?;
/// while let Some(event) = watcher.next_event().await {
///     println!("{event:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CargoProject {
    manifest_dir: PathBuf,
    packages: Vec<String>,
    args: Vec<String>,
    watch: Vec<PathBuf>,
    debounce: Duration,
}

impl CargoProject {
    /// The workspace (or package) at `manifest_dir`, watching nothing yet, with a 200 ms
    /// debounce.
    pub fn new(manifest_dir: impl Into<PathBuf>) -> Self {
        CargoProject {
            manifest_dir: manifest_dir.into(),
            packages: Vec::new(),
            args: Vec::new(),
            watch: Vec::new(),
            debounce: Duration::from_millis(200),
        }
    }

    /// Build this package (`cargo build -p`); may be given several times.
    pub fn package(mut self, name: impl Into<String>) -> Self {
        self.packages.push(name.into());
        self
    }

    /// Pass `arg` to `cargo build` (`--release`, say).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Rebuild when anything under `dir` changes; may be given several times.
    pub fn watch(mut self, dir: impl Into<PathBuf>) -> Self {
        self.watch.push(dir.into());
        self
    }

    /// How long the sources must be quiet before a build starts.
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    fn build(&self) -> Result<Vec<PathBuf>, BuildError> {
        let packages: Vec<&str> = self.packages.iter().map(String::as_str).collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        cargo_build(&self.manifest_dir, &packages, &args)
    }
}

/// `cargo build` failed, or produced no library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// cargo could not be run.
    #[error("could not run cargo: {0}")]
    Spawn(#[from] std::io::Error),
    /// cargo reported a failed build.
    #[error("cargo build failed ({status}):\n{stderr}")]
    Failed {
        /// cargo's exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        stderr: String,
    },
    /// The build succeeded without producing a `cdylib`.
    #[error("cargo built no cdylib for {0}")]
    NoLibrary(String),
}

/// Build `packages` of the workspace at `manifest_dir` with the `cargo` that runs this
/// program's build (`$CARGO`, else `cargo`), plus `extra_args`, and return the paths of the
/// `cdylib`s it produced, read from cargo's JSON `compiler-artifact` messages (printed once
/// each file is complete). Blocking: call it from `spawn_blocking` in async code.
///
/// # Errors
///
/// [`BuildError`] if cargo cannot run, the build fails, or no `cdylib` came out.
pub fn cargo_build(
    manifest_dir: impl AsRef<Path>,
    packages: &[&str],
    extra_args: &[&str],
) -> Result<Vec<PathBuf>, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(manifest_dir)
        .args(["build", "--message-format=json-render-diagnostics"])
        .args(packages.iter().flat_map(|p| ["-p", p]))
        .args(extra_args)
        .output()?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let libraries: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .filter(|p| is_library(p))
                .collect::<Vec<_>>()
        })
        .collect();
    if libraries.is_empty() {
        return Err(BuildError::NoLibrary(packages.join(", ")));
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, DataChange, RemoveKind};

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    fn verdict(kind: EventKind, path: &str, links: u64) -> Verdict {
        classify(&event(kind, path), Path::new("/w"), |_| links)
    }

    #[test]
    fn a_library_renamed_into_the_directory_is_published() {
        assert_eq!(
            verdict(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                "/w/libm.so",
                1
            ),
            Verdict::Published(vec![PathBuf::from("/w/libm.so")])
        );
    }

    #[test]
    fn a_library_hard_linked_into_the_directory_is_published() {
        assert_eq!(
            verdict(EventKind::Create(CreateKind::File), "/w/libm.so", 2),
            Verdict::Published(vec![PathBuf::from("/w/libm.so")])
        );
    }

    #[test]
    fn a_library_written_in_place_is_not_published() {
        assert_eq!(
            verdict(EventKind::Create(CreateKind::File), "/w/libm.so", 1),
            Verdict::Ignore
        );
        assert_eq!(
            verdict(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                "/w/libm.so",
                1
            ),
            Verdict::Overwritten(vec![PathBuf::from("/w/libm.so")])
        );
    }

    #[test]
    fn reading_a_library_triggers_nothing() {
        // The watcher reads the libraries it loads: its own opens and reads must not wake it.
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Read)),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Read),
        ] {
            assert_eq!(verdict(kind, "/w/libm.so", 2), Verdict::Ignore);
        }
    }

    #[test]
    fn other_files_and_other_directories_are_ignored() {
        assert_eq!(
            verdict(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                "/w/notes.txt",
                1
            ),
            Verdict::Ignore
        );
        assert_eq!(
            verdict(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                "/elsewhere/libm.so",
                1
            ),
            Verdict::Ignore
        );
    }

    #[test]
    fn removing_or_moving_the_watched_directory_stops_the_watcher() {
        assert!(matches!(
            verdict(EventKind::Remove(RemoveKind::Folder), "/w", 0),
            Verdict::Lost(_)
        ));
        assert!(matches!(
            verdict(
                EventKind::Modify(ModifyKind::Name(RenameMode::From)),
                "/w",
                0
            ),
            Verdict::Lost(_)
        ));
    }
}
