//! Which files the loader agrees to run. A hot module is native code with the host's full
//! rights: loading one is running it. So the loader takes modules only from directories it was
//! told to trust, refuses a file or directory that anyone may write (anyone could have swapped
//! the code), and, if configured, only files whose SHA-256 is allowlisted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::LoadError;

/// The trust rules of a [`Loader`](crate::Loader).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    dirs: Vec<PathBuf>,
    allowlist: Option<HashSet<String>>,
}

impl TrustPolicy {
    /// Trust modules inside `dir` (and its subdirectories).
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        self.dirs.push(std::fs::canonicalize(&dir).unwrap_or(dir));
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

    /// Check `path` and return its canonical path, SHA-256 (hex) and content. The content is
    /// what gets loaded: checking one read of the file and loading another would let the file
    /// change in between.
    pub(crate) fn admit(&self, path: &Path) -> Result<(PathBuf, String, Vec<u8>), LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let canonical = std::fs::canonicalize(path).map_err(io)?;
        if !self.dirs.iter().any(|d| canonical.starts_with(d)) {
            return Err(LoadError::NotInAllowedDir {
                path: canonical,
                allowed: if self.dirs.is_empty() {
                    "none configured".into()
                } else {
                    self.dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
        refuse_world_writable(&canonical)?;
        if let Some(dir) = canonical.parent() {
            refuse_world_writable(dir)?;
        }
        let bytes = std::fs::read(&canonical).map_err(io)?;
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some(allow) = &self.allowlist {
            if !allow.contains(&sha256) {
                return Err(LoadError::NotAllowlisted {
                    path: canonical,
                    sha256,
                });
            }
        }
        Ok((canonical, sha256, bytes))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
fn refuse_world_writable(path: &Path) -> Result<(), LoadError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode();
    // A sticky world-writable directory (like /tmp) still lets anyone add files, which is
    // exactly what must not happen to a module directory.
    if mode & 0o002 != 0 {
        return Err(LoadError::WorldWritable {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_world_writable(_: &Path) -> Result<(), LoadError> {
    Ok(())
}
