//! Which files the loader agrees to run.
//!
//! A hot module is native code with the host's full rights: loading one is running it. So the
//! loader takes modules only from directories it was told to trust, refuses anything another
//! user could have written or swapped, and, if configured, only files whose SHA-256 is
//! allowlisted.
//!
//! # How a file is admitted
//!
//! The check and the read are one walk over file descriptors, so nothing can change between
//! what is checked and what is loaded (no time-of-check/time-of-use window):
//!
//! 1. The path is made absolute without touching the file system and must lie inside a trusted
//!    directory.
//! 2. The trusted directory is opened, then every directory below it on the way to the file,
//!    each relative to the one before and **without following symbolic links**. Each is checked
//!    on its open descriptor (`fstat`): a directory, owned by the host's user or by root, not
//!    writable by others, and not writable by its group unless the policy allows it.
//! 3. The file is opened the same way (never following a link, never blocking on a FIFO) and
//!    checked on its descriptor: a regular file (a FIFO, a directory or a device is refused at
//!    once), same owner and mode rules, not larger than the size cap.
//! 4. The bytes are read from that descriptor and hashed; the allowlist is checked against
//!    that digest. These very bytes are what the loader stages and maps: the digest is of the
//!    code that runs.
//!
//! Group-writable files and directories are refused by default: whoever is in the group could
//! replace the code. [`TrustPolicy::allow_group_writable`] accepts them, for teams that share a
//! build group on purpose. The trusted directories themselves, and the directories above them,
//! are the operator's to secure.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::LoadError;

/// The largest library the loader reads by default: 512 MiB.
pub const DEFAULT_MAX_LIBRARY_SIZE: u64 = 512 * 1024 * 1024;

/// The trust rules of a [`Loader`](crate::Loader).
///
/// # Examples
///
/// ```
/// # mod ferrotp { pub mod hot { pub use ferrotp_loader::*; } }
/// use ferrotp::hot::TrustPolicy;
///
/// let policy = TrustPolicy::default()
///     .allow_dir("/opt/myapp/modules")
///     .allow_sha256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    dirs: Vec<TrustedDir>,
    allowlist: Option<HashSet<String>>,
    group_writable: bool,
    max_size: u64,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        TrustPolicy {
            dirs: Vec::new(),
            allowlist: None,
            group_writable: false,
            max_size: DEFAULT_MAX_LIBRARY_SIZE,
        }
    }
}

/// A trusted directory, as given (made absolute) and as resolved when it was configured: a
/// path may name it either way.
#[derive(Debug, Clone)]
struct TrustedDir {
    given: PathBuf,
    resolved: PathBuf,
}

/// A file the policy admitted: where it was, its digest, and its bytes.
pub(crate) struct Admitted {
    /// The absolute path, inside a trusted directory, with no symbolic link below it.
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) image: Vec<u8>,
}

impl TrustPolicy {
    /// Trust modules inside `dir` (and its subdirectories).
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        let given = absolute(&dir.into());
        let resolved = std::fs::canonicalize(&given).unwrap_or_else(|_| given.clone());
        self.dirs.push(TrustedDir { given, resolved });
        self
    }

    /// Load only files with this SHA-256 (hex, any case). Once one digest is given, every
    /// other file is refused.
    pub fn allow_sha256(mut self, hex: impl AsRef<str>) -> Self {
        self.allowlist
            .get_or_insert_with(HashSet::new)
            .insert(hex.as_ref().to_ascii_lowercase());
        self
    }

    /// Accept group-writable module files and directories (refused by default: anyone in the
    /// group could replace the code). For a build group shared on purpose.
    pub fn allow_group_writable(mut self) -> Self {
        self.group_writable = true;
        self
    }

    /// Refuse libraries larger than `bytes` (default [`DEFAULT_MAX_LIBRARY_SIZE`]): the whole
    /// file is read into memory to be hashed and staged.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Check `path` and read it, on one chain of descriptors (see the module docs).
    pub(crate) fn admit(&self, path: &Path) -> Result<Admitted, LoadError> {
        let path = absolute(path);
        let (root, rest) = self.locate(&path)?;
        let image = read_checked(root, &rest, &path, self)?;
        let sha256 = hex(&Sha256::digest(&image));
        if let Some(allow) = &self.allowlist {
            if !allow.contains(&sha256) {
                return Err(LoadError::NotAllowlisted { path, sha256 });
            }
        }
        Ok(Admitted {
            path,
            sha256,
            image,
        })
    }

    /// The trusted directory `path` lies in, and the path's components below it.
    fn locate<'p>(&self, path: &'p Path) -> Result<(&Path, Vec<&'p std::ffi::OsStr>), LoadError> {
        for dir in &self.dirs {
            for root in [&dir.given, &dir.resolved] {
                if let Ok(rest) = path.strip_prefix(root) {
                    let rest: Vec<_> = rest.iter().collect();
                    if !rest.is_empty() {
                        return Ok((root, rest));
                    }
                }
            }
        }
        Err(LoadError::NotInAllowedDir {
            path: path.to_path_buf(),
            allowed: if self.dirs.is_empty() {
                "none configured".into()
            } else {
                self.dirs
                    .iter()
                    .map(|d| d.given.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
    }
}

/// `path` made absolute against the working directory, with `.` and `..` resolved by name only
/// (the file system is not asked: symbolic links are judged on the way down, not here).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a descriptor must be for the policy to accept it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Directory,
    File,
}

/// The owner and mode rules, on an `fstat` result: pure, so each rule is unit-tested.
fn judge(
    path: &Path,
    uid: u32,
    mode: u32,
    host_uid: u32,
    group_writable: bool,
) -> Result<(), LoadError> {
    if uid != host_uid && uid != 0 {
        return Err(LoadError::ForeignOwner {
            path: path.to_path_buf(),
            owner: uid,
        });
    }
    // A sticky world-writable directory (like /tmp) still lets anyone add files, which is
    // exactly what must not happen to a module directory.
    if mode & 0o002 != 0 {
        return Err(LoadError::WorldWritable {
            path: path.to_path_buf(),
        });
    }
    if mode & 0o020 != 0 && !group_writable {
        return Err(LoadError::GroupWritable {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(unix)]
fn read_checked(
    root: &Path,
    rest: &[&std::ffi::OsStr],
    full: &Path,
    policy: &TrustPolicy,
) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;

    use rustix::fs::{fstat, openat, FileType, Mode, OFlags, CWD};

    let io = |at: &Path, e: rustix::io::Errno| LoadError::Io {
        path: at.to_path_buf(),
        source: e.into(),
    };
    let host_uid = rustix::process::geteuid().as_raw();
    let check = |fd: &rustix::fd::OwnedFd, at: &Path, expect: Expect| -> Result<u64, LoadError> {
        let st = fstat(fd).map_err(|e| io(at, e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        match (expect, kind) {
            (Expect::Directory, FileType::Directory) | (Expect::File, FileType::RegularFile) => {}
            (_, kind) => {
                return Err(LoadError::NotARegularFile {
                    path: at.to_path_buf(),
                    kind: describe(kind),
                })
            }
        }
        judge(
            at,
            st.st_uid,
            st.st_mode as u32,
            host_uid,
            policy.group_writable,
        )?;
        Ok(st.st_size as u64)
    };
    let refuse_links = |at: &Path, e: rustix::io::Errno| {
        if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
            LoadError::Symlink {
                path: at.to_path_buf(),
            }
        } else {
            io(at, e)
        }
    };

    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = openat(CWD, root, dir_flags, Mode::empty()).map_err(|e| io(root, e))?;
    check(&dir, root, Expect::Directory)?;
    let mut at = root.to_path_buf();
    let (file_name, dirs) = rest.split_last().expect("a path below its root");
    for component in dirs {
        at.push(component);
        let next = openat(
            &dir,
            *component,
            dir_flags | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| refuse_links(&at, e))?;
        check(&next, &at, Expect::Directory)?;
        dir = next;
    }
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer, for ever.
    let file = openat(
        &dir,
        *file_name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| refuse_links(full, e))?;
    let size = check(&file, full, Expect::File)?;
    if size > policy.max_size {
        return Err(LoadError::TooLarge {
            path: full.to_path_buf(),
            size,
            limit: policy.max_size,
        });
    }
    let mut image = Vec::with_capacity(size as usize);
    // `take` bounds the read even if the file grows after the `fstat`.
    std::fs::File::from(file)
        .take(policy.max_size + 1)
        .read_to_end(&mut image)
        .map_err(|source| LoadError::Io {
            path: full.to_path_buf(),
            source,
        })?;
    if image.len() as u64 > policy.max_size {
        return Err(LoadError::TooLarge {
            path: full.to_path_buf(),
            size: image.len() as u64,
            limit: policy.max_size,
        });
    }
    Ok(image)
}

#[cfg(unix)]
fn describe(kind: rustix::fs::FileType) -> &'static str {
    use rustix::fs::FileType;
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "an unknown kind of file",
    }
}

/// Without POSIX descriptors the file is read by path, after a plain check that it is a regular
/// file: the ownership and race guarantees above are Unix-only.
#[cfg(not(unix))]
fn read_checked(
    root: &Path,
    rest: &[&std::ffi::OsStr],
    full: &Path,
    policy: &TrustPolicy,
) -> Result<Vec<u8>, LoadError> {
    let _ = (root, rest);
    let io = |source| LoadError::Io {
        path: full.to_path_buf(),
        source,
    };
    let meta = std::fs::symlink_metadata(full).map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::NotARegularFile {
            path: full.to_path_buf(),
            kind: "not a regular file",
        });
    }
    if meta.len() > policy.max_size {
        return Err(LoadError::TooLarge {
            path: full.to_path_buf(),
            size: meta.len(),
            limit: policy.max_size,
        });
    }
    std::fs::read(full).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;

    fn verdict(uid: u32, mode: u32, group_writable: bool) -> Result<(), LoadError> {
        judge(Path::new("m.so"), uid, mode, ME, group_writable)
    }

    #[test]
    fn files_of_the_host_user_or_root_are_accepted() {
        assert!(verdict(ME, 0o755, false).is_ok());
        assert!(verdict(0, 0o755, false).is_ok());
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        assert!(matches!(
            verdict(1001, 0o755, false),
            Err(LoadError::ForeignOwner { owner: 1001, .. })
        ));
    }

    #[test]
    fn world_writable_is_refused_even_when_sticky() {
        assert!(matches!(
            verdict(ME, 0o1777, true),
            Err(LoadError::WorldWritable { .. })
        ));
    }

    #[test]
    fn group_writable_is_refused_unless_allowed() {
        assert!(matches!(
            verdict(ME, 0o775, false),
            Err(LoadError::GroupWritable { .. })
        ));
        assert!(verdict(ME, 0o775, true).is_ok());
    }

    #[test]
    fn paths_are_made_absolute_by_name() {
        assert_eq!(
            absolute(Path::new("/a/b/../c/./d.so")),
            PathBuf::from("/a/c/d.so")
        );
        assert!(absolute(Path::new("x.so")).is_absolute());
    }

    #[test]
    fn a_path_outside_every_trusted_dir_is_refused() {
        let policy = TrustPolicy::default().allow_dir("/opt/modules");
        assert!(matches!(
            policy.admit(Path::new("/opt/modules/../elsewhere/m.so")),
            Err(LoadError::NotInAllowedDir { .. })
        ));
        assert!(matches!(
            policy.admit(Path::new("/opt/modules")),
            Err(LoadError::NotInAllowedDir { .. })
        ));
    }
}
