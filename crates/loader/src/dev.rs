//! Dev mode: rebuild a module, save, and the running system has the new code.
//!
//! [`DevWatcher`] watches a build output directory (`notify`, debounced), and when a module
//! library there changes, upgrades the running module to it — or loads it, the first time. A
//! file whose content did not change (cargo touching an artifact) is skipped; a half-written
//! file (the linker still writing) is retried. [`cargo_build`] drives `cargo build` and takes
//! the artifact paths from cargo's JSON messages instead of guessing file names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use notify_debouncer_mini::{new_debouncer, notify::RecursiveMode, DebounceEventResult};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::error::{LoadError, UpgradeError};
use crate::loader::Loader;
use crate::upgrade::UpgradeReport;

/// What the watcher did about one changed file.
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
    /// The library changed on disk but holds the bytes last loaded from it (cargo touching an
    /// artifact it did not rebuild): nothing was done.
    Unchanged {
        /// The library.
        path: PathBuf,
    },
    /// The library looks half-written (truncated, or not yet a library); the watcher reads it
    /// again shortly.
    Retrying {
        /// The library.
        path: PathBuf,
        /// What was wrong with it.
        error: LoadError,
    },
    /// The library changed but could not be used; the running code is unchanged.
    Failed {
        /// The library.
        path: PathBuf,
        /// Why.
        error: UpgradeError,
    },
}

/// Watches a directory of module libraries and hot-swaps what changes. Stops when dropped.
#[derive(Debug)]
pub struct DevWatcher {
    events: mpsc::UnboundedReceiver<DevEvent>,
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

/// The file's SHA-256 in hex, as the loader reports the digests of what it loaded.
fn digest(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| {
        Sha256::digest(&b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    })
}

impl DevWatcher {
    /// Watch `dir` (not recursively), waiting `debounce` after the last change to a file
    /// before acting on it. Libraries already in `dir` are taken as seen, not loaded.
    ///
    /// # Errors
    ///
    /// If the directory cannot be watched.
    pub fn watch(
        loader: Loader,
        dir: impl AsRef<Path>,
        debounce: Duration,
    ) -> Result<DevWatcher, notify_debouncer_mini::notify::Error> {
        let dir = dir.as_ref().to_path_buf();
        let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<Vec<PathBuf>>();
        let mut debouncer = new_debouncer(debounce, move |res: DebounceEventResult| {
            if let Ok(events) = res {
                let _ = raw_tx.send(events.into_iter().map(|e| e.path).collect());
            }
        })?;
        debouncer
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)?;
        let mut seen: HashMap<PathBuf, String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| is_library(p))
                    .filter_map(|p| digest(&p).map(|d| (p, d)))
                    .collect()
            })
            .unwrap_or_default();
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // Owned by the task: watching stops when the task is aborted.
            let _debouncer = debouncer;
            while let Some(mut paths) = raw_rx.recv().await {
                // A build writes a file in many steps: take every batch already queued and act
                // once per path, on its latest content.
                while let Ok(more) = raw_rx.try_recv() {
                    paths.extend(more);
                }
                paths.sort();
                paths.dedup();
                for path in paths.into_iter().filter(|p| is_library(p)) {
                    if let Some(event) = swap(&loader, &path, &mut seen, &tx).await {
                        let _ = tx.send(event);
                    }
                }
            }
        });
        Ok(DevWatcher { events, task })
    }

    /// The next thing the watcher did.
    pub async fn next_event(&mut self) -> Option<DevEvent> {
        self.events.recv().await
    }
}

/// The file's digest once two reads a moment apart agree.
async fn stable_digest(path: &Path) -> Option<String> {
    let read = || {
        let path = path.to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || digest(&path))
                .await
                .ok()
                .flatten()
        }
    };
    let mut last = read().await?;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = read().await?;
        if now == last {
            return Some(now);
        }
        last = now;
    }
}

/// How often, and how far apart, a half-written library is read again.
const RETRIES: u32 = 10;
const RETRY_AFTER: Duration = Duration::from_millis(300);

/// Upgrade to (or load) the library at `path`, retrying while it looks half-written. `None`
/// if it is gone.
async fn swap(
    loader: &Loader,
    path: &Path,
    seen: &mut HashMap<PathBuf, String>,
    tx: &mpsc::UnboundedSender<DevEvent>,
) -> Option<DevEvent> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        // Compared at every attempt, once the content holds still: a file being written
        // changes between two reads, and a half-written copy of unchanged bytes must not
        // count as a change.
        let current = stable_digest(path).await?;
        if seen.get(path) == Some(&current) {
            tracing::debug!(path = %path.display(), "unchanged; skipped");
            return Some(DevEvent::Unchanged {
                path: path.to_path_buf(),
            });
        }
        let event = match loader.upgrade(path, &[]).await {
            Ok(report) => {
                tracing::info!(path = %path.display(), module = %report.module, from = %report.from, to = %report.to, processes = report.processes, "hot-swapped");
                seen.insert(path.to_path_buf(), report.sha256.clone());
                DevEvent::Upgraded {
                    path: path.to_path_buf(),
                    report,
                }
            }
            Err(UpgradeError::UnknownModule(_)) => match loader.load(path).await {
                Ok(v) => {
                    tracing::info!(path = %path.display(), module = %v.module, vsn = %v.vsn, "loaded");
                    seen.insert(path.to_path_buf(), v.sha256);
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
            Err(UpgradeError::Load(
                error @ (LoadError::Truncated { .. } | LoadError::NotALibrary { .. }),
            )) if attempts < RETRIES => {
                // The linker may still be writing: wait and read it again.
                tracing::debug!(path = %path.display(), %error, "half-written? reading it again");
                let _ = tx.send(DevEvent::Retrying {
                    path: path.to_path_buf(),
                    error,
                });
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "hot swap failed; the running code is unchanged");
                // Remembered too: the same broken bytes are not retried on every touch.
                seen.insert(path.to_path_buf(), current);
                DevEvent::Failed {
                    path: path.to_path_buf(),
                    error,
                }
            }
        };
        return Some(event);
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
/// `cdylib`s it produced, read from cargo's JSON messages. Blocking: call it from
/// `spawn_blocking` in async code.
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
