//! Fixture modules, built once per test run by the same cargo, and a loader that trusts them.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ferrotp_loader::{cargo_build, Loader, LoaderConfig, TrustPolicy};

pub struct Fixtures {
    pub dir: PathBuf,
    pub v1: PathBuf,
    pub v2: PathBuf,
    pub v3_broken: PathBuf,
    pub faulty: PathBuf,
    pub wrong_contract: PathBuf,
    pub no_module: PathBuf,
    pub other_interface: PathBuf,
    pub truncated: PathBuf,
    pub not_a_library: PathBuf,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

/// A fresh directory owned by this test run, writable only by its owner.
pub fn private_dir(name: &str) -> PathBuf {
    let root = workspace_root().join("target/hot-fixtures");
    static PRUNED: std::sync::Once = std::sync::Once::new();
    PRUNED.call_once(|| prune_finished_runs(&root));
    let dir = root.join(format!("{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(dir.parent().unwrap(), 0o755);
    set_mode(&dir, 0o755);
    // The loader reports paths made absolute without `..`: so do the tests.
    dir.canonicalize().unwrap()
}

/// Remove the directories of earlier test runs whose process has ended: each run leaves its
/// modules and rebuilt sources behind (tens of MB), and nothing else would ever remove them.
/// A directory is named after the pid of the run that made it; on systems without `/proc`
/// nothing is removed. Only directories untouched for an hour go: a run in another pid
/// namespace sharing this `target/` (a container) looks dead through our `/proc`, but its
/// directories are fresh.
fn prune_finished_runs(root: &Path) {
    const STALE: std::time::Duration = std::time::Duration::from_secs(3600);
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if stale && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            // Another binary's run may be removing it at the same time: ignore failures.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn install(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    set_mode(&to, 0o755);
    to
}

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let built = cargo_build(
            workspace_root(),
            &[
                "hot-counter-v1",
                "hot-counter-v2",
                "hot-counter-v3-broken",
                "fixture-counter-faulty",
                "fixture-wrong-contract",
                "fixture-no-module",
                "fixture-other-interface",
            ],
            &[],
        )
        .expect("the fixture modules build");
        let find = |stem: &str| {
            built
                .iter()
                .find(|p| {
                    p.file_stem()
                        .is_some_and(|s| s.to_string_lossy().ends_with(stem))
                })
                .unwrap_or_else(|| panic!("{stem} was built: {built:?}"))
                .clone()
        };
        let dir = private_dir("modules");
        let v1 = install(&find("hot_counter_v1"), &dir, "libcounter_v1.so");
        let bytes = std::fs::read(&v1).unwrap();
        let truncated = dir.join("libtruncated.so");
        std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
        let not_a_library = dir.join("libnotes.so");
        std::fs::write(&not_a_library, "these are notes, not code\n").unwrap();
        Fixtures {
            v2: install(&find("hot_counter_v2"), &dir, "libcounter_v2.so"),
            v3_broken: install(&find("hot_counter_v3_broken"), &dir, "libcounter_v3.so"),
            faulty: install(
                &find("fixture_counter_faulty"),
                &dir,
                "libcounter_faulty.so",
            ),
            wrong_contract: install(&find("fixture_wrong_contract"), &dir, "libwrong.so"),
            no_module: install(&find("fixture_no_module"), &dir, "libnomodule.so"),
            other_interface: install(&find("fixture_other_interface"), &dir, "libledger.so"),
            truncated,
            not_a_library,
            v1,
            dir,
        }
    })
}

/// A loader that trusts the fixture directory, with `v1` of the counter loaded.
pub async fn loader_with_v1() -> Loader {
    let f = fixtures();
    let loader = loader_for(
        &f.dir,
        LoaderConfig::new(TrustPolicy::default().allow_dir(&f.dir)),
    );
    loader.load(&f.v1).await.unwrap();
    loader
}

pub fn loader_for(_dir: &Path, config: LoaderConfig) -> Loader {
    Loader::new(config).unwrap()
}
