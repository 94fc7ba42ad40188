//! The magic cookie: the shared secret two nodes prove they know in the handshake.

use std::fmt;
use std::path::{Path, PathBuf};

/// A node's cookie. It is never printed: `Debug` and `Display` show `Cookie(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(String);

/// Why no cookie could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The cookie file could not be read or created.
    #[error("cookie file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The cookie file is readable by others than its owner; `erl` refuses such a file too.
    #[error("cookie file {0} must be accessible only by its owner (chmod 400)")]
    Permissions(PathBuf),
    /// There is no home directory to find `~/.erlang.cookie` in.
    #[error("no home directory for ~/.erlang.cookie: set the cookie explicitly")]
    NoHome,
    /// A cookie must be non-empty and printable ASCII.
    #[error("a cookie must be 1 to 255 printable ASCII characters")]
    Invalid,
}

impl Cookie {
    /// A cookie from its text.
    ///
    /// # Errors
    ///
    /// [`CookieError::Invalid`] unless it is 1 to 255 printable ASCII characters.
    pub fn new(text: impl Into<String>) -> Result<Cookie, CookieError> {
        let text = text.into();
        if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CookieError::Invalid);
        }
        Ok(Cookie(text))
    }

    /// `~/.erlang.cookie`, created as `erl` does (20 random capital letters, mode 0400) if it
    /// does not exist.
    ///
    /// # Errors
    ///
    /// See [`CookieError`].
    pub fn from_home() -> Result<Cookie, CookieError> {
        let home = std::env::var_os("HOME").ok_or(CookieError::NoHome)?;
        Cookie::from_file(Path::new(&home).join(".erlang.cookie"))
    }

    /// The cookie in `path` (its first line), creating the file as [`from_home`](Self::from_home)
    /// does if it does not exist.
    ///
    /// # Errors
    ///
    /// See [`CookieError`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Cookie, CookieError> {
        let path = path.as_ref();
        let file_err = |source| CookieError::File {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(path)
                        .map_err(file_err)?
                        .permissions()
                        .mode();
                    if mode & 0o077 != 0 {
                        return Err(CookieError::Permissions(path.to_owned()));
                    }
                }
                Cookie::new(text.lines().next().unwrap_or("").trim())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 20];
                getrandom::getrandom(&mut bytes)
                    .map_err(|e| file_err(std::io::Error::other(e.to_string())))?;
                let text: String = bytes.iter().map(|b| char::from(b'A' + b % 26)).collect();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o400);
                }
                use std::io::Write;
                options
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()))
                    .map_err(file_err)?;
                Cookie::new(text)
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// The secret itself, for the handshake's digest.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

impl fmt::Display for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}
