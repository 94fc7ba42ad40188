//! Staging: giving the dynamic loader the admitted bytes, and nothing else.
//!
//! `dlopen` opens a *path*, and caches libraries by path: opening a rebuilt library where the
//! old one was would hand back the code already loaded, and any path another user can reach
//! could be swapped between the check and the open. So the loader never lets `dlopen` resolve a
//! path anyone else controls:
//!
//! * **On Linux** the admitted bytes go into a sealed anonymous file (`memfd_create`; no
//!   further writes, no resizing) and `dlopen` opens `/proc/self/fd/N`, that very file. Nothing
//!   is written to disk and there is no directory to take over.
//! * **Elsewhere**, or when [`LoaderConfig::staging_dir`](crate::LoaderConfig::staging_dir)
//!   asks for it, the loader creates a private directory of its own with an unguessable name
//!   (`mkdir` fails if the name exists, so a directory made in advance by someone else is
//!   never used), checks on its descriptor that it owns it and that nobody else can enter,
//!   and writes each staged copy with `O_CREAT | O_EXCL | O_NOFOLLOW`. On Linux `dlopen` still
//!   opens the staged file through its descriptor; elsewhere it opens the path, inside the
//!   private directory. The directory is removed with the loader.
//!
//! A staged file's descriptor stays open for the rest of the program, like the library it
//! holds (libraries are never unloaded): the dynamic loader remembers libraries by the name
//! they were opened under, and a reused descriptor number would make it answer a later
//! `dlopen` of `/proc/self/fd/N` with an earlier library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags};

use crate::error::LoadError;

/// How a loader stages libraries.
pub(crate) enum Staging {
    /// A sealed anonymous file per library (Linux).
    #[cfg(target_os = "linux")]
    Memfd,
    /// A private directory of the loader's own.
    Dir(PrivateDir),
}

/// A library ready for `dlopen`.
pub(crate) struct Staged {
    /// What `dlopen` opens.
    pub(crate) path: PathBuf,
    fd: OwnedFd,
    /// The file's name in a private directory, removed once the library is mapped.
    entry: Option<(PathBuf, String)>,
}

impl Staged {
    /// `dlopen` is done with the file: drop its name, and keep its descriptor for ever if the
    /// library was mapped (see the module docs).
    pub(crate) fn finish(self, mapped: bool) {
        if let Some((dir, name)) = &self.entry {
            let _ = std::fs::remove_file(dir.join(name));
        }
        if mapped {
            std::mem::forget(self.fd);
        }
    }
}

static STAGED: AtomicU64 = AtomicU64::new(0);

/// Whether `/proc/self/fd/N` names the open file `N` (Linux, with `/proc` mounted).
fn fd_paths() -> bool {
    cfg!(target_os = "linux") && Path::new("/proc/self/fd").is_dir()
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

impl Staging {
    /// The default: a sealed anonymous file where the platform has one, else a private
    /// directory in the system's temporary directory.
    pub(crate) fn new(dir: Option<&Path>) -> Result<Staging, LoadError> {
        #[cfg(target_os = "linux")]
        if dir.is_none() && fd_paths() {
            return Ok(Staging::Memfd);
        }
        let parent = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        PrivateDir::create(&parent).map(Staging::Dir)
    }

    /// The private directory, if staging uses one.
    pub(crate) fn dir(&self) -> Option<&Path> {
        match self {
            Staging::Dir(d) => Some(&d.path),
            #[cfg(target_os = "linux")]
            Staging::Memfd => None,
        }
    }

    /// Put `image` where `dlopen` can open it and nobody can change it.
    pub(crate) fn stage(&self, image: &[u8]) -> Result<Staged, LoadError> {
        match self {
            #[cfg(target_os = "linux")]
            Staging::Memfd => stage_memfd(image),
            Staging::Dir(dir) => dir.stage(image),
        }
    }
}

#[cfg(target_os = "linux")]
fn stage_memfd(image: &[u8]) -> Result<Staged, LoadError> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
    let io = |e: rustix::io::Errno| LoadError::Io {
        path: PathBuf::from("memfd:ferrotp-module"),
        source: e.into(),
    };
    let fd = memfd_create(
        "ferrotp-module",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(io)?;
    write_all(&fd, image).map_err(|source| LoadError::Io {
        path: PathBuf::from("memfd:ferrotp-module"),
        source,
    })?;
    fcntl_add_seals(
        &fd,
        SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
    )
    .map_err(io)?;
    Ok(Staged {
        path: fd_path(&fd),
        fd,
        entry: None,
    })
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A directory only this loader can enter, removed when the loader is dropped.
pub(crate) struct PrivateDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl PrivateDir {
    fn create(parent: &Path) -> Result<PrivateDir, LoadError> {
        use rustix::fs::{fstat, mkdirat, openat, FileType, CWD};
        let io = |path: &Path, e: rustix::io::Errno| LoadError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        };
        let parent_fd = openat(
            CWD,
            parent,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io(parent, e))?;
        let me = rustix::process::geteuid().as_raw();
        // Whoever may rename entries of the parent could swap our directory for theirs between
        // its creation and a `dlopen` by path: the parent must be ours or root's, and not
        // writable by others unless sticky (like /tmp, where only an entry's owner renames it).
        let st = fstat(&parent_fd).map_err(|e| io(parent, e))?;
        let others_may_rename = st.st_mode & 0o002 != 0 && st.st_mode & 0o1000 == 0;
        if (st.st_uid != me && st.st_uid != 0) || others_may_rename {
            return Err(LoadError::StagingNotPrivate {
                path: parent.to_path_buf(),
            });
        }
        for _ in 0..16 {
            let mut random = [0u8; 16];
            getrandom::getrandom(&mut random).map_err(|e| LoadError::Io {
                path: parent.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let name = format!(
                "ferrotp-staging-{}",
                random
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            let path = parent.join(&name);
            match mkdirat(&parent_fd, name.as_str(), Mode::RWXU) {
                Ok(()) => {}
                // Someone made this name first: never use a directory we did not create.
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(io(&path, e)),
            }
            let fd = openat(
                &parent_fd,
                name.as_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io(&path, e))?;
            let st = fstat(&fd).map_err(|e| io(&path, e))?;
            let private = FileType::from_raw_mode(st.st_mode) == FileType::Directory
                && st.st_uid == me
                && st.st_mode & 0o077 == 0;
            if !private {
                return Err(LoadError::StagingNotPrivate { path });
            }
            return Ok(PrivateDir { path, fd });
        }
        Err(LoadError::Io {
            path: parent.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "could not create a fresh private staging directory in 16 attempts",
            ),
        })
    }

    fn stage(&self, image: &[u8]) -> Result<Staged, LoadError> {
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        self.stage_as(format!("module-{n}.so"), image)
    }

    fn stage_as(&self, name: String, image: &[u8]) -> Result<Staged, LoadError> {
        let path = self.path.join(&name);
        let fd = rustix::fs::openat(
            &self.fd,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::RUSR | Mode::XUSR,
        )
        .map_err(|e| LoadError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        write_all(&fd, image).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let open_path = if fd_paths() { fd_path(&fd) } else { path };
        Ok(Staged {
            path: open_path,
            fd,
            entry: Some((self.path.clone(), name)),
        })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Staged files are removed as soon as their library is mapped; whatever is left (a
        // load cut short) goes with the directory. `remove_dir_all` does not follow links.
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(dir = %self.path.display(), error = %e, "could not remove the staging directory");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ferrotp-stage-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn read_back(staged: &Staged) -> Vec<u8> {
        std::fs::read(&staged.path).unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sealed_memfd_holds_exactly_the_admitted_bytes_and_refuses_writes() {
        let staging = Staging::new(None).unwrap();
        assert!(staging.dir().is_none(), "no directory on Linux by default");
        let staged = staging.stage(b"\x7fELF bytes").unwrap();
        assert_eq!(read_back(&staged), b"\x7fELF bytes");
        let write = std::fs::OpenOptions::new().write(true).open(&staged.path);
        let refused = match write {
            Err(_) => true,
            Ok(mut f) => std::io::Write::write_all(&mut f, b"evil").is_err(),
        };
        assert!(refused, "a sealed memfd takes no writes");
        assert_eq!(read_back(&staged), b"\x7fELF bytes");
    }

    #[test]
    fn a_private_directory_is_fresh_owned_and_closed_to_others() {
        let parent = scratch("fresh");
        let dir = PrivateDir::create(&parent).unwrap();
        let meta = std::fs::symlink_metadata(&dir.path).unwrap();
        assert!(meta.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(meta.permissions().mode() & 0o077, 0);
        }
        let path = dir.path.clone();
        drop(dir);
        assert!(!path.exists(), "removed with the loader");
        std::fs::remove_dir_all(parent).unwrap();
    }

    #[test]
    fn directories_made_in_advance_by_someone_else_are_never_used() {
        // Whatever an attacker pre-creates under the parent, the loader makes a new directory
        // of its own: the pre-created ones stay empty.
        let parent = scratch("planted");
        let planted = parent.join("ferrotp-modules-planted");
        std::fs::create_dir(&planted).unwrap();
        let dir = PrivateDir::create(&parent).unwrap();
        assert_ne!(dir.path, planted);
        let staged = dir.stage(b"bytes").unwrap();
        assert_eq!(read_back(&staged), b"bytes");
        assert_eq!(std::fs::read_dir(&planted).unwrap().count(), 0);
        staged.finish(true);
        assert_eq!(
            std::fs::read_dir(&dir.path).unwrap().count(),
            0,
            "the staged name is removed once mapped"
        );
        drop(dir);
        std::fs::remove_dir_all(parent).unwrap();
    }

    #[test]
    fn a_staged_file_is_created_exclusively_and_never_through_a_link() {
        let parent = scratch("exclusive");
        let dir = PrivateDir::create(&parent).unwrap();
        let target = parent.join("victim");
        std::fs::write(&target, b"untouched").unwrap();
        std::os::unix::fs::symlink(&target, dir.path.join("module-planted.so")).unwrap();
        assert!(matches!(
            dir.stage_as("module-planted.so".into(), b"x"),
            Err(LoadError::Io { .. })
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
        drop(dir);
        std::fs::remove_dir_all(parent).unwrap();
    }
}
