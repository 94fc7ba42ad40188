//! The loader: which modules are loaded, in which versions, and the operations on them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp_abi::{codec, Interface};
use ferrotp_runtime::gen_server::StartOptions;
use ferrotp_runtime::supervisor::ChildSpec;
use ferrotp_runtime::{process, ExitReason, Pid};
use parking_lot::Mutex;

use crate::client::HotClient;
use crate::deadline;
use crate::error::{HotStartError, LoadError, UpgradeError};
use crate::library;
use crate::module::{Changing, Deadlines, ModuleSlot, PurgePolicy};
use crate::process::{child_spec, start, HotArgs, Speaking};
use crate::stage::Staging;
use crate::trust::TrustPolicy;
use crate::upgrade::{migrate, Direction, UpgradeReport};
use crate::version::Version;

/// How a [`Loader`] works.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    trust: TrustPolicy,
    staging_dir: Option<PathBuf>,
    load_timeout: Duration,
    suspend_timeout: Duration,
    migration_timeout: Duration,
    purge: PurgePolicy,
}

impl LoaderConfig {
    /// Load modules admitted by `trust`; stage them in sealed anonymous files (Linux) or a
    /// private temporary directory; allow 30 s for a load, 5 s for each suspend and for each
    /// process's `code_change`; soft purge.
    pub fn new(trust: TrustPolicy) -> Self {
        LoaderConfig {
            trust,
            staging_dir: None,
            load_timeout: Duration::from_secs(30),
            suspend_timeout: Duration::from_secs(5),
            migration_timeout: Duration::from_secs(5),
            purge: PurgePolicy::Soft,
        }
    }

    /// Stage libraries in a private directory the loader creates inside `dir` (exclusively,
    /// mode 0700, removed when the loader is dropped) instead of anonymous files. See the
    /// crate docs on staging.
    pub fn staging_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging_dir = Some(dir.into());
        self
    }

    /// How long reading, checking and mapping a library (its initialisers and self-check
    /// included) may take before the load is refused with [`LoadError::Timeout`].
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// How long an upgrade waits for each process to suspend before it gives up.
    pub fn suspend_timeout(mut self, timeout: Duration) -> Self {
        self.suspend_timeout = timeout;
        self
    }

    /// How long exporting and migrating one process's state may take before the upgrade rolls
    /// back.
    pub fn migration_timeout(mut self, timeout: Duration) -> Self {
        self.migration_timeout = timeout;
        self
    }

    /// What loading a third version does to processes still on the old one.
    pub fn purge(mut self, policy: PurgePolicy) -> Self {
        self.purge = policy;
        self
    }
}

/// A module as [`Loader::module`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModuleStatus {
    /// The module's name.
    pub name: String,
    /// The current version: what new and restarted processes run.
    pub current: String,
    /// The old version, if one is kept.
    pub old: Option<String>,
    /// Whether the old version is the newer one (after a downgrade): it is then no downgrade
    /// target, and an upgrade to it moves forward again.
    pub old_is_newer: bool,
    /// Live processes and the version each runs.
    pub processes: Vec<(Pid, String)>,
    /// Upgrades and downgrades that got as far as suspending the processes (committed or
    /// rolled back). A library refused at load time never counts.
    pub suspensions: u64,
}

/// A version as [`Loader::load`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadedVersion {
    /// The module's name.
    pub module: String,
    /// Its version.
    pub vsn: String,
    /// The SHA-256 of the bytes loaded.
    pub sha256: String,
    /// The file loaded (absolute, inside a trusted directory).
    pub path: PathBuf,
}

struct Inner {
    config: LoaderConfig,
    staging: Staging,
    modules: Mutex<HashMap<String, Arc<ModuleSlot>>>,
    libraries: AtomicUsize,
    next_id: AtomicU64,
    /// Every library that passed every check, by module, in load order (one entry per
    /// distinct file content).
    known: Mutex<Vec<LoadedVersion>>,
}

/// Loads hot modules, starts their processes, and upgrades, downgrades and reloads them while
/// those processes run. Cheap to clone.
///
/// See the crate documentation for the model, and `examples/hot_upgrade.rs` for a host.
#[derive(Clone)]
pub struct Loader {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field(
                "modules",
                &self.inner.modules.lock().keys().collect::<Vec<_>>(),
            )
            .field("leaked_libraries", &self.leaked_libraries())
            .finish()
    }
}

impl Loader {
    /// A loader with `config`.
    ///
    /// # Errors
    ///
    /// [`LoadError::Io`] or [`LoadError::StagingNotPrivate`] if a staging directory was asked
    /// for and cannot be created privately.
    pub fn new(config: LoaderConfig) -> Result<Loader, LoadError> {
        let staging = Staging::new(config.staging_dir.as_deref())?;
        Ok(Loader {
            inner: Arc::new(Inner {
                config,
                staging,
                modules: Mutex::new(HashMap::new()),
                libraries: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                known: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Libraries opened so far and never closed (every version ever loaded, refused ones
    /// included once they were opened): see the crate docs on why none is ever unloaded.
    pub fn leaked_libraries(&self) -> usize {
        self.inner.libraries.load(Ordering::Relaxed)
    }

    /// The private directory this loader stages libraries in, if it uses one (see
    /// [`LoaderConfig::staging_dir`]); removed when the last clone of the loader is dropped.
    pub fn staging_dir(&self) -> Option<&Path> {
        self.inner.staging.dir()
    }

    /// Admit, stage, open, validate and self-check the library at `path`, on a thread of its
    /// own with the load timeout (reading, hashing and `dlopen` block, and a library's
    /// initialisers may never return). Nothing running is touched, whatever the outcome.
    async fn open(&self, path: &Path) -> Result<Arc<Version>, LoadError> {
        let inner = self.inner.clone();
        let requested = path.to_path_buf();
        let timeout = inner.config.load_timeout;
        let opened = deadline::run("load", timeout, move || {
            let admitted = inner.config.trust.admit(&requested)?;
            let decl = library::open(&admitted.path, &admitted.image, &inner.staging, || {
                inner.libraries.fetch_add(1, Ordering::Relaxed);
            })?;
            let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
            Version::new(id, decl, admitted.path, admitted.sha256).map(Arc::new)
        })
        .await;
        match opened {
            Ok(Ok(version)) => {
                let mut known = self.inner.known.lock();
                if !known.iter().any(|k| k.sha256 == version.sha256) {
                    known.push(LoadedVersion {
                        module: version.name.clone(),
                        vsn: version.vsn.clone(),
                        sha256: version.sha256.clone(),
                        path: version.path.clone(),
                    });
                }
                Ok(version)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LoadError::Timeout {
                path: path.to_path_buf(),
                timeout,
            }),
        }
    }

    /// The SHA-256 of what a load of `path` would read, with every check of the trust policy
    /// (no links followed, no FIFO waited on, the size cap), without mapping anything.
    #[cfg(feature = "dev-tooling")]
    pub(crate) async fn admitted_digest(&self, path: &Path) -> Result<String, LoadError> {
        let inner = self.inner.clone();
        let requested = path.to_path_buf();
        let timeout = inner.config.load_timeout;
        deadline::run("digest", timeout, move || {
            inner.config.trust.admit(&requested).map(|a| a.sha256)
        })
        .await
        .unwrap_or_else(|_| {
            Err(LoadError::Timeout {
                path: path.to_path_buf(),
                timeout,
            })
        })
    }

    fn slot(&self, module: &str) -> Option<Arc<ModuleSlot>> {
        self.inner.modules.lock().get(module).cloned()
    }

    fn deadlines(&self) -> Deadlines {
        Deadlines {
            suspend: self.inner.config.suspend_timeout,
            migration: self.inner.config.migration_timeout,
        }
    }

    /// Load the library at `path`, as Erlang's `code:load_file/1`: the first version of a
    /// module becomes current; a later one becomes current while running processes keep the
    /// code they run, which becomes the old version. New and restarted processes run the
    /// current version. If processes still run the version that was old before, the
    /// [`PurgePolicy`] decides: refuse (soft) or kill them (brutal).
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Load`] if the library is refused (also when its interface is not one
    /// running clients speak), [`UpgradeError::InProgress`] during an upgrade of the module,
    /// [`UpgradeError::OldCodeInUse`] under a soft policy.
    pub async fn load(&self, path: impl AsRef<Path>) -> Result<LoadedVersion, UpgradeError> {
        let version = self.open(path.as_ref()).await?;
        let loaded = LoadedVersion {
            module: version.name.clone(),
            vsn: version.vsn.clone(),
            sha256: version.sha256.clone(),
            path: version.path.clone(),
        };
        let slot = {
            let mut modules = self.inner.modules.lock();
            match modules.get(&version.name) {
                Some(slot) => slot.clone(),
                None => {
                    let slot = ModuleSlot::new(version.clone(), self.deadlines());
                    modules.insert(version.name.clone(), Arc::new(slot));
                    tracing::info!(module = %loaded.module, vsn = %loaded.vsn, "module loaded");
                    return Ok(loaded);
                }
            }
        };
        let _changing = slot
            .begin_change()
            .ok_or_else(|| UpgradeError::InProgress(slot.name.clone()))?;
        check_interface(&slot.current(), &version)?;
        let old = slot.versions.lock().old.clone();
        if let Some(old) = old {
            let on_old: Vec<Pid> = slot
                .processes()
                .into_iter()
                .filter(|m| m.version == old.id)
                .map(|m| m.pid)
                .collect();
            if !on_old.is_empty() {
                match self.inner.config.purge {
                    PurgePolicy::Soft => {
                        return Err(UpgradeError::OldCodeInUse {
                            module: slot.name.clone(),
                            vsn: old.vsn.clone(),
                            processes: on_old,
                        })
                    }
                    PurgePolicy::Brutal => {
                        for pid in on_old {
                            let exited = process::await_exit(pid);
                            if process::exit(pid, ExitReason::Kill).is_ok() {
                                // A process stuck in module code never takes the kill; the
                                // load does not wait on it for ever.
                                let _ =
                                    tokio::time::timeout(self.inner.config.suspend_timeout, exited)
                                        .await;
                            }
                        }
                    }
                }
            }
        }
        {
            let mut versions = slot.versions.lock();
            let previous = std::mem::replace(&mut versions.current, version);
            versions.old = Some(previous);
            versions.old_is_newer = false;
        }
        tracing::info!(module = %loaded.module, vsn = %loaded.vsn, "new version loaded; running processes keep theirs");
        Ok(loaded)
    }

    /// Upgrade every process of the module in the library at `path` to it, keeping pids,
    /// queued messages and callers; `extra` is passed to each `code_change`. On any failure
    /// nothing changes (see [`UpgradeError`]).
    ///
    /// The upgrade runs in a task of its own: dropping this future does not stop it half-way;
    /// it commits or rolls back as if awaited.
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Load`] before any process is suspended if the library is refused;
    /// [`UpgradeError::UnknownModule`], [`UpgradeError::InProgress`],
    /// [`UpgradeError::Suspend`], [`UpgradeError::Migration`] (rolled back).
    pub async fn upgrade(
        &self,
        path: impl AsRef<Path>,
        extra: &[u8],
    ) -> Result<UpgradeReport, UpgradeError> {
        let version = self.open(path.as_ref()).await?;
        self.upgrade_to(version, extra).await
    }

    /// [`upgrade`](Self::upgrade), refusing a library that declares another module than
    /// `module` — for a host that knows which module a file must hold.
    ///
    /// # Errors
    ///
    /// [`LoadError::WrongModule`] (before any process is suspended), or as
    /// [`upgrade`](Self::upgrade).
    pub async fn upgrade_module(
        &self,
        module: &str,
        path: impl AsRef<Path>,
        extra: &[u8],
    ) -> Result<UpgradeReport, UpgradeError> {
        let version = self.open(path.as_ref()).await?;
        if version.name != module {
            return Err(LoadError::WrongModule {
                path: version.path.clone(),
                expected: module.into(),
                found: version.name.clone(),
            }
            .into());
        }
        self.upgrade_to(version, extra).await
    }

    async fn upgrade_to(
        &self,
        version: Arc<Version>,
        extra: &[u8],
    ) -> Result<UpgradeReport, UpgradeError> {
        let slot = self
            .slot(&version.name)
            .ok_or_else(|| UpgradeError::UnknownModule(version.name.clone()))?;
        let changing = slot
            .begin_change()
            .ok_or_else(|| UpgradeError::InProgress(slot.name.clone()))?;
        check_interface(&slot.current(), &version)?;
        run_change(changing, slot, version, Direction::Up, extra.to_vec()).await
    }

    /// Move every process of `module` back to its old version: the running (newer) code
    /// writes each state in the old format (OTP's `code_change({down, Vsn}, ...)`), the old
    /// code reads it. The two versions then trade places: the old one is current, the newer
    /// one is kept as old — and is no downgrade target.
    ///
    /// # Errors
    ///
    /// [`UpgradeError::NoOldVersion`]; [`UpgradeError::NotOlder`] when the kept version is
    /// the newer one (a second downgrade in a row); or as [`upgrade`](Self::upgrade).
    pub async fn downgrade(
        &self,
        module: &str,
        extra: &[u8],
    ) -> Result<UpgradeReport, UpgradeError> {
        let slot = self
            .slot(module)
            .ok_or_else(|| UpgradeError::UnknownModule(module.into()))?;
        let changing = slot
            .begin_change()
            .ok_or_else(|| UpgradeError::InProgress(slot.name.clone()))?;
        let (current, old, old_is_newer) = {
            let v = slot.versions.lock();
            (v.current.clone(), v.old.clone(), v.old_is_newer)
        };
        let old = old.ok_or_else(|| UpgradeError::NoOldVersion(module.into()))?;
        if old_is_newer {
            return Err(UpgradeError::NotOlder {
                module: module.into(),
                current: current.vsn.clone(),
                kept: old.vsn.clone(),
            });
        }
        run_change(changing, slot, old, Direction::Down, extra.to_vec()).await
    }

    /// The names of the modules loaded, sorted.
    pub fn modules(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.modules.lock().keys().cloned().collect();
        names.sort();
        names
    }

    /// Every library of `module` this loader opened and found sound, oldest first: what
    /// [`upgrade_module`](Self::upgrade_module) can be pointed at again (the file is read and
    /// checked afresh; one that changed since is refused if the trust policy says so).
    pub fn known_versions(&self, module: &str) -> Vec<LoadedVersion> {
        self.inner
            .known
            .lock()
            .iter()
            .filter(|k| k.module == module)
            .cloned()
            .collect()
    }

    /// The module's versions and processes.
    pub fn module(&self, name: &str) -> Option<ModuleStatus> {
        let slot = self.slot(name)?;
        let (current, old, old_is_newer) = {
            let v = slot.versions.lock();
            (v.current.clone(), v.old.clone(), v.old_is_newer)
        };
        let vsn_of = |id: u64| {
            if id == current.id {
                current.vsn.clone()
            } else if let Some(o) = old.as_ref().filter(|o| o.id == id) {
                o.vsn.clone()
            } else {
                format!("load #{id}")
            }
        };
        Some(ModuleStatus {
            name: slot.name.clone(),
            current: current.vsn.clone(),
            old: old.as_ref().map(|o| o.vsn.clone()),
            old_is_newer,
            processes: slot
                .processes()
                .into_iter()
                .map(|m| (m.pid, vsn_of(m.version)))
                .collect(),
            suspensions: slot.suspensions.load(Ordering::Relaxed),
        })
    }

    fn hot_args<I: Interface>(&self, args: &I::Args) -> Result<HotArgs, HotStartError> {
        let slot = self
            .slot(I::MODULE)
            .ok_or_else(|| HotStartError::UnknownModule(I::MODULE.into()))?;
        let current = slot.current();
        if !Speaking::of(I::FINGERPRINT).understood_by(&current.interface) {
            return Err(HotStartError::InterfaceMismatch {
                module: slot.name.clone(),
                vsn: current.vsn.clone(),
                client: std::any::type_name::<I>().into(),
            });
        }
        let args = codec::encode(args).map_err(|e| HotStartError::Encode(e.to_string()))?;
        Ok(HotArgs { slot, args })
    }

    /// Start a process of module `I` on its current version, with the runtime's start options
    /// (name, link, timeout). Returns once the module's `init` has run.
    ///
    /// # Errors
    ///
    /// [`HotStartError::UnknownModule`] if `I`'s module is not loaded, or as a GenServer start
    /// fails (a failing or panicking `init` included).
    pub async fn start<I: Interface>(
        &self,
        args: I::Args,
        opts: StartOptions,
    ) -> Result<HotClient<I>, HotStartError> {
        let args = self.hot_args::<I>(&args)?;
        Ok(HotClient::new(start(args, opts).await?))
    }

    /// A child spec for a process of module `I`: a supervisor starts it, and restarts it after
    /// a crash, on the module's current version. Its id is the module's name; set the id, a
    /// name (local or via), restart and shutdown with the spec's builder.
    ///
    /// # Errors
    ///
    /// [`HotStartError::UnknownModule`] or [`HotStartError::Encode`].
    pub fn child_spec<I: Interface>(&self, args: I::Args) -> Result<ChildSpec, HotStartError> {
        Ok(child_spec(self.hot_args::<I>(&args)?))
    }
}

/// A new version must still speak to the running clients: the current version's interface
/// comes first in the new one's (methods may be added at the end).
fn check_interface(current: &Version, new: &Version) -> Result<(), LoadError> {
    if Speaking::of(&current.interface).understood_by(&new.interface) {
        Ok(())
    } else {
        Err(LoadError::InterfaceMismatch {
            path: new.path.clone(),
            module: new.name.clone(),
            expected: format!(
                "the running version {}'s (its methods, unchanged, come first)",
                current.vsn
            ),
        })
    }
}

/// Run a code change in a task of its own, holding the module's change lock until it ends.
async fn run_change(
    changing: Changing,
    slot: Arc<ModuleSlot>,
    to: Arc<Version>,
    direction: Direction,
    extra: Vec<u8>,
) -> Result<UpgradeReport, UpgradeError> {
    let task = tokio::spawn(async move {
        let report = migrate(slot, to, direction, extra).await;
        log_outcome(&report);
        drop(changing);
        report
    });
    task.await
        .unwrap_or_else(|e| Err(UpgradeError::Aborted(e.to_string())))
}

fn log_outcome(report: &Result<UpgradeReport, UpgradeError>) {
    match report {
        Ok(r) => tracing::info!(
            module = %r.module, from = %r.from, to = %r.to, processes = r.processes,
            suspended_for = ?r.suspended_for, "code change committed"
        ),
        Err(e) => tracing::error!(error = %e, "code change rolled back"),
    }
}
