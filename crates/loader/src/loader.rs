//! The loader: which modules are loaded, in which versions, and the operations on them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp_abi::{codec, Interface};
use ferrotp_runtime::gen_server::{self, StartOptions};
use ferrotp_runtime::supervisor::ChildSpec;
use ferrotp_runtime::{process, ExitReason, Pid};
use parking_lot::Mutex;

use crate::client::HotClient;
use crate::error::{HotStartError, LoadError, UpgradeError};
use crate::library;
use crate::module::{ModuleSlot, PurgePolicy};
use crate::process::{start, HotArgs, HotProcess};
use crate::trust::TrustPolicy;
use crate::upgrade::{migrate, Direction, UpgradeReport};
use crate::version::Version;

/// How a [`Loader`] works.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    trust: TrustPolicy,
    staging_dir: Option<PathBuf>,
    migration_timeout: Duration,
    purge: PurgePolicy,
}

impl LoaderConfig {
    /// Load modules admitted by `trust`; stage copies in a private temporary directory;
    /// allow each `code_change` 5 s; soft purge.
    pub fn new(trust: TrustPolicy) -> Self {
        LoaderConfig {
            trust,
            staging_dir: None,
            migration_timeout: Duration::from_secs(5),
            purge: PurgePolicy::Soft,
        }
    }

    /// Where private copies of loaded libraries go (created, mode 0700).
    pub fn staging_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging_dir = Some(dir.into());
        self
    }

    /// How long one process's `code_change` may take before the upgrade rolls back.
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
    /// The SHA-256 of the file loaded.
    pub sha256: String,
    /// The file loaded (canonical path).
    pub path: PathBuf,
}

struct Inner {
    config: LoaderConfig,
    staging: PathBuf,
    modules: Mutex<HashMap<String, Arc<ModuleSlot>>>,
    libraries: AtomicUsize,
    next_id: AtomicU64,
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

fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

impl Loader {
    /// A loader with `config`.
    ///
    /// # Errors
    ///
    /// [`LoadError::Io`] if the staging directory cannot be created.
    pub fn new(config: LoaderConfig) -> Result<Loader, LoadError> {
        let staging = config.staging_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("ferrotp-modules-{}", std::process::id()))
        });
        private_dir(&staging).map_err(|source| LoadError::Io {
            path: staging.clone(),
            source,
        })?;
        Ok(Loader {
            inner: Arc::new(Inner {
                config,
                staging,
                modules: Mutex::new(HashMap::new()),
                libraries: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// Libraries opened so far and never closed (every version ever loaded, refused ones
    /// included once they were opened): see the crate docs on why none is ever unloaded.
    pub fn leaked_libraries(&self) -> usize {
        self.inner.libraries.load(Ordering::Relaxed)
    }

    /// Admit, stage, open, validate and self-check the library at `path`. Nothing running is
    /// touched, whatever the outcome.
    fn open(&self, path: &Path) -> Result<Arc<Version>, LoadError> {
        let (canonical, sha256, image) = self.inner.config.trust.admit(path)?;
        let opened = library::open(&canonical, &image, &self.inner.staging, || {
            self.inner.libraries.fetch_add(1, Ordering::Relaxed);
        })?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(Version::new(id, opened, canonical, sha256)?))
    }

    fn slot(&self, module: &str) -> Option<Arc<ModuleSlot>> {
        self.inner.modules.lock().get(module).cloned()
    }

    /// Load the library at `path`, as Erlang's `code:load_file/1`: the first version of a
    /// module becomes current; a later one becomes current while running processes keep the
    /// code they run, which becomes the old version. New and restarted processes run the
    /// current version. If processes still run the version that was old before, the
    /// [`PurgePolicy`] decides: refuse (soft) or kill them (brutal).
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Load`] if the library is refused, [`UpgradeError::InProgress`] during
    /// an upgrade of the module, [`UpgradeError::OldCodeInUse`] under a soft policy.
    pub async fn load(&self, path: impl AsRef<Path>) -> Result<LoadedVersion, UpgradeError> {
        let version = self.open(path.as_ref())?;
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
                    let slot =
                        ModuleSlot::new(version.clone(), self.inner.config.migration_timeout);
                    modules.insert(version.name.clone(), Arc::new(slot));
                    tracing::info!(module = %loaded.module, vsn = %loaded.vsn, "module loaded");
                    return Ok(loaded);
                }
            }
        };
        let _changing = slot
            .changing
            .try_lock()
            .map_err(|_| UpgradeError::InProgress(slot.name.clone()))?;
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
                                exited.await;
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
        }
        tracing::info!(module = %loaded.module, vsn = %loaded.vsn, "new version loaded; running processes keep theirs");
        Ok(loaded)
    }

    /// Upgrade every process of the module in the library at `path` to it, keeping pids,
    /// queued messages and callers; `extra` is passed to each `code_change`. On any failure
    /// nothing changes (see [`UpgradeError`]).
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
        let version = self.open(path.as_ref())?;
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
        let version = self.open(path.as_ref())?;
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
        let _changing = slot
            .changing
            .try_lock()
            .map_err(|_| UpgradeError::InProgress(slot.name.clone()))?;
        let report = migrate(&slot, version, Direction::Up, extra.to_vec()).await;
        log_outcome(&report);
        report
    }

    /// Move every process of `module` back to its old version: the running (newer) code
    /// writes each state in the old format (OTP's `code_change({down, Vsn}, ...)`), the old
    /// code reads it. The two versions then trade places: the old one is current, the newer
    /// one is kept as old.
    ///
    /// # Errors
    ///
    /// [`UpgradeError::NoOldVersion`], or as [`upgrade`](Self::upgrade).
    pub async fn downgrade(
        &self,
        module: &str,
        extra: &[u8],
    ) -> Result<UpgradeReport, UpgradeError> {
        let slot = self
            .slot(module)
            .ok_or_else(|| UpgradeError::UnknownModule(module.into()))?;
        let _changing = slot
            .changing
            .try_lock()
            .map_err(|_| UpgradeError::InProgress(slot.name.clone()))?;
        let old = slot
            .versions
            .lock()
            .old
            .clone()
            .ok_or_else(|| UpgradeError::NoOldVersion(module.into()))?;
        let report = migrate(&slot, old, Direction::Down, extra.to_vec()).await;
        log_outcome(&report);
        report
    }

    /// The module's versions and processes.
    pub fn module(&self, name: &str) -> Option<ModuleStatus> {
        let slot = self.slot(name)?;
        let (current, old) = {
            let v = slot.versions.lock();
            (v.current.clone(), v.old.clone())
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
    /// a crash, on the module's current version.
    ///
    /// # Errors
    ///
    /// [`HotStartError::UnknownModule`] or [`HotStartError::Encode`].
    pub fn child_spec<I: Interface>(
        &self,
        id: impl Into<Arc<str>>,
        args: I::Args,
        opts: StartOptions,
    ) -> Result<ChildSpec, HotStartError> {
        let args = self.hot_args::<I>(&args)?;
        Ok(gen_server::child_spec_with::<HotProcess>(id, args, opts))
    }
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
